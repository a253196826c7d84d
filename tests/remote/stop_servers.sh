#!/usr/bin/env bash
# Stop the test servers that start_xrootd.sh and start_s3.sh started: exactly the PIDs they
# recorded (TERM, then KILL). Keeps their folders (exported files, logs) for a look after a failure.
set -uo pipefail
. "$(dirname "$0")/../support/stop_pid.sh"
stop_pid xrootd "${SUPERRUNS_XROOTD_DIR:-/tmp/superruns-xrootd}/pid"
stop_pid moto "${SUPERRUNS_S3_DIR:-/tmp/superruns-s3}/pid"
exit 0
