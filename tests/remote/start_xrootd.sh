#!/usr/bin/env bash
# Start an XRootD server on 127.0.0.1 for the remote-storage tests (tests/remote/).
#
#   bash tests/remote/start_xrootd.sh     # install (once), configure, start, check
#   bash tests/remote/stop_servers.sh     # stop exactly the servers the start scripts started
#
# Prints at the end what the tests read: export SUPERRUNS_TEST_XROOTD=root://127.0.0.1:PORT/
# The server exports $SUPERRUNS_XROOTD_DIR/export (default /tmp/superruns-xrootd/export) as its
# root: root://127.0.0.1:PORT//some/path is that folder's some/path. No authentication (a test
# server bound to the loopback address only). Needs root for apt-get (Debian's xrootd-server
# 5.5) the first time; the server itself runs as `nobody` (xrootd refuses to run as root).
# Idempotent: a server this script started that still answers is kept.
set -euo pipefail

DIR=${SUPERRUNS_XROOTD_DIR:-/tmp/superruns-xrootd}
PORT=${SUPERRUNS_XROOTD_PORT:-1094}
URL="root://127.0.0.1:$PORT/"

log() { echo "start_xrootd: $*" >&2; }
die() { log "ERROR: $*"; tail -n 30 "$DIR/log/xrootd.log" "$DIR/xrootd.out" >&2 2>/dev/null || true; exit 1; }
alive() { [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; }
answers() { timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }

if ! command -v xrootd >/dev/null; then
    [ "$(id -u)" = 0 ] || die "xrootd is not installed and this is not root: apt-get install xrootd-server"
    log "installing xrootd-server (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || apt-get update
    apt-get install -y -qq --no-install-recommends xrootd-server >/dev/null
fi

if alive && answers; then
    log "already running ($URL)"
    echo "export SUPERRUNS_TEST_XROOTD=$URL"
    exit 0
fi
if [ -f "$DIR/pid" ]; then . "$(dirname "$0")/../support/stop_pid.sh"; stop_pid xrootd "$DIR/pid" >/dev/null 2>&1 || true; fi

mkdir -p "$DIR/export" "$DIR/admin" "$DIR/run" "$DIR/log"
USER_ARGS=()
if [ "$(id -u)" = 0 ]; then
    chown -R nobody:nogroup "$DIR/export" "$DIR/admin" "$DIR/run" "$DIR/log"
    USER_ARGS=(-R nobody)
fi
cat >"$DIR/xrootd.cfg" <<CFG
# Written by tests/remote/start_xrootd.sh: a test server on the loopback address. Not for production.
xrd.port $PORT
xrd.network nodnr
all.export / nolock
all.adminpath $DIR/admin
all.pidpath $DIR/run
oss.localroot $DIR/export
xrd.allow host localhost
CFG
# In the foreground of its own session, its PID recorded for stop_servers.sh. The clients are the
# tests on this machine, which connect to 127.0.0.1 (xrd.allow below refuses other hosts).
setsid xrootd -c "$DIR/xrootd.cfg" -l "$DIR/log/xrootd.log" "${USER_ARGS[@]}" \
    </dev/null >>"$DIR/xrootd.out" 2>&1 &
echo $! >"$DIR/pid"
for _ in $(seq 100); do answers && break; alive || die "xrootd exited"; sleep 0.1; done
answers || die "xrootd does not answer on 127.0.0.1:$PORT"
log "up: $URL exports $DIR/export"
echo "export SUPERRUNS_TEST_XROOTD=$URL"
