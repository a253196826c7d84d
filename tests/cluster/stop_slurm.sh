#!/usr/bin/env bash
# Stop the test SLURM that start_slurm.sh started: kill exactly the daemons whose PIDs it
# recorded (slurmd, slurmctld, munged), first with TERM, then with KILL. Jobs still on the
# cluster are cancelled first (scancel) and given a few seconds to end, so that no slurmstepd
# outlives its slurmd. Removes the /etc/slurm/slurm.conf symlink it made; keeps $DIR (config,
# logs) for a look after a failure.
set -uo pipefail

DIR=${SUPERRUNS_SLURM_DIR:-/tmp/superruns-slurm}
[ -d "$DIR/pids" ] || exit 0

# Jobs first, while slurmctld still answers (quietly: it may be gone already).
if [ -f "$DIR/slurm.conf" ] && [ -f "$DIR/pids/slurmctld" ]; then
    export SLURM_CONF=$DIR/slurm.conf
    if timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null; then
        for _ in $(seq 30); do
            [ -z "$(timeout 5 squeue -h -t RUNNING,COMPLETING,PENDING -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
fi

for name in slurmd slurmctld munged; do
    f=$DIR/pids/$name
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        echo "stop_slurm: stopped $name ($pid)" >&2
    fi
    rm -f "$f"
done
# The symlink at the default config path, if it is ours.
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
exit 0
