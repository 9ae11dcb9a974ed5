#!/usr/bin/env bash
# A real Slurm on this machine for the tests: a controller and one node on localhost, CPU only, no accounting, no
# munge (auth/none). `scripts/slurm-local.sh start DIR` writes DIR/slurm.conf, starts both daemons and waits until the
# node is idle; `stop DIR` ends them. Use it with SLURM_CONF=DIR/slurm.conf. Needs root and Debian's slurm-wlm.
set -euo pipefail
action=${1:?usage: slurm-local.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: slurm-local.sh start|stop DIR}" && cd "$2" && pwd)
conf="$dir/slurm.conf"

stop() {
  for daemon in slurmd slurmctld; do
    [ -f "$dir/$daemon.pid" ] && kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true
  done
}

if [ "$action" = stop ]; then stop; exit 0; fi
command -v slurmctld >/dev/null || { echo "slurm-local: slurmctld not found; install Debian's slurm-wlm" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "slurm-local: the daemons run as root here; run as root" >&2; exit 3; }

host=$(hostname -s)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat > "$conf" <<EOF
ClusterName=pladder-test
SlurmctldHost=$host
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURM_LOCAL_PORT:-16817}
SlurmdPort=$(( ${SLURM_LOCAL_PORT:-16817} + 1 ))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
stop
export SLURM_CONF="$conf"
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then echo "$conf"; exit 0; fi
  sleep 0.5
done
echo "slurm-local: the node did not become idle within 30 s; see $dir/log" >&2
exit 1
