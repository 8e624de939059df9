# tests/interop/lib.sh - helpers for the interop suite (bash, sourced).
#
#   source tests/interop/lib.sh; ia_init
#   p=$(ia_port 2)                 # 2 consecutive free loopback ports (UDP+TCP)
#   ia_start NAME CMD ARGS...      # background, own process group, log in $IA_TMP/NAME.log
#   ia_subdir NAME                 # per-flow directory for logs (IA_TMP) under IA_ROOT
#   ia_wait_udp NAME PORT [SECS]   # until `ss -lun` shows 127.0.0.1:PORT (bounded)
#   ia_wait_log NAME REGEX [SECS]  # until NAME's log matches (bounded)
#   ia_wait NAME [SECS]            # wait for exit, bounded; sets IA_RC (124 = bound hit)
#   ia_stop NAME [GRACE]           # TERM the process group, KILL after GRACE seconds
#   ia_sipp_start NAME ARGS...     # SIPp with statistics/trace files named after NAME
#   ia_sipp_result NAME            # -> "ok=S fail=F rc=R" from SIPp's own counters
#   ia_sipp_expect NAME RC OK FAIL # assert exit status and both counters
#   ia_sipp_stat NAME COLUMN       # one cumulative column of SIPp's statistics
#   ia_sipkit NAME SCRIPT ARGS...  # a sipkit Lua example (sipkit run) as a peer
#   ia_capture_start NAME PORT...  # dumpcap on lo for those UDP ports
#   ia_capture_check NAME          # stop it; no malformed packet, every UDP packet is SIP
#
# Everything started here is recorded and stopped by PID (process group) on
# exit, failure or signal. No name-based killing. Loopback only.

IA_HOST=127.0.0.1
IA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IA_SIPP_DIR=$IA_DIR/sipp
IA_PORT_LOCKS=${TMPDIR:-/tmp}/sipkit-interop-ports
IA_PORT_MIN=${IA_PORT_MIN:-20000}   # below Linux's ephemeral range (32768-60999)
IA_PORT_MAX=${IA_PORT_MAX:-32000}
IA_BOUND=${IA_BOUND:-20}            # default bound (seconds) for one peer run

declare -gA IA_PID=()               # NAME -> pid (== pgid: started with setsid)
declare -gA IA_WRAP=()              # NAME -> pid of the subshell waiting for it
declare -ga IA_ALL_PGIDS=()         # every process group started, for the final check
declare -ga IA_ORDER=()             # start order, stopped in reverse
IA_RC=0
IA_FAILED=0

ia_log() { printf '%s\n' "$*" >&2; }
# ia_die MSG: abort the run (a peer that cannot start is a failure, not a
# skip); prints the FAIL line of the current flow (IA_FLOW) on stdout.
ia_die() {
  ia_log "interop: $*"
  [ -z "${IA_FLOW:-}" ] || [ "$BASHPID" != $$ ] || printf 'FAIL %-16s aborted: %s\n' "$IA_FLOW" "$*"
  IA_FAILED=1; exit 1
}

ia_init() {
  for t in sipp kamailio baresip dumpcap tshark ss perl setsid timeout; do
    command -v "$t" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v "$t" >/dev/null 2>&1 || ia_die "'$t' not found (run 'make deps' as root)"
  done
  IA_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-interop.XXXXXX") || ia_die "mktemp failed"
  IA_TMP=$IA_ROOT
  mkdir -p "$IA_PORT_LOCKS"
  trap 'ia_cleanup' EXIT
  trap 'IA_FAILED=1; exit 130' INT TERM HUP
}

# ia_subdir NAME: later logs, traces and captures go to $IA_ROOT/NAME
ia_subdir() { IA_TMP=$IA_ROOT/$1; mkdir -p "$IA_TMP"; }

# ---------------------------------------------------------------- ports
# ia_bind_ok PORT: can 127.0.0.1:PORT be bound for UDP and for TCP right now?
ia_bind_ok() {
  perl -MSocket -e '
    my $a = pack_sockaddr_in($ARGV[0], inet_aton("127.0.0.1"));
    for my $t (SOCK_DGRAM, SOCK_STREAM) {
      socket(my $s, PF_INET, $t, 0) or exit 2;
      bind($s, $a) or exit 1;
      close $s;
    }' "$1"
}

# ia_reserve PORT: atomic cross-process reservation (mkdir); stale ones
# (owner gone) are taken over.
ia_reserve() {
  local d=$IA_PORT_LOCKS/$1 owner
  if ! mkdir "$d" 2>/dev/null; then
    owner=$(cat "$d/pid" 2>/dev/null)
    if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then return 1; fi
    rm -rf "$d"; mkdir "$d" 2>/dev/null || return 1
  fi
  echo $$ > "$d/pid"
}

ia_release() { local d=$IA_PORT_LOCKS/$1; [ "$(cat "$d/pid" 2>/dev/null)" = $$ ] && rm -rf "$d"; }

# ia_port [N]: print the first of N consecutive free loopback ports (UDP and
# TCP bind-tested, reserved against concurrent runs and earlier calls).
ia_port() {
  local n=${1:-1} try p i ok
  for try in $(seq 1 200); do
    p=$(( IA_PORT_MIN + (RANDOM * 32768 + RANDOM) % (IA_PORT_MAX - IA_PORT_MIN - n) ))
    ok=1
    for ((i = 0; i < n; i++)); do
      if ! ia_reserve $((p + i)); then ok=0; break; fi
      if ! ia_bind_ok $((p + i)); then ok=0; i=$((i + 1)); break; fi
    done
    if [ $ok = 1 ]; then echo "$p"; return 0; fi
    # give back what this attempt reserved
    local j; for ((j = 0; j < i; j++)); do ia_release $((p + j)); done
  done
  ia_die "no free port block of $n found"
}

# ---------------------------------------------------------------- processes
# ia_start NAME CMD...: run CMD in the background in its own process group
# (setsid), cwd $IA_TMP, stdin /dev/null, stdout+stderr in $IA_TMP/NAME.log.
# A small wrapper subshell waits for it, so its exit status can be collected
# and bash prints no job notice ("Killed") when it is stopped by a signal.
ia_start() {
  local name=$1 pid="" i; shift
  [ -z "${IA_PID[$name]:-}" ] || ia_die "ia_start: '$name' already running"
  rm -f "$IA_TMP/$name.pid" "$IA_TMP/$name.rc"
  (
    cd "$IA_TMP" || exit 126
    setsid "$@" </dev/null >"$IA_TMP/$name.log" 2>&1 &
    echo $! > "$IA_TMP/$name.pid.tmp" && mv "$IA_TMP/$name.pid.tmp" "$IA_TMP/$name.pid"
    wait $!
  ) </dev/null 2>/dev/null &
  IA_WRAP[$name]=$!
  for i in $(seq 1 200); do
    [ -s "$IA_TMP/$name.pid" ] && { pid=$(cat "$IA_TMP/$name.pid"); break; }
    sleep 0.01
  done
  [ -n "$pid" ] || ia_die "ia_start: could not start $name ($*)"
  IA_PID[$name]=$pid
  IA_ORDER+=("$name")
  IA_ALL_PGIDS+=("$pid")
}

ia_alive() { local pid=${IA_PID[$1]:-}; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

# kill the process group led by PID (setsid makes pid == pgid), else the pid
ia_kill() {
  local sig=$1 pid=$2
  kill -"$sig" -- "-$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null
}

# ia_reap NAME: collect the exit status of NAME (its wrapper) into IA_RC and
# $IA_TMP/NAME.rc; anything left in its process group is killed.
ia_reap() {
  local name=$1 pid=${IA_PID[$1]}
  wait "${IA_WRAP[$name]}" 2>/dev/null; IA_RC=$?
  ia_kill KILL "$pid"
  echo "$IA_RC" > "$IA_TMP/$name.rc"
  unset "IA_PID[$name]" "IA_WRAP[$name]"
}

ia_tail() { ia_log "---- last lines of $IA_TMP/$1.log"; tail -n "${2:-15}" "$IA_TMP/$1.log" >&2 2>/dev/null; }

# ia_wait_udp NAME PORT [SECS]: poll `ss -lun` until something listens on
# 127.0.0.1:PORT; fail early if NAME died.
ia_wait_udp() {
  local name=$1 port=$2 secs=${3:-10} end
  end=$(( $(date +%s%N) + secs * 1000000000 ))
  while [ "$(date +%s%N)" -lt $end ]; do
    if ss -H -lun "sport = :$port" 2>/dev/null | grep -q "$IA_HOST:$port\|\*:$port\|0.0.0.0:$port"; then
      return 0; fi
    ia_alive "$name" || { ia_tail "$name"; ia_die "$name exited before listening on udp $port"; }
    sleep 0.05
  done
  ia_tail "$name"; ia_die "$name not listening on udp $port after ${secs}s"
}

# ia_wait_log NAME EREGEX [SECS] [FILE]: poll NAME's log (or FILE) for EREGEX.
ia_wait_log() {
  local name=$1 re=$2 secs=${3:-10} file=${4:-$IA_TMP/$1.log} end
  end=$(( $(date +%s%N) + secs * 1000000000 ))
  while [ "$(date +%s%N)" -lt $end ]; do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# ia_wait NAME [SECS]: wait for NAME to exit by itself; IA_RC = its status,
# or 124 if the bound was hit (then it is stopped).
ia_wait() {
  local name=$1 secs=${2:-$IA_BOUND} pid=${IA_PID[$1]:-} end
  [ -n "$pid" ] || ia_die "ia_wait: no process '$name'"
  end=$(( $(date +%s%N) + secs * 1000000000 ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s%N)" -ge $end ]; then
      ia_log "interop: $name still running after ${secs}s, stopping it"
      ia_stop "$name"; IA_RC=124; echo 124 > "$IA_TMP/$name.rc"; return 0
    fi
    sleep 0.05
  done
  ia_reap "$name"
}

# ia_stop NAME [GRACE]: TERM the process group, KILL after GRACE seconds, reap.
ia_stop() {
  local name=$1 grace=${2:-3} pid=${IA_PID[$1]:-} end
  [ -n "$pid" ] || return 0
  ia_kill TERM "$pid"
  end=$(( $(date +%s%N) + grace * 1000000000 ))
  while kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s%N)" -ge $end ]; then ia_kill KILL "$pid"; break; fi
    sleep 0.05
  done
  ia_reap "$name"
}

ia_cleanup() {
  local rc=$? i name p left=""
  [ $rc = 0 ] || IA_FAILED=1
  trap - EXIT INT TERM HUP
  for ((i = ${#IA_ORDER[@]} - 1; i >= 0; i--)); do
    name=${IA_ORDER[$i]}
    [ -n "${IA_PID[$name]:-}" ] && ia_stop "$name" 2
  done
  # verify: no process group we started has a member left
  for p in "${IA_ALL_PGIDS[@]}"; do
    if kill -0 -- "-$p" 2>/dev/null; then left+=" $p"; kill -KILL -- "-$p" 2>/dev/null; fi
  done
  [ -z "$left" ] || { ia_log "interop: process group(s) still running after cleanup (killed):$left"; rc=1; }
  # ports were reserved in command substitutions too: release by owner pid
  for p in "$IA_PORT_LOCKS"/*; do [ -d "$p" ] && ia_release "${p##*/}"; done
  if [ "${IA_KEEP:-0}" = 1 ] || [ $IA_FAILED = 1 ]; then
    ia_log "interop: logs kept in $IA_ROOT"
  else
    rm -rf "$IA_ROOT"
  fi
  exit $rc
}

# ---------------------------------------------------------------- SIPp
# ia_sipp_start NAME ARGS...: SIPp in the background with its own statistics
# (-trace_stat -stf), final screen (-trace_screen), unexpected messages
# (-trace_err), <log> actions (-trace_logs) and messages (-trace_msg) in
# $IA_TMP/NAME.*. Control (-cp) and media (-mp, binds mp and mp+2) ports are
# allocated here; pass -p for the SIP port and the scenario/remote yourself.
# IA_SIPP_TIMEOUT (default IA_BOUND) is SIPp's global -timeout for this
# start; IA_SIPP_MSG=0 leaves out -trace_msg (load runs: 10^5 messages).
ia_sipp_start() {
  local name=$1; shift
  local cp mp msg=()
  cp=$(ia_port 1); mp=$(ia_port 4)
  [ "${IA_SIPP_MSG:-1}" = 0 ] || msg=(-trace_msg -message_file "$IA_TMP/$name.msg")
  ia_start "$name" sipp -nostdin -i "$IA_HOST" -cp "$cp" -mp "$mp" \
    -trace_stat -stf "$IA_TMP/$name.stat.csv" -fd 1 \
    -trace_screen -screen_file "$IA_TMP/$name.screen" \
    -trace_err -error_file "$IA_TMP/$name.err" \
    -trace_logs -log_file "$IA_TMP/$name.actions" \
    "${msg[@]}" -timeout "${IA_SIPP_TIMEOUT:-$IA_BOUND}" -timeout_error "$@"
}

# ia_sipp_stat NAME COLUMN: last value of a cumulative column of SIPp's
# statistics file, e.g. "Retransmissions(C)".
ia_sipp_stat() {
  awk -F';' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { v = $col[c] } END { print v + 0 }' "$IA_TMP/$1.stat.csv" 2>/dev/null
}

# ia_sipp_counters NAME: "SUCCESS FAILED" from the last line of SIPp's own
# statistics file (cumulative columns), cross-checked with its final screen.
ia_sipp_counters() {
  local f=$IA_TMP/$1.stat.csv s f2 ss sf
  [ -s "$f" ] || { echo "? ?"; return; }
  read -r s f2 < <(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { s = $col["SuccessfulCall(C)"]; f = $col["FailedCall(C)"] }
    END { print s, f }' "$f")
  if [ -s "$IA_TMP/$1.screen" ]; then
    ss=$(awk -F'|' '/Successful call/ { v = $3 } END { gsub(/ /, "", v); print v }' "$IA_TMP/$1.screen")
    sf=$(awk -F'|' '/Failed call/ { v = $3 } END { gsub(/ /, "", v); print v }' "$IA_TMP/$1.screen")
    if [ -n "$ss" ] && { [ "$ss" != "$s" ] || [ "$sf" != "$f2" ]; }; then
      ia_log "interop: $1: statistics file says $s/$f2, screen says $ss/$sf"; s="$s!"; fi
  fi
  echo "$s $f2"
}

ia_sipp_result() {
  local c rc
  c=$(ia_sipp_counters "$1"); rc=$(cat "$IA_TMP/$1.rc" 2>/dev/null || echo '?')
  echo "ok=${c% *} fail=${c#* } rc=$rc"
}

# ia_sipp_expect NAME RC OK FAIL: SIPp NAME exited with RC and its own
# counters say OK successful and FAIL failed calls. OK/FAIL may be ">=N".
IA_ERRORS=()
ia_cmp() { case $2 in '>='*) [ "$1" -ge "${2#>=}" ] 2>/dev/null ;; *) [ "$1" = "$2" ] ;; esac; }
ia_sipp_expect() {
  local name=$1 rc=$2 ok=$3 fail=$4 c s f r
  c=$(ia_sipp_counters "$name"); s=${c% *}; f=${c#* }
  r=$(cat "$IA_TMP/$name.rc" 2>/dev/null || echo '?')
  if ! ia_cmp "$r" "$rc" || ! ia_cmp "$s" "$ok" || ! ia_cmp "$f" "$fail"; then
    IA_ERRORS+=("$name: expected rc=$rc ok=$ok fail=$fail, got rc=$r ok=$s fail=$f")
    return 1
  fi
}

# ia_check COND_DESCRIPTION CMD...: record a failure if CMD fails.
ia_check() { local what=$1; shift; "$@" || { IA_ERRORS+=("$what"); return 1; }; }

# <log> lines written by a SIPp scenario
ia_actions() { cat "$IA_TMP/$1.actions" 2>/dev/null; }

# ---------------------------------------------------------------- sipkit
# ia_sipkit NAME [RUN_OPTIONS...] SCRIPT ARGS...: `$SIPKIT run` of
# lua/examples/SCRIPT (a bare name ending in .lua; words before it go to `sipkit run`,
# e.g. --loss 0.1 --seed 7 --stats); output in $IA_TMP/NAME.log.
SIPKIT=${SIPKIT:-$(cd "$IA_DIR/../.." && pwd)/build/sipkit}
IA_EXAMPLES=$(cd "$IA_DIR/../.." && pwd)/lua/examples
ia_sipkit() {
  local name=$1; shift
  local ro=()
  while [ $# -gt 0 ] && [ "${1%.lua}" = "$1" ]; do ro+=("$1"); shift; done
  [ -x "$SIPKIT" ] || ia_die "$SIPKIT not built (make -j2 all)"
  ia_start "$name" "$SIPKIT" run "${ro[@]}" "$IA_EXAMPLES/$1" "${@:2}"
}
# ia_sipkit_rc NAME: exit status of a finished sipkit peer
ia_sipkit_rc() { cat "$IA_TMP/$1.rc" 2>/dev/null || echo '?'; }

# ---------------------------------------------------------------- capture
# ia_capture_start NAME PORT...: dumpcap on lo, only UDP on those ports.
declare -gA IA_CAP_PORTS=()
ia_capture_start() {
  local name=$1; shift
  local filt="" p
  for p in "$@"; do filt+="${filt:+ or }udp port $p"; done
  IA_CAP_PORTS[$name]="$*"
  ia_start "cap-$name" dumpcap -q -i lo -f "$filt" -w "$IA_TMP/$name.pcapng"
  # dumpcap reports on stderr once the capture is running
  ia_wait_log "cap-$name" "^Capturing on|File: " 10 ||
    { ia_tail "cap-$name"; ia_die "dumpcap did not start for $name (capturing on lo needs root or CAP_NET_RAW)"; }
  sleep 0.2   # let the filter settle before the first packet
}

# ia_capture_check NAME: stop dumpcap and check the capture. Sets IA_CAP to
# "udp=N sip=N malformed=N warnings=N"; records an error unless
# udp == sip > 0, malformed (or expert error) == 0 and expert warnings <=
# IA_CAP_MAX_WARN (default 0). (Not in $(...): it must stop dumpcap in this shell.)
ia_capture_check() {
  local name=$1 f=$IA_TMP/$1.pcapng dec=() p udp sip bad warn
  sleep 0.2
  ia_stop "cap-$name" 5
  for p in ${IA_CAP_PORTS[$name]}; do dec+=(-d "udp.port==$p,sip"); done
  # one pass: protocol stack and expert severities of every UDP frame
  # (malformed frames carry "_ws.malformed" in frame.protocols; expert
  # severity "error" is 8388608 = 0x00800000)
  tshark -n -r "$f" "${dec[@]}" -Y 'udp && !icmp' -T fields -E separator=/t \
    -e frame.number -e frame.protocols -e _ws.expert.severity -e _ws.col.Info \
    > "$IA_TMP/$name.pcap.txt" 2>"$IA_TMP/$name.tshark.err"
  # expert "warning" (6291456 = 0x00600000) is counted too: Wireshark's SIP
  # dissector is lenient, a warning (e.g. no blank line after the headers)
  # is often all it says about a broken message.
  read -r udp sip bad warn < <(awk -F'\t' '{ n++ }
      $2 ~ /:sip(:|$)/ { s++ }
      $2 ~ /_ws\.malformed/ || $3 ~ /8388608/ { b++ }
      $3 ~ /6291456/ { w++ }
      END { print n + 0, s + 0, b + 0, w + 0 }' "$IA_TMP/$name.pcap.txt")
  IA_CAP="udp=$udp sip=$sip malformed=$bad warnings=$warn"
  if [ "$udp" -eq 0 ] || [ "$udp" != "$sip" ] || [ "$bad" != 0 ] || [ "$warn" -gt "${IA_CAP_MAX_WARN:-0}" ]; then
    IA_ERRORS+=("$name capture: udp=$udp sip=$sip malformed/error=$bad warnings=$warn (see $IA_TMP/$name.pcap.txt)")
    return 1
  fi
}

# ia_capture_count NAME DISPLAY_FILTER: number of packets matching it. Only
# after ia_capture_check NAME: a running dumpcap has not written every packet
# yet (it was seen short of the last 401 on a loaded machine).
ia_capture_count() {
  local name=$1 dec=() p
  for p in ${IA_CAP_PORTS[$name]}; do dec+=(-d "udp.port==$p,sip"); done
  tshark -n -r "$IA_TMP/$name.pcapng" "${dec[@]}" -Y "$2" 2>/dev/null | wc -l
}
