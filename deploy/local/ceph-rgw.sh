#!/usr/bin/env bash
# ceph-rgw.sh - throwaway single-node Ceph S3 endpoint (RADOS Gateway) on 127.0.0.1 for tests.
#
# One monitor (mon.a), one OSD (osd.0, objectstore = memstore, i.e. all data in RAM)
# and one radosgw (client.rgw.gw, beast frontend). Everything lives under DIR:
#   DIR/ceph.conf  DIR/monmap  DIR/mon/  DIR/osd/  DIR/rgw/  DIR/crash/
#   DIR/log/*.log (daemon logs), DIR/log/*.out (daemon stdout/stderr)
#   DIR/run/*.asok (admin sockets), DIR/user.json (radosgw-admin output)
#   DIR/pids       all running daemon PIDs, one per line (mon, osd, rgw)
#   DIR/pid.mon DIR/pid.osd DIR/pid.rgw   the same PIDs, one file per daemon
# Nothing is read from or written to /etc/ceph or /var/lib/ceph, so several
# clusters can run at once as long as their DIRs and ports differ.
#
# Usage:
#   ceph-rgw.sh start DIR PORT ACCESS_KEY SECRET_KEY
#       Wipes the cluster files in DIR (refuses if daemons from DIR still run),
#       creates a fresh cluster, creates S3 user "test" with the given keys and
#       waits until http://127.0.0.1:PORT answers. Prints exactly one line on
#       stdout: "rgw ready on http://127.0.0.1:PORT". Progress/errors go to stderr.
#   ceph-rgw.sh stop DIR        TERM all daemons of DIR, KILL after a grace period. Idempotent.
#   ceph-rgw.sh stop-rgw DIR    stop only radosgw (mon + osd and the data stay). Idempotent.
#   ceph-rgw.sh start-rgw DIR   start radosgw again and wait until it answers HTTP.
#   ceph-rgw.sh status DIR      print role/pid/state of each daemon; exit 0 if all 3 run.
#   ceph-rgw.sh mkbucket DIR NAME   create bucket NAME as the S3 user (curl, SigV4). Idempotent.
#
# Ports (all on 127.0.0.1 only): the cluster uses the block PORT .. PORT+9:
#   PORT             radosgw HTTP (S3)
#   PORT+1           monitor (msgr2 only)          override: CEPH_RGW_MON_PORT
#   PORT+2..PORT+9   OSD messengers (4 are used)   override: CEPH_RGW_OSD_PORT_MIN / _MAX
# When running several clusters at once, pick PORTs at least 10 apart.
#
# Environment knobs:
#   CEPH_RGW_TIMEOUT         seconds to wait for start / start-rgw (default 90)
#   CEPH_RGW_STOP_GRACE      seconds between TERM and KILL on stop (default 5)
#   CEPH_RGW_MEMSTORE_BYTES  memstore capacity (default 1073741824 = 1 GiB)
#   CEPH_RGW_UID             S3 user id (default "test")
#
# S3 client notes: path-style addressing, any region name (e.g. us-east-1) for
# SigV4, buckets must be created by the client, no TLS.
set -uo pipefail
set +m # no job control: background daemons must not become process-group leaders,
       # so that 'setsid' execs in place and $! is the daemon's own PID

PROG=ceph-rgw.sh
TIMEOUT=${CEPH_RGW_TIMEOUT:-90}
STOP_GRACE=${CEPH_RGW_STOP_GRACE:-5}
MEMSTORE_BYTES=${CEPH_RGW_MEMSTORE_BYTES:-1073741824}
RGW_UID=${CEPH_RGW_UID:-test}
RGW_NAME=client.rgw.gw

log() { echo "$PROG: $*" >&2; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed -e '/^set -uo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- helpers

check_binaries() {
    local missing=() pkgs=() b pkg
    for b in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw radosgw-admin:ceph-common \
             ceph:ceph-common monmaptool:ceph-base setsid:util-linux timeout:coreutils; do
        pkg=${b#*:}; b=${b%%:*}
        if ! command -v "$b" >/dev/null 2>&1; then
            missing+=("$b")
            [[ " ${pkgs[*]-} " == *" $pkg "* ]] || pkgs+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        die "missing binaries: ${missing[*]} (install with: apt-get install -y ${pkgs[*]}; on Debian 'apt-get install -y radosgw ceph-mon ceph-osd' pulls in all of them)"
    fi
}

# Set DIR (absolute, physical) and derived paths. $1 = dir, $2 = create (1/0)
set_dir() {
    local d=$1
    [[ -n $d ]] || die "DIR must not be empty"
    [[ $d != *[[:space:]]* ]] || die "DIR must not contain whitespace: '$d'"
    if [[ ${2:-0} == 1 ]]; then
        mkdir -p -- "$d" || die "cannot create $d"
    fi
    [[ -d $d ]] || die "no such directory: $d"
    DIR=$(cd -- "$d" && pwd -P) || die "cannot resolve $d"
    CONF=$DIR/ceph.conf
}

# Is PID a live (non-zombie) process started from this DIR's ceph.conf?
is_ours() {
    local pid=$1 state cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/stat ]] || return 1
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z && $state != X ]] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *" $CONF "* ]]
}

role_pid() { [[ -r $DIR/pid.$1 ]] && head -n1 "$DIR/pid.$1" 2>/dev/null; }

write_pids() {
    local r p tmp=$DIR/pids.tmp
    : >"$tmp"
    for r in mon osd rgw; do
        p=$(role_pid "$r") || true
        [[ -n $p ]] && echo "$p" >>"$tmp"
    done
    mv -f "$tmp" "$DIR/pids"
}

# kill_pids GRACE PID... : TERM, wait up to GRACE s, KILL, wait until gone.
kill_pids() {
    local grace=$1 p i live
    shift
    local pids=()
    for p in "$@"; do is_ours "$p" && pids+=("$p"); done
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null
    for ((i = 0; i < grace * 10; i++)); do
        live=0
        for p in "${pids[@]}"; do is_ours "$p" && live=1; done
        ((live)) || return 0
        sleep 0.1
    done
    for p in "${pids[@]}"; do
        if is_ours "$p"; then
            log "pid $p did not exit after ${grace}s, sending KILL"
            kill -KILL "$p" 2>/dev/null
        fi
    done
    for ((i = 0; i < 50; i++)); do
        live=0
        for p in "${pids[@]}"; do is_ours "$p" && live=1; done
        ((live)) || return 0
        sleep 0.1
    done
    log "warning: some processes still alive: ${pids[*]}"
    return 1
}

port_listening() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Does something answer HTTP on PORT? (any status code counts)
http_answers() {
    local port=$1 code line
    if command -v curl >/dev/null 2>&1; then
        code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null) || true
        [[ -n $code && $code != 000 ]]
    else
        line=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && head -n1 <&3" 2>/dev/null) || true
        [[ $line == HTTP/* ]]
    fi
}

tail_logs() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        echo "----- last 25 lines of $f -----" >&2
        tail -n 25 "$f" >&2
    done
}

# Seconds left until $DEADLINE (>= 1)
left() {
    local l=$((DEADLINE - SECONDS))
    ((l < 1)) && l=1
    echo "$l"
}

ceph_cli() {
    local t
    t=$(left); ((t > 20)) && t=20
    timeout "$t" ceph -c "$CONF" --connect-timeout "$t" "$@"
}

# launch ROLE CMD... : start a daemon in its own session, record its PID.
launch() {
    local role=$1 pid
    shift
    echo "=== $(date '+%F %T') $PROG launching $*" >>"$DIR/log/$role.out"
    setsid "$@" -c "$CONF" -f </dev/null >>"$DIR/log/$role.out" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    echo "$pid" >"$DIR/pid.$role"
    write_pids
    STARTED+=("$pid")
}

# read config values back out of ceph.conf
conf_get() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$CONF" | head -n1
}

# ---------------------------------------------------------------- rgw

RGW_LOGS=()
set_rgw_logs() { RGW_LOGS=("$DIR/log/rgw.out" "$DIR/log/$RGW_NAME.log"); }

start_rgw_and_wait() {
    local port=$1 pid
    if port_listening "$port"; then
        FAIL_LOGS=()
        fail "port 127.0.0.1:$port is already in use by another process"
    fi
    set_rgw_logs
    FAIL_LOGS=("${RGW_LOGS[@]}")
    launch rgw radosgw -n "$RGW_NAME"
    pid=$(role_pid rgw)
    until http_answers "$port"; do
        is_ours "$pid" || fail "radosgw exited during startup"
        ((SECONDS < DEADLINE)) || fail "radosgw did not answer HTTP on 127.0.0.1:$port within ${TIMEOUT}s"
        sleep 0.3
    done
}

# ---------------------------------------------------------------- commands

STARTED=()
FAIL_LOGS=()

fail() {
    echo "$PROG: error: $*" >&2
    tail_logs "${FAIL_LOGS[@]}"
    if ((${#STARTED[@]})); then
        log "stopping what was started (${STARTED[*]})"
        local i
        for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do kill_pids 2 "${STARTED[i]}"; done
        local r p
        for r in mon osd rgw; do
            p=$(role_pid "$r") || true
            [[ -n $p ]] && ! is_ours "$p" && rm -f "$DIR/pid.$r"
        done
        write_pids
    fi
    exit 1
}

cmd_start() {
    (($# == 4)) || usage
    local dir=$1 port=$2 akey=$3 skey=$4
    check_binaries
    [[ $port =~ ^[0-9]+$ ]] && ((port >= 1024 && port <= 65525)) || die "PORT must be a number in 1024..65525: '$port'"
    [[ -n $akey && -n $skey ]] || die "ACCESS_KEY and SECRET_KEY must be non-empty"
    [[ $akey$skey != *[[:space:]]* ]] || die "keys must not contain whitespace"
    [[ $TIMEOUT =~ ^[0-9]+$ ]] || die "CEPH_RGW_TIMEOUT must be an integer"
    local mon_port=${CEPH_RGW_MON_PORT:-$((port + 1))}
    local osd_min=${CEPH_RGW_OSD_PORT_MIN:-$((port + 2))}
    local osd_max=${CEPH_RGW_OSD_PORT_MAX:-$((port + 9))}

    local r p
    if [[ -d $dir ]]; then
        set_dir "$dir" 0
        for r in mon osd rgw; do
            p=$(role_pid "$r") || true
            if [[ -n $p ]] && is_ours "$p"; then
                die "a cluster from $DIR is still running ($r pid $p); run '$0 stop $DIR' first"
            fi
        done
    fi
    for p in "$port" "$mon_port"; do
        port_listening "$p" && die "port 127.0.0.1:$p is already in use"
    done
    set_dir "$dir" 1

    local t0=$SECONDS
    DEADLINE=$((SECONDS + TIMEOUT))
    rm -rf -- "$DIR/ceph.conf" "$DIR/monmap" "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/log" \
        "$DIR/run" "$DIR/crash" "$DIR/pids" "$DIR"/pid.* "$DIR/user.json"
    mkdir -p "$DIR/mon/ceph-a" "$DIR/osd/ceph-0" "$DIR/rgw" "$DIR/log" "$DIR/run" "$DIR/crash"
    : >"$DIR/pids"

    local fsid osd_uuid asok
    fsid=$(cat /proc/sys/kernel/random/uuid)
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    # unix socket paths are limited to 107 bytes; disable admin sockets if DIR is too long
    asok="$DIR/run/\$name.asok"
    ((${#DIR} + 30 > 107)) && asok=""

    cat >"$CONF" <<EOF
# generated by $PROG - throwaway test cluster, do not use for real data
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
ms bind msgr2 = true
ms bind port min = $osd_min
ms bind port max = $osd_max

auth cluster required = none
auth service required = none
auth client required = none
# with auth none the msgr2 modes must allow crc, or clients get -13 from the mon
ms mon client mode = crc secure
ms mon cluster mode = crc secure
ms mon service mode = crc secure
ms client mode = crc secure
ms cluster mode = crc secure
ms service mode = crc secure

run dir = $DIR/run
admin socket = $asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = true
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
keyring = $DIR/keyring

osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = $DIR/mon/\$cluster-\$id
# commit map changes quickly (default batches proposals for 1 s; rgw creates ~7 pools)
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd crush initial weight = 1
osd mon shutdown timeout = 2
# (osd memory target only tunes BlueStore caches; irrelevant for memstore, and values
# below its minimum are silently ignored, so it is not set here)
osd op num shards = 1
osd op num threads per shard = 2

[$RGW_NAME]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $DIR/rgw
rgw thread pool size = 16
rgw enable usage log = false
rgw enable ops log = false
EOF
    export CEPH_CONF=$CONF
    unset CEPH_ARGS

    # --- monitor
    FAIL_LOGS=("$DIR/log/mon-mkfs.out" "$DIR/log/mon.out" "$DIR/log/mon.a.log")
    log "creating monitor (127.0.0.1:$mon_port)"
    monmaptool --create --clobber --fsid "$fsid" --enable-all-features \
        --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >"$DIR/log/mon-mkfs.out" 2>&1 ||
        fail "monmaptool failed"
    timeout "$(left)" ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" \
        >>"$DIR/log/mon-mkfs.out" 2>&1 || fail "ceph-mon --mkfs failed"
    launch mon ceph-mon -i a
    local mon_pid
    mon_pid=$(role_pid mon)
    until ceph_cli mon stat >/dev/null 2>>"$DIR/log/cli.out"; do
        is_ours "$mon_pid" || fail "ceph-mon exited during startup"
        ((SECONDS < DEADLINE)) || fail "monitor did not answer within ${TIMEOUT}s"
        sleep 0.5
    done

    # --- osd
    FAIL_LOGS=("$DIR/log/cli.out" "$DIR/log/osd-mkfs.out" "$DIR/log/osd.out" "$DIR/log/osd.0.log")
    log "creating memstore OSD"
    local id
    id=$(ceph_cli osd new "$osd_uuid" 0 2>>"$DIR/log/cli.out") || fail "'ceph osd new' failed"
    [[ $id == 0 ]] || fail "'ceph osd new' returned '$id', expected 0"
    timeout "$(left)" ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
        >"$DIR/log/osd-mkfs.out" 2>&1 || fail "ceph-osd --mkfs failed"
    launch osd ceph-osd -i 0
    local osd_pid stat
    osd_pid=$(role_pid osd)
    while :; do
        stat=$(ceph_cli osd stat 2>>"$DIR/log/cli.out") || true
        [[ $stat == *"1 up"* && $stat == *"1 in"* ]] && break
        is_ours "$osd_pid" || fail "ceph-osd exited during startup"
        is_ours "$mon_pid" || fail "ceph-mon exited"
        ((SECONDS < DEADLINE)) || fail "OSD did not come up within ${TIMEOUT}s (last: $stat)"
        sleep 0.5
    done

    # --- S3 user (creates the default realm/zone and the rgw pools)
    FAIL_LOGS=("$DIR/log/user.out" "$DIR/log/client.admin.log" "$DIR/log/osd.0.log")
    log "creating S3 user '$RGW_UID'"
    local rc=0
    timeout "$(left)" radosgw-admin -c "$CONF" user create --uid="$RGW_UID" \
        --display-name="$RGW_UID" --access-key="$akey" --secret="$skey" \
        >"$DIR/user.json" 2>"$DIR/log/user.out" || rc=$?
    ((rc == 124)) && fail "radosgw-admin user create did not finish within ${TIMEOUT}s (pools/PGs not active?)"
    ((rc == 0)) || fail "radosgw-admin user create failed (exit $rc)"

    # --- gateway
    log "starting radosgw on 127.0.0.1:$port"
    start_rgw_and_wait "$port"
    log "cluster up in $((SECONDS - t0))s (pids: $(tr '\n' ' ' <"$DIR/pids"))"
    echo "rgw ready on http://127.0.0.1:$port"
}

cmd_stop() {
    (($# == 1)) || usage
    [[ -d $1 ]] || { log "nothing to stop: no directory $1"; return 0; }
    set_dir "$1" 0
    local r p pids=()
    # one at a time: gateway, osd (it says goodbye to the mon, which must still be
    # up or the osd waits 'osd mon shutdown timeout'), then the monitor
    for r in rgw osd mon; do
        p=$(role_pid "$r") || true
        [[ -n $p ]] && kill_pids "$STOP_GRACE" "$p"
    done
    # anything else recorded in DIR/pids
    if [[ -r $DIR/pids ]]; then
        while read -r p; do [[ -n $p ]] && pids+=("$p"); done <"$DIR/pids"
    fi
    ((${#pids[@]})) && kill_pids "$STOP_GRACE" "${pids[@]}"
    local ok=0
    for r in mon osd rgw; do
        p=$(role_pid "$r") || true
        if [[ -n $p ]] && is_ours "$p"; then ok=1; else rm -f "$DIR/pid.$r"; fi
    done
    [[ -e $DIR/pids ]] && write_pids
    ((ok == 0)) || die "some daemons of $DIR could not be stopped"
    return 0
}

cmd_stop_rgw() {
    (($# == 1)) || usage
    [[ -d $1 ]] || { log "nothing to stop: no directory $1"; return 0; }
    set_dir "$1" 0
    local p
    p=$(role_pid rgw) || true
    if [[ -n $p ]]; then
        kill_pids "$STOP_GRACE" "$p" || die "radosgw (pid $p) could not be stopped"
    fi
    rm -f "$DIR/pid.rgw"
    write_pids
}

cmd_start_rgw() {
    (($# == 1)) || usage
    check_binaries
    set_dir "$1" 0
    [[ -r $CONF ]] || die "no cluster in $DIR (run '$0 start' first)"
    export CEPH_CONF=$CONF
    unset CEPH_ARGS
    local port p r
    port=$(conf_get "rgw frontends" | sed -n 's/^beast endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p')
    [[ $port =~ ^[0-9]+$ ]] || die "cannot find the rgw port in $CONF"
    for r in mon osd; do
        p=$(role_pid "$r") || true
        [[ -n $p ]] && is_ours "$p" || die "$r of $DIR is not running; use '$0 start' for a fresh cluster"
    done
    p=$(role_pid rgw) || true
    if [[ -n $p ]] && is_ours "$p"; then
        DEADLINE=$((SECONDS + TIMEOUT))
        until http_answers "$port"; do
            ((SECONDS < DEADLINE)) || { set_rgw_logs; tail_logs "${RGW_LOGS[@]}"; die "radosgw pid $p runs but does not answer on $port"; }
            sleep 0.3
        done
        echo "rgw ready on http://127.0.0.1:$port"
        return 0
    fi
    DEADLINE=$((SECONDS + TIMEOUT))
    start_rgw_and_wait "$port"
    echo "rgw ready on http://127.0.0.1:$port"
}

cmd_status() {
    (($# == 1)) || usage
    set_dir "$1" 0
    local r p n=0
    for r in mon osd rgw; do
        p=$(role_pid "$r") || true
        if [[ -n $p ]] && is_ours "$p"; then
            echo "$r $p running"; n=$((n + 1))
        else
            echo "$r ${p:--} stopped"
        fi
    done
    ((n == 3))
}

cmd_mkbucket() {
    (($# == 2)) || usage
    set_dir "$1" 0
    local bucket=$2 port akey skey code
    [[ $bucket =~ ^[a-z0-9][a-z0-9.-]{2,62}$ ]] || die "'$bucket' is not a valid bucket name"
    port=$(conf_get "rgw frontends" | sed -n 's/^beast endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p')
    [[ $port =~ ^[0-9]+$ ]] || die "cannot find the rgw port in $CONF"
    akey=$(sed -n 's/.*"access_key": "\([^"]*\)".*/\1/p' "$DIR/user.json" | head -n1)
    skey=$(sed -n 's/.*"secret_key": "\([^"]*\)".*/\1/p' "$DIR/user.json" | head -n1)
    [[ -n $akey && -n $skey ]] || die "cannot find the S3 user's keys in $DIR/user.json"
    # curl does not send x-amz-content-sha256 itself; the gateway needs it.
    code=$(curl -s -o "$DIR/log/mkbucket.out" -w '%{http_code}' -X PUT \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$akey:$skey" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "http://127.0.0.1:$port/$bucket") || die "curl could not reach the gateway on port $port"
    case $code in
    200) log "bucket $bucket created" ;;
    409) log "bucket $bucket exists" ;;
    *) die "creating bucket $bucket: HTTP $code: $(head -c 300 "$DIR/log/mkbucket.out")" ;;
    esac
}

case "${1-}" in
start) shift; cmd_start "$@" ;;
mkbucket) shift; cmd_mkbucket "$@" ;;
stop) shift; cmd_stop "$@" ;;
stop-rgw) shift; cmd_stop_rgw "$@" ;;
start-rgw) shift; cmd_start_rgw "$@" ;;
status) shift; cmd_status "$@" ;;
*) usage ;;
esac
