# stop_pid LABEL PIDFILE: stop the process whose PID a start script recorded in PIDFILE (TERM,
# up to 5 s, then KILL) and remove the file. Sourced by the test servers' stop scripts.
stop_pid() {
    local label=$1 file=$2 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        echo "stopped $label ($pid)" >&2
    fi
    rm -f "$file"
}
