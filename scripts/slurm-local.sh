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
# Config, state, spool, logs and pid files all live in STATE_DIR, munged's too
# (STATE_DIR/munge: key, socket, pid, log; munged runs as user munge, so
# STATE_DIR and its parents must be searchable by it).  The client
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
MUNGE_DIR=$STATE/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket

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

# munged of this cluster only: its key, socket, pid file, log and seed all in
# STATE_DIR/munge (not /etc/munge, /run/munge, /var/log/munge, which another
# munged, or one that once ran as root, may own), run as its usual user "munge".
start_munge() {
    local u=root _
    id munge >/dev/null 2>&1 && u=munge
    mkdir -p "$MUNGE_DIR"
    if pid_alive "$MUNGE_DIR/munged.pid" munged && munge_ok; then return 0; fi
    if [ "$u" = munge ] && ! runuser -u munge -- test -x "$MUNGE_DIR"; then
        die "user munge cannot reach $MUNGE_DIR: make STATE_DIR and its parents searchable (chmod o+x)"
    fi
    [ -s "$MUNGE_DIR/munge.key" ] ||
        mungekey --create --keyfile="$MUNGE_DIR/munge.key" --force >/dev/null 2>&1 ||
        dd if=/dev/urandom bs=1024 count=1 of="$MUNGE_DIR/munge.key" 2>/dev/null
    # munged checks these: the key 0400 and its dirs its own, not writable by others.
    chown -R "$u:$u" "$MUNGE_DIR"
    chmod 700 "$MUNGE_DIR"; chmod 400 "$MUNGE_DIR/munge.key"
    log "starting munged as $u (socket $MUNGE_SOCKET)"
    local args=(--force --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET"
                --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log"
                --seed-file="$MUNGE_DIR/munged.seed")
    if [ "$u" = root ]; then munged "${args[@]}"; else runuser -u munge -- munged "${args[@]}"; fi ||
        die "munged failed to start (log: $MUNGE_DIR/munged.log)"
    for _ in $(seq 1 50); do munge_ok && break; sleep 0.1; done
    munge_ok || die "munged started but munge | unmunge fails on $MUNGE_SOCKET"
}

# A credential round trip through this cluster's munged.
munge_ok() { munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }

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
AuthInfo=socket=$MUNGE_SOCKET
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
    # This cluster's own munged.
    stop_pidfile "$MUNGE_DIR/munged.pid" munged
    log "stopped"
}

case "$CMD" in
    install) install_packages ;;
    start) do_start ;;
    stop)  do_stop ;;
    *)     usage ;;
esac
