#!/usr/bin/env bash
# A single-node Slurm on loopback for slurm_test.go, from Debian's packages
# (munge, slurmctld, slurmd). Called by prepare.sh as root after the
# packages are installed. Idempotent: a daemon already running is kept, the
# config is rewritten only when it changed (and then the daemons are told),
# and it returns once `sinfo` shows the node idle. It leaves the daemons
# running, as a cluster's would be.
set -euo pipefail

NODE=$(hostname -s)
CONF=/etc/slurm/slurm.conf
LOG=/var/log/slurm

# The node's real CPUs and memory, as slurmd sees them.
hw=$(slurmd -C | head -1 | grep -o 'CPUs=.*')

# proctrack/linuxproc follows the step's process tree through /proc, which
# works on any cgroup layout: this host's is hybrid (v1 controllers, v2
# without them), where proctrack/cgroup and task/cgroup cannot be set up.
# husk's sandbox stays a descendant of the step, so the tree holds it.
want=$(cat <<CONF
# Written by husk's integration/slurm.sh: one node on loopback.
ClusterName=husk-test
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
)

changed=
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$want" ]; then
	printf '%s\n' "$want" >"$CONF"
	changed=1
fi

# oci.conf for `srun --container=BUNDLE` (slurm_test.go): Slurm 22.05's
# slurmstepd runs each line with /bin/sh -c, as the job's user, with %r the
# bundle's root filesystem (BUNDLE/rootfs): the husk it runs is the one the
# test puts in the bundle (BUNDLE/husk), its state in BUNDLE/oci-state.
# RunTimeRun, not RunTimeCreate and RunTimeStart: 22.05 reads create's
# output until EOF, which the created container holds as its stdio (it
# would wait forever for a start that comes after), and in that mode the
# step's output and exit code never reach srun. slurmstepd reads oci.conf
# at each container step: no daemon needs telling.
OCI=/etc/slurm/oci.conf
want_oci=$(cat <<'CONF'
# Written by husk's integration/slurm.sh: srun --container runs husk oci.
RunTimeQuery="%r/../husk oci --root=%r/../oci-state state %n.%u.%j.%s.%t"
RunTimeRun="%r/../husk oci --root=%r/../oci-state run %n.%u.%j.%s.%t -b %b"
RunTimeKill="%r/../husk oci --root=%r/../oci-state kill -a %n.%u.%j.%s.%t"
RunTimeDelete="%r/../husk oci --root=%r/../oci-state delete --force %n.%u.%j.%s.%t"
CONF
)
if [ ! -f "$OCI" ] || [ "$(cat "$OCI")" != "$want_oci" ]; then
	printf '%s\n' "$want_oci" >"$OCI"
fi
install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /run/slurm "$LOG"
install -d -o munge -g munge -m 0755 /run/munge

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# fail NAME LOGFILE: says why a daemon did not start, and stops.
fail() {
	echo "slurm.sh: $1 did not start; the end of $2:" >&2
	tail -n 15 "$2" >&2 2>/dev/null || true
	exit 1
}

if ! running /run/munge/munged.pid; then
	# Debian's package made the key; the daemon runs as munge.
	runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid ||
		fail munged /var/log/munge/munged.log
fi
if [ -n "$changed" ] && running /run/slurm/slurmctld.pid; then
	scontrol reconfigure || true
fi
if ! running /run/slurm/slurmctld.pid; then
	slurmctld || fail slurmctld "$LOG/slurmctld.log"
fi
# slurmd loads its MPI plugins at start, and Debian's mpi/pmix dlopens
# libpmix.so, which only libpmix-dev ships (slurm-wlm does not depend on
# it): a slurmd started before that package was installed has no PMIx.
pmix_new=
if running /run/slurm/slurmd.pid &&
	[ -n "$(find /var/lib/dpkg/info -maxdepth 1 -name 'libpmix-dev*.list' -newer /run/slurm/slurmd.pid)" ]; then
	pmix_new=1
fi
if { [ -n "$changed" ] || [ -n "$pmix_new" ]; } && running /run/slurm/slurmd.pid; then
	# slurmd reads its node's config only at start.
	kill "$(cat /run/slurm/slurmd.pid)"
	for _ in $(seq 1 50); do
		running /run/slurm/slurmd.pid || break
		sleep 0.2
	done
fi
if ! running /run/slurm/slurmd.pid; then
	slurmd || fail slurmd "$LOG/slurmd.log"
fi

# Wait until the node takes jobs. A node left down or drained by an
# earlier run is brought back.
for _ in $(seq 1 60); do
	state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
	case "$state" in
	idle | mixed | allocated | completing) exit 0 ;; # completing: a job still ending takes nothing from the next
	down* | drain* | fail*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
	esac
	sleep 0.5
done
echo "slurm.sh: node $NODE is not idle after 30 s (sinfo says: ${state:-nothing}); see $LOG/slurmctld.log and $LOG/slurmd.log" >&2
exit 1
