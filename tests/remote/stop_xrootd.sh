#!/usr/bin/env bash
# Stop the XRootD server that start_xrootd.sh started (exactly the PID it recorded: TERM, then
# KILL). Keeps $DIR (exported files, logs) for a look after a failure.
set -uo pipefail
DIR=${SUPERRUNS_XROOTD_DIR:-/tmp/superruns-xrootd}
f=$DIR/pid
[ -f "$f" ] || exit 0
pid=$(cat "$f")
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    echo "stop_xrootd: stopped xrootd ($pid)" >&2
fi
rm -f "$f"
exit 0
