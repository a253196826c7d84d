#!/usr/bin/env bash
# Start a local S3 endpoint (moto's server, from the test extra) on 127.0.0.1 for the
# remote-storage tests (tests/remote/).
#
#   bash tests/remote/start_s3.sh        # start, check
#   bash tests/remote/stop_servers.sh    # stop exactly the servers the start scripts started
#
# Prints at the end what the tests read: export SUPERRUNS_TEST_S3=http://127.0.0.1:PORT
# moto keeps its buckets in memory (gone when it stops); any access key is accepted (the tests
# use test/test). The server runs from the environment of $SUPERRUNS_PYTHON (default
# .venv/bin/python of the repository, where `make test EXTRAS=...,remote` installed moto[server]).
# Idempotent: a server this script started that still answers is kept.
set -euo pipefail

DIR=${SUPERRUNS_S3_DIR:-/tmp/superruns-s3}
PORT=${SUPERRUNS_S3_PORT:-9000}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=${SUPERRUNS_PYTHON:-$REPO/.venv/bin/python}
URL="http://127.0.0.1:$PORT"

log() { echo "start_s3: $*" >&2; }
die() { log "ERROR: $*"; tail -n 30 "$DIR/moto.log" >&2 2>/dev/null || true; exit 1; }
alive() { [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; }
answers() { timeout 5 "$PY" -c "import urllib.request as u; u.urlopen('$URL/moto-api/', timeout=4)" 2>/dev/null; }

"$PY" -c "import moto.server" 2>/dev/null || die "$PY has no moto[server]: pip install 'moto[server]' (the test extra)"
if alive && answers; then
    log "already running ($URL)"
    echo "export SUPERRUNS_TEST_S3=$URL"
    exit 0
fi
if [ -f "$DIR/pid" ]; then . "$(dirname "$0")/../support/stop_pid.sh"; stop_pid moto "$DIR/pid" >/dev/null 2>&1 || true; fi
mkdir -p "$DIR"
setsid "$PY" -m moto.server -H 127.0.0.1 -p "$PORT" </dev/null >>"$DIR/moto.log" 2>&1 &
echo $! >"$DIR/pid"
for _ in $(seq 100); do answers && break; alive || die "moto exited"; sleep 0.2; done
answers || die "moto does not answer on $URL"
log "up: $URL (moto $("$PY" -c 'import moto; print(moto.__version__)'))"
echo "export SUPERRUNS_TEST_S3=$URL"
