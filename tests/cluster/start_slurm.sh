#!/usr/bin/env bash
# Start a SLURM test cluster on this machine for the cluster tests (tests/cluster/test_cluster.py):
# a controller and two compute nodes, each in a network namespace of its own.
#
#   bash tests/cluster/start_slurm.sh        # install (once), configure, start, check
#   export SLURM_CONF=/tmp/superruns-slurm/slurm.conf    # what it prints at the end
#   bash tests/cluster/stop_slurm.sh         # kill every daemon this script started, remove the namespaces
#
# Needs root (apt-get install, ip netns, munged, slurmd). Idempotent: packages already present
# are not installed again, and a cluster this script already started that still answers is kept.
# Everything it writes (config, munge key and socket, state, spool, logs, PIDs) is under
# $SUPERRUNS_SLURM_DIR (default /tmp/superruns-slurm).
#
# The cluster: a bridge ${NS}-br (10.77.0.1/24 here, the "login node": Snakemake submits from
# this namespace) and three network namespaces on it: ${NS}-ctl (slurmctld, 10.77.0.10) and
# ${NS}-node1, ${NS}-node2 (slurmd, 10.77.0.11 and .12), each also in a UTS namespace of its own
# with its own hostname (sr-ctl, sr-node1, sr-node2: a job's `hostname`, and the host recorded in
# the provenance of the files it writes, is its node's) and in a mount namespace where
# /etc/slurm is $DIR/etc: the SLURM executor plugin's job step (the `srun` inside each job) drops
# every SLURM_* variable, SLURM_CONF included, so on the nodes the default path must hold the
# config; nothing outside the namespaces is touched (no /etc/slurm/slurm.conf of the machine).
# Nodes of this machine's CPUs (nproc) and 40 % of its memory each, one partition `debug`,
# munge authentication (one munged; its socket is a file, reached from every namespace), no
# accounting database (so `sacct` does not work: Snakemake's slurm plugin must use
# `--slurm-status-command squeue`, and MinJobAge keeps finished jobs visible to squeue), no
# cgroups (proctrack/linuxproc, task/none). Jobs may run as root (DisableRootJobs=NO).
# The addresses are private ones inside namespaces this script makes (SUPERRUNS_SLURM_NET
# changes the /24); nothing is sent anywhere else.
set -euo pipefail

DIR=${SUPERRUNS_SLURM_DIR:-/tmp/superruns-slurm}
CTLD_PORT=${SUPERRUNS_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SUPERRUNS_SLURMD_PORT:-6818}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF
NS=${SUPERRUNS_SLURM_NS:-superruns}
NET=${SUPERRUNS_SLURM_NET:-10.77.0}
NODES=(sr-node1 sr-node2)

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
if alive munged && alive slurmctld && alive sr-node1 && alive sr-node2 \
    && [ "$(timeout 10 sinfo -h -N -o %T 2>/dev/null | grep -cxE 'idle|mixed|allocated|completing')" = 2 ]; then
    log "already running (SLURM_CONF=$CONF)"
    echo "export SLURM_CONF=$CONF"
    exit 0
fi
# Leftovers of an earlier start (half up, or the machine kept its /tmp): stop them first.
if [ -d "$DIR/pids" ]; then
    bash "$(dirname "$0")/stop_slurm.sh" >/dev/null 2>&1 || true
fi

mkdir -p "$DIR"/{munge,state,spool/sr-node1,spool/sr-node2,log,pids,etc}
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

# 4. The network: a bridge here and a namespace per host on it (veth pairs).
ip link show "$NS-br" >/dev/null 2>&1 || ip link add "$NS-br" type bridge
ip addr replace "$NET.1/24" dev "$NS-br"
ip link set "$NS-br" up
: >"$DIR/netns"
host_ns() {   # host_ns NAME LAST_OCTET
    local ns=$NS-${1#sr-} addr=$NET.$2
    ip netns add "$ns" 2>/dev/null || true
    echo "$ns" >>"$DIR/netns"
    ip link del "$NS-v$2" 2>/dev/null || true
    ip link add "$NS-v$2" type veth peer name eth0 netns "$ns"
    ip link set "$NS-v$2" master "$NS-br" up
    ip -n "$ns" addr replace "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
}
host_ns sr-ctl 10
host_ns sr-node1 11
host_ns sr-node2 12

# 5. slurm.conf; the nodes see it at /etc/slurm/slurm.conf (their mount namespace: see the top).
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
# 40 % of the machine's memory per node (a node whose RealMemory exceeds what slurmd finds is
# drained as invalid; both nodes share this machine's memory).
REAL_MB=$((MEM_MB * 2 / 5))
cat >"$CONF" <<CONF_END
# Written by tests/cluster/start_slurm.sh: a test cluster in network namespaces. Not for production.
ClusterName=superruns-test
SlurmctldHost=sr-ctl($NET.10)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
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
NodeName=sr-node1 NodeAddr=$NET.11 NodeHostname=sr-node1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
NodeName=sr-node2 NodeAddr=$NET.12 NodeHostname=sr-node2 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=sr-node1,sr-node2 Default=YES MaxTime=INFINITE State=UP
CONF_END
cp "$CONF" "$DIR/etc/slurm.conf"
mkdir -p /etc/slurm      # the mount point of the namespaces' /etc/slurm (nothing is written here)

# 6. Daemons, each in its host's namespaces, in the foreground of its own session, PIDs
# recorded for stop_slurm.sh (nsenter, unshare and sh exec: the PID is the daemon's). Not `ip netns
# exec`: it mounts a sysfs of its own, without /sys/fs/cgroup, which slurmd needs.
# Name lookups inside the namespaces: the cluster's own names in a hosts file, and no name
# server (none is reachable from there). Without them a lookup of the host's own name waits
# for DNS timeouts: importing the htcondor client (which Snakemake does for every installed
# executor plugin) took 114 s on a node, in every batch job and job step.
cat >"$DIR/etc-hosts" <<HOSTS_END
127.0.0.1 localhost
$NET.1 $(hostname)
$NET.10 sr-ctl
$NET.11 sr-node1
$NET.12 sr-node2
HOSTS_END
printf 'options timeout:1 attempts:1\n' >"$DIR/etc-resolv.conf"
in_host() {   # in_host NAME LOG COMMAND...: start COMMAND in NAME's network, UTS and mount namespaces
    local name=$1 out=$2
    shift 2
    setsid nsenter --net="/run/netns/$NS-${name#sr-}" unshare --uts --mount --propagation private \
        sh -c 'hostname "$0" && mount --bind "$1" /etc/slurm && mount --bind "$2" /etc/hosts \
               && mount --bind "$3" /etc/resolv.conf && shift 3 && exec "$@"' \
        "$name" "$DIR/etc" "$DIR/etc-hosts" "$DIR/etc-resolv.conf" "$@" </dev/null >>"$out" 2>&1 &
    echo $! >"$DIR/pids/$name"
}
in_host sr-ctl "$DIR/log/slurmctld.out" slurmctld -D -c -f "$CONF"
mv "$DIR/pids/sr-ctl" "$DIR/pids/slurmctld"
for _ in $(seq 100); do timeout 5 scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
timeout 5 scontrol ping 2>/dev/null | grep -q UP || die "slurmctld does not answer at $NET.10"
for node in "${NODES[@]}"; do
    in_host "$node" "$DIR/log/$node.out" slurmd -D -N "$node" -f "$CONF"
done

# 7. Wait for both nodes to be idle, then run a job step on each.
idle=0
for _ in $(seq 120); do
    idle=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | grep -cx idle || true)
    [ "$idle" = 2 ] && break
    for node in "${NODES[@]}"; do alive "$node" || die "slurmd of $node exited"; done
    sleep 0.5
done
[ "$idle" = 2 ] || die "not both nodes idle: $(sinfo -N 2>&1)"
for node in "${NODES[@]}"; do
    out=$(timeout 60 srun -N1 -n1 -w "$node" --time=1 hostname 2>&1) || die "srun hostname on $node failed: $out"
    [ "$out" = "$node" ] || die "srun -w $node hostname printed '$out'"
done
log "up: nodes ${NODES[*]} ($CPUS CPUs, ${REAL_MB} MB each), controller sr-ctl ($NET.10), partition debug"
echo "export SLURM_CONF=$CONF"
