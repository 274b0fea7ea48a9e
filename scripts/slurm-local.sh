#!/usr/bin/env bash
# slurm-local.sh - bring up / tear down a throw-away one-node Slurm cluster on
# this machine (Debian, root, no systemd), for tests that submit sbatch jobs.
#
#   slurm-local.sh start STATE_DIR  install packages if missing, start munged,
#                                   slurmctld, slurmd; wait until the node is
#                                   idle; print "export SLURM_CONF=..." on stdout
#   slurm-local.sh stop  STATE_DIR  cancel jobs, stop what start started
#   slurm-local.sh install STATE_DIR  only install slurm-wlm and munge when missing
#
# Config, state, spool, logs and pid files all live in STATE_DIR.  The client
# commands (sbatch, squeue, sinfo, scancel) need SLURM_CONF as well, so use:
#   eval "$(slurm-local.sh start "$dir")"
# Knobs: SLURM_LOCAL_WAIT (seconds to wait for an idle node, default 60),
#        SLURM_LOCAL_CTLD_PORT / SLURM_LOCAL_SLURMD_PORT (default 6817 / 6818).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"          # slurmctld, slurmd, munged live in sbin

log() { echo "slurm-local: $*" >&2; }        # chatter -> stderr; stdout = export line
die() { log "ERROR: $*"; exit 1; }
usage() { die "usage: $0 start|stop STATE_DIR"; }

[ $# -eq 2 ] || usage
CMD=$1
[ "$CMD" = stop ] && [ ! -d "$2" ] && { log "nothing to stop ($2 does not exist)"; exit 0; }
mkdir -p "$2" || die "cannot create state dir $2"
STATE=$(cd "$2" && pwd)                      # slurm.conf needs absolute paths
CONF=$STATE/slurm.conf
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-6818}

# True if process $1 exists and is not a zombie (PID 1 here reaps exited
# daemons lazily, so "kill -0" alone would still see dead daemons for a while).
running() { [ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }
# True if the pid in pid file $1 is running and its command name is $2.
pid_alive() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    running "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
daemons_alive() { pid_alive "$STATE/run/slurmctld.pid" slurmctld && pid_alive "$STATE/run/slurmd.pid" slurmd; }

# Stop the daemon whose pid file is $1 (command name $2): TERM, wait, KILL.
stop_pidfile() {
    local pidf=$1 name=$2 pid _
    if ! pid_alive "$pidf" "$name"; then rm -f "$pidf"; return 0; fi
    pid=$(cat "$pidf")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.1; done     # <= 10 s
    if running "$pid"; then
        log "$name ignored TERM, sending KILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5
    fi
    rm -f "$pidf"
}

# True if something listens on 127.0.0.1:$1 (bash /dev/tcp, no extra tools).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_logs() {
    local f
    for f in "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log"; do
        if [ -f "$f" ]; then log "--- tail of $f ---"; tail -n 25 "$f" >&2; fi
    done
}

have_all() { command -v sbatch && command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null

install_packages() {
    have_all && return 0
    log "installing slurm-wlm and munge via apt-get (first run only; log: $STATE/apt.log)"
    # Without systemd, the packages' postinst would try to start the daemons
    # via init.d (with the absent default config): forbid that.  Docker-style
    # images usually ship this policy-rc.d already; remove it only if we made it.
    local made_policy=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Try with the current package lists first; apt-get update only if that fails.
    { apt-get install -y -q slurm-wlm munge || { apt-get update -q && apt-get install -y -q slurm-wlm munge; }
    } >"$STATE/apt.log" 2>&1 || rc=$?
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    [ "$rc" = 0 ] || { tail -n 20 "$STATE/apt.log" >&2; die "apt-get install failed (rc $rc)"; }
    have_all || die "slurm/munge binaries still missing after install"
}

start_munge() {
    # Already running (ours, the system's or another cluster's)?  Round-trip test.
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    if [ ! -s /etc/munge/munge.key ]; then       # the munge postinst normally makes one
        log "creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key --force ||
            dd if=/dev/urandom bs=1024 count=1 of=/etc/munge/munge.key 2>/dev/null
    fi
    # Debian runs munged as user "munge": key and dirs must belong to it, key 0400.
    local u=root _
    id munge >/dev/null 2>&1 && u=munge
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown "$u:$u" /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
    chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key; chmod 755 /run/munge
    log "starting munged as $u"
    if [ "$u" = root ]; then munged --force; else runuser -u munge -- munged --force; fi ||
        die "munged failed to start"
    for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null 2>&1 || die "munged started but munge | unmunge fails"
    # Record that WE started munged, so that stop stops it (and only then).
    cp /run/munge/munged.pid "$STATE/munged.pid" || die "munged wrote no /run/munge/munged.pid"
}

write_conf() {
    local host mem_mb
    host=$(hostname -s)
    # RealMemory above what slurmd detects would DRAIN the node ("Low
    # RealMemory"): declare 80% of MemTotal, in MB.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2/1024*0.8}' /proc/meminfo)
    mkdir -p "$STATE/state" "$STATE/spool" "$STATE/log" "$STATE/run"
    cat > "$CONF" <<EOF
# Generated by slurm-local.sh: one-node test cluster.
ClusterName=localtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups (container): /proc-based process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

do_start() {
    install_packages
    start_munge
    write_conf
    export SLURM_CONF=$CONF
    if pid_alive "$STATE/run/slurmctld.pid" slurmctld; then log "slurmctld already running"
    else
        # A cluster from another STATE_DIR on the same ports would make ours
        # die *and* answer sinfo as if all was well: refuse early.
        if port_busy "$CTLD_PORT" || port_busy "$SLURMD_PORT"; then
            die "port $CTLD_PORT or $SLURMD_PORT in use (another cluster? stop it or set SLURM_LOCAL_*_PORT)"
        fi
        log "starting slurmctld"
        # -c: empty job queue, so that no job of an earlier run in this
        # STATE_DIR comes back as a ghost "running" job holding the CPUs.
        slurmctld -c -f "$CONF" || { show_logs; die "slurmctld failed to start"; }
    fi
    if pid_alive "$STATE/run/slurmd.pid" slurmd; then log "slurmd already running"
    else
        log "starting slurmd"
        slurmd -f "$CONF" || { show_logs; die "slurmd failed to start"; }
    fi
    local host wait_s=${SLURM_LOCAL_WAIT:-60} t=0 st=""
    host=$(hostname -s)
    while :; do
        st=$(sinfo -h -N -n "$host" -o '%t' 2>/dev/null | head -n1 || true)
        case "$st" in
            idle|mix|alloc) break ;;             # "idle*" = not responding yet: wait
            down*|drain*|drng*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
        esac
        # The daemons fork into the background, so a fatal error (bad config,
        # port in use) only shows as a vanished process: 2 s grace for pid files.
        if [ "$t" -ge 2 ] && ! daemons_alive; then show_logs; die "slurmctld or slurmd died during start-up"; fi
        if [ "$t" -ge "$wait_s" ]; then show_logs; die "node $host not idle after ${wait_s}s (state: '${st:-no answer}')"; fi
        sleep 1; t=$((t + 1))
    done
    daemons_alive || { show_logs; die "slurmctld or slurmd died during start-up"; }
    log "cluster up in $STATE (node $host: $st, ${t}s)"
    echo "export SLURM_CONF=$CONF"
}

# Pids of slurmstepd processes of OUR slurmd: they inherit its environment,
# which holds SLURM_CONF=$CONF.  Other clusters' steps are left alone.
our_stepds() {
    local p
    for p in $(pgrep -x slurmstepd || true); do
        { tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$CONF" && echo "$p"
    done
    return 0
}

do_stop() {
    export SLURM_CONF=$CONF
    # Running jobs outlive slurmd (slurmstepd keeps going): cancel all first.
    if pid_alive "$STATE/run/slurmctld.pid" slurmctld; then
        local ids _
        ids=$(squeue -h -o '%A' 2>/dev/null | tr '\n' ' ' || true)
        if [ -n "${ids// /}" ]; then
            log "cancelling jobs: $ids"
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null || true
            for _ in $(seq 1 50); do                  # <= 10 s
                [ -z "$(squeue -h 2>/dev/null)" ] && [ -z "$(our_stepds)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop_pidfile "$STATE/run/slurmd.pid" slurmd
    local left; left=$(our_stepds)
    # shellcheck disable=SC2086
    [ -z "$left" ] || { log "killing leftover slurmstepd: $left"; kill -KILL $left 2>/dev/null || true; }
    stop_pidfile "$STATE/run/slurmctld.pid" slurmctld
    # munged only if start started it (recorded as STATE_DIR/munged.pid).
    [ ! -f "$STATE/munged.pid" ] || stop_pidfile "$STATE/munged.pid" munged
    log "stopped"
}

case "$CMD" in
    install) install_packages ;;
    start) do_start ;;
    stop)  do_stop ;;
    *)     usage ;;
esac
