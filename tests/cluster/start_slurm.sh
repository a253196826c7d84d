#!/usr/bin/env bash
# Start a one-node SLURM on this machine for the cluster tests (tests/test_cluster.py).
#
#   bash tests/cluster/start_slurm.sh        # install (once), configure, start, check
#   export SLURM_CONF=/tmp/superruns-slurm/slurm.conf    # what it prints at the end
#   bash tests/cluster/stop_slurm.sh         # kill every daemon this script started
#
# Needs root (apt-get install, munged, slurmd). Idempotent: packages already present are not
# installed again, and a cluster this script already started that still answers is kept.
# Everything it writes (config, munge key and socket, state, spool, logs, PIDs) is under
# $SUPERRUNS_SLURM_DIR (default /tmp/superruns-slurm), except one symlink:
# /etc/slurm/slurm.conf -> $SUPERRUNS_SLURM_DIR/slurm.conf (removed by stop_slurm.sh). SLURM
# clients read SLURM_CONF or else that path, and the SLURM executor plugin's job step (the
# `srun` inside each job) drops every SLURM_* variable, SLURM_CONF included, so the default path
# must hold the config. An /etc/slurm/slurm.conf that is not our symlink is never touched: the
# script stops with an error instead.
#
# The cluster: one node named after this host (address 127.0.0.1) with this machine's CPUs
# (nproc) and 95 % of its memory, one partition `debug`, munge authentication, no accounting database
# (so `sacct` does not work: Snakemake's slurm plugin must use `--slurm-status-command squeue`,
# and MinJobAge keeps finished jobs visible to squeue), no cgroups (proctrack/linuxproc,
# task/none). Jobs may run as root (DisableRootJobs=NO, SLURM's default).
set -euo pipefail

DIR=${SUPERRUNS_SLURM_DIR:-/tmp/superruns-slurm}
CTLD_PORT=${SUPERRUNS_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SUPERRUNS_SLURMD_PORT:-6818}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

log() { echo "start_slurm: $*" >&2; }
die() { log "ERROR: $*"; for f in "$DIR"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done; exit 1; }

alive() { [ -f "$DIR/pids/$1" ] && kill -0 "$(cat "$DIR/pids/$1")" 2>/dev/null; }

if [ "$(id -u)" != 0 ]; then
    die "must run as root (installs packages, starts munged and slurmd)"
fi

# 1. Packages (only what is missing; --no-install-recommends keeps it to ~10 s).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || apt-get update
    # policy-rc.d 101: the packages' init scripts must not start daemons with /etc configs.
    restore_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        restore_policy=1
    fi
    apt-get install -y -qq --no-install-recommends slurmd slurmctld slurm-client munge >/dev/null
    if [ -n "$restore_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# 2. Already up (started by us, still answering, maybe running jobs)? Then nothing to do.
if alive munged && alive slurmctld && alive slurmd \
    && timeout 10 sinfo -h -N -o %T 2>/dev/null | grep -qxE 'idle|mixed|allocated|completing'; then
    log "already running (SLURM_CONF=$CONF)"
    echo "export SLURM_CONF=$CONF"
    exit 0
fi
# Leftovers of an earlier start (half up, or the machine kept its /tmp): stop them first.
if [ -d "$DIR/pids" ]; then
    bash "$(dirname "$0")/stop_slurm.sh" >/dev/null 2>&1 || true
fi

mkdir -p "$DIR"/{munge,state,spool,log,pids}
chmod 755 "$DIR"
chmod 700 "$DIR/munge"

# 3. munge: a fresh key and a private socket (a system munged, if any, is left alone).
MUNGE_SOCKET=$DIR/munge/munge.socket
if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$DIR/munge/munge.key"
# --force: munged refuses to run as root otherwise; the socket directory is ours (0700).
setsid munged --foreground --force --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed" </dev/null >>"$DIR/log/munged.out" 2>&1 &
echo $! >"$DIR/pids/munged"
for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
[ -S "$MUNGE_SOCKET" ] || die "munged did not create its socket"
munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null \
    || die "munge round trip failed"

# 4. slurm.conf for this one node, and the symlink at the default path (see the top).
ETC_CONF=/etc/slurm/slurm.conf
if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
    [ "$(readlink "$ETC_CONF")" = "$CONF" ] \
        || die "$ETC_CONF exists and is not ours (a real SLURM here?): not touching it"
fi
mkdir -p /etc/slurm
ln -sfn "$CONF" "$ETC_CONF"
NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
# Leave 5 % (at least 512 MB) to the system: a node whose RealMemory exceeds what slurmd finds
# is drained as invalid.
REAL_MB=$((MEM_MB - (MEM_MB / 20 > 512 ? MEM_MB / 20 : 512)))
cat >"$CONF" <<EOF
# Written by tests/cluster/start_slurm.sh: a one-node test cluster. Not for production.
ClusterName=superruns-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups, no accounting database: sacct does not work, squeue shows finished jobs for
# MinJobAge seconds (Snakemake's plugin needs >= 3 x its first status-check delay for squeue).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
MpiDefault=none
SwitchType=switch/none
LaunchParameters=use_interactive_step
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
DisableRootJobs=NO
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

# 5. Daemons, in the foreground of their own sessions, PIDs recorded for stop_slurm.sh.
setsid slurmctld -D -c -f "$CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 &
echo $! >"$DIR/pids/slurmctld"
for _ in $(seq 100); do timeout 5 scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
timeout 5 scontrol ping 2>/dev/null | grep -q UP || die "slurmctld does not answer"
setsid slurmd -D -f "$CONF" </dev/null >>"$DIR/log/slurmd.out" 2>&1 &
echo $! >"$DIR/pids/slurmd"

# 6. Wait for the node to be idle, then run a job step.
state=
for _ in $(seq 120); do
    state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -n1 || true)
    [ "$state" = idle ] && break
    alive slurmd || die "slurmd exited"
    sleep 0.5
done
[ "$state" = idle ] || die "node $NODE is '$state', not idle (see scontrol show node $NODE)"
out=$(timeout 60 srun -N1 -n1 --time=1 hostname 2>&1) || die "srun hostname failed: $out"
[ "$out" = "$(hostname)" ] || die "srun hostname printed '$out'"
log "up: node $NODE ($CPUS CPUs, ${REAL_MB} MB), partition debug; srun hostname -> $out"
echo "export SLURM_CONF=$CONF"
