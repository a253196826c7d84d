#!/usr/bin/env bash
# Stop the test SLURM that start_slurm.sh started: kill exactly the daemons whose PIDs it
# recorded (the two slurmd, slurmctld, munged), first with TERM, then with KILL. Jobs still on
# the cluster are cancelled first (scancel) and given a few seconds to end, so that no slurmstepd
# outlives its slurmd. Then removes the network namespaces, veth pairs and bridge it made.
# Keeps $DIR (config, logs) for a look after a failure.
set -uo pipefail

DIR=${SUPERRUNS_SLURM_DIR:-/tmp/superruns-slurm}
NS=${SUPERRUNS_SLURM_NS:-superruns}
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

. "$(dirname "$0")/../support/stop_pid.sh"
for name in sr-node1 sr-node2 slurmd slurmctld munged; do
    stop_pid "$name" "$DIR/pids/$name"
done
# The namespaces this script's start made (their veth ends go with them), and the bridge.
if [ -f "$DIR/netns" ]; then
    while read -r ns; do
        [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    done <"$DIR/netns"
    rm -f "$DIR/netns"
    ip link del "$NS-br" 2>/dev/null
fi
# The symlink at the default config path that the one-node start_slurm.sh of before made.
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
exit 0
