#!/usr/bin/env bash
# tests/bench/callcost.sh [BUILD] - CPU cost per call of sipkit's runtime
# and Lua binding, as instruction counts and syscall counts, which do not
# depend on the machine's load (unlike the CPU seconds of `make
# bench-load`).  Not part of `make test`; prints one table.
#
#   server       SIPp's built-in uac (-m N -r RATE)  ->  `sipkit run uas.lua --ring 0 --calls N --linger 0 --quiet`
#   client       `sipkit load uac.lua --rate RATE --calls N`  ->  SIPp's built-in uas
#   sipp-server  SIPp's uac -> SIPp's uas (-m N), the uas counted   } the reference:
#   sipp-client  SIPp's uac (-m N) -> SIPp's uas, the uac counted   } SIPp's own cost
#
# The side under test runs under `valgrind --tool=callgrind` (instructions, Ir) and then
# under `strace -c -f` (syscalls), each twice: with N1 and with N2 calls.
# The figure is (count(N2) - count(N1)) / (N2 - N1), so start-up, script
# loading and exit cancel out.  Loopback only; ports picked free.
#
#   CALLCOST_N1=20 CALLCOST_N2=120 CALLCOST_RATE=20 (calls/s; low so that
#   valgrind's slowdown causes no retransmission - the table shows them)
#   CALLCOST_SIDES="server client sipp-server sipp-client"  CALLCOST_TOOLS="callgrind strace"
#   CALLCOST_UAS_ARGS="--quiet"  uas.lua's options beside --ring 0 --calls N --linger 0
#                      (quiet, as SIPp's uas prints nothing per call; "" for its lines)
#   CALLCOST_KEEP=DIR  keep the callgrind output files there (for
#                      callgrind_annotate --inclusive=yes DIR/server.N2.cg)
set -u -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
sipkit="$build/sipkit"
ex="$root/lua/examples"
n1=${CALLCOST_N1:-20}
n2=${CALLCOST_N2:-120}
rate=${CALLCOST_RATE:-20}
sides=${CALLCOST_SIDES:-server client sipp-server sipp-client}
tools=${CALLCOST_TOOLS:-callgrind strace}
keep=${CALLCOST_KEEP:-}
uas_args=${CALLCOST_UAS_ARGS---quiet}

for t in sipp valgrind strace; do
  command -v "$t" > /dev/null || { echo "callcost: $t not found (make deps)" >&2; exit 1; }
done
[ -x "$sipkit" ] || { echo "callcost: $sipkit not built" >&2; exit 1; }
[ "$n2" -gt "$n1" ] || { echo "callcost: CALLCOST_N2 must exceed CALLCOST_N1" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-callcost.XXXXXX") || exit 2
[ -n "$keep" ] && mkdir -p "$keep"
pids=()
# stop what we started, by PID; then drop the scratch directory
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# PORT = the first of 4 free loopback UDP/TCP ports (SIPp binds -p, -cp, -mp)
port_block() {
  local p
  for p in $(shuf -i 20000-59990 -n 100); do
    ss -Hauln "( sport >= :$p and sport <= :$((p + 3)) )" 2>/dev/null | grep -q . || { PORT=$p; return 0; }
  done
  echo "callcost: no free port block" >&2
  return 1
}

# wrap TOOL OUT: the command prefix that counts into OUT
wrap() {
  case $1 in
    callgrind) echo "valgrind --tool=callgrind --callgrind-out-file=$2 --dump-line=no" ;;
    strace) echo "strace -c -f -o $2" ;;
  esac
}
# count TOOL OUT -> total instructions or syscalls
count() {
  local v
  case $1 in
    callgrind) v=$(awk '$1 == "totals:" || $1 == "summary:" { print $2; exit }' "$2") ;;
    # strace -c's last row: % time, seconds, usecs/call, calls, [errors,] "total"
    strace) v=$(awk '$NF == "total" { print $4; exit }' "$2") ;;
  esac
  case $v in '' | *[!0-9]*) echo "callcost: no count in $2" >&2; return 1 ;; esac
  echo "$v"
}

# uac_result STAT_CSV TOOL OUT NAME: RETRANS from SIPp uac's statistics,
# TOTAL from OUT; OUT kept as NAME.cg
uac_result() {
  RETRANS=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "Retransmissions(C)") c = i; next }
                       { v = $c } END { print v + 0 }' "$1")
  TOTAL=$(count "$2" "$3") || return 1
  [ -n "$keep" ] && [ "$2" = callgrind ] && cp "$3" "$keep/$4.cg"
  return 0
}

# server TOOL N: SIPp uac -> sipkit run uas.lua under TOOL; sets TOTAL RETRANS
server() {
  local tool=$1 n=$2 out="$tmp/server.$1.$2" log="$tmp/uas.$1.$2.log" dir
  port_block
  local sport=$PORT
  $(wrap "$tool" "$out") "$sipkit" run "$ex/uas.lua" "127.0.0.1:$sport" --ring 0 --calls "$n" --linger 0 $uas_args \
    > "$log" 2>&1 < /dev/null &
  local spid=$!
  pids+=("$spid")
  for _ in $(seq 600); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q "listening on" "$log" || { echo "callcost: uas.lua did not start" >&2; cat "$log" >&2; return 1; }
  port_block
  dir="$tmp/sipp-$PORT"
  mkdir -p "$dir"
  (cd "$dir" && timeout $(( n / rate + 60 )) sipp -sn uac "127.0.0.1:$sport" -i 127.0.0.1 \
     -p "$PORT" -cp $(( PORT + 1 )) -mp $(( PORT + 2 )) -r "$rate" -m "$n" -timeout $(( n / rate + 50 ))s \
     -nostdin -trace_stat -stf stat.csv > screen.txt 2>&1)
  local rc=$?
  if ! wait "$spid"; then echo "callcost: sipkit run exited non-zero" >&2; tail -5 "$log" >&2; return 1; fi
  [ "$rc" = 0 ] || { echo "callcost: sipp uac exit status $rc" >&2; tail -5 "$dir/screen.txt" >&2; return 1; }
  uac_result "$dir/stat.csv" "$tool" "$out" "server.$n"
}

# client TOOL N: sipkit load uac.lua under TOOL -> SIPp uas; sets TOTAL RETRANS
client() {
  local tool=$1 n=$2 out="$tmp/client.$1.$2" dir
  port_block
  local sport=$PORT
  dir="$tmp/sippuas-$sport"
  mkdir -p "$dir"
  (cd "$dir" && exec sipp -sn uas -i 127.0.0.1 -p "$sport" -cp $(( sport + 1 )) -mp $(( sport + 2 )) \
     -nostdin > screen.txt 2>&1 < /dev/null) &
  local spid=$!
  pids+=("$spid")
  for _ in $(seq 50); do [ -n "$(ss -Huln "sport = :$sport" 2>/dev/null)" ] && break; sleep 0.1; done
  local rc=0
  timeout $(( n / rate + 120 )) $(wrap "$tool" "$out") "$sipkit" load "$ex/uac.lua" --rate "$rate" --calls "$n" \
    --quiet -- "sip:service@127.0.0.1:$sport" > "$tmp/load.out" 2> "$tmp/load.err" || rc=$?
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
  if [ "$rc" != 0 ] || ! grep -qx "calls succeeded: $n" "$tmp/load.out"; then
    echo "callcost: sipkit load exit status $rc" >&2; cat "$tmp/load.out" >&2; tail -5 "$tmp/load.err" >&2; return 1
  fi
  RETRANS=$(sed -n 's/^retransmissions: //p' "$tmp/load.out")
  TOTAL=$(count "$tool" "$out") || return 1
  [ -n "$keep" ] && [ "$tool" = callgrind ] && cp "$out" "$keep/client.$n.cg"
  return 0
}

# sipp_pair TOOL N WHICH: SIPp's uac -> SIPp's uas, N calls, the WHICH side
# (uas or uac) under TOOL; sets TOTAL RETRANS
sipp_pair() {
  local tool=$1 n=$2 which=$3 out="$tmp/sipp-$3.$1.$2" dir rc=0
  port_block
  local sport=$PORT
  dir="$tmp/sipp-pair-$sport"
  mkdir -p "$dir"
  local uas=(sipp -sn uas -i 127.0.0.1 -p "$sport" -cp $(( sport + 1 )) -mp $(( sport + 2 )) -m "$n" -nostdin)
  [ "$which" = uas ] && uas=($(wrap "$tool" "$out") "${uas[@]}")
  (cd "$dir" && exec timeout $(( n / rate + 120 )) "${uas[@]}" > uas.txt 2>&1 < /dev/null) &
  local spid=$!
  pids+=("$spid")
  for _ in $(seq 600); do [ -n "$(ss -Huln "sport = :$sport" 2>/dev/null)" ] && break; sleep 0.1; done
  port_block
  local uac=(sipp -sn uac "127.0.0.1:$sport" -i 127.0.0.1 -p "$PORT" -cp $(( PORT + 1 ))
             -mp $(( PORT + 2 )) -r "$rate" -m "$n" -timeout $(( n / rate + 50 ))s -nostdin -trace_stat -stf stat.csv)
  [ "$which" = uac ] && uac=($(wrap "$tool" "$out") "${uac[@]}")
  (cd "$dir" && timeout $(( n / rate + 120 )) "${uac[@]}" > uac.txt 2>&1 < /dev/null) || rc=$?
  wait "$spid" || { echo "callcost: sipp uas exited non-zero" >&2; tail -5 "$dir/uas.txt" >&2; return 1; }
  [ "$rc" = 0 ] || { echo "callcost: sipp uac exit status $rc" >&2; tail -5 "$dir/uac.txt" >&2; return 1; }
  uac_result "$dir/stat.csv" "$tool" "$out" "sipp-$which.$n"
}
sipp-server() { sipp_pair "$1" "$2" uas; }
sipp-client() { sipp_pair "$1" "$2" uac; }

printf '%-11s %-10s %14s %14s %12s %8s\n' side tool "total(N=$n1)" "total(N=$n2)" "per call" retrans
status=0
for side in $sides; do
  for tool in $tools; do
    if ! "$side" "$tool" "$n1"; then status=1; continue; fi
    a=$TOTAL r1=$RETRANS
    if ! "$side" "$tool" "$n2"; then status=1; continue; fi
    b=$TOTAL r2=$RETRANS
    awk -v s="$side" -v t="$tool" -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" -v r="$r1+$r2" 'BEGIN {
      d = (b - a) / (n2 - n1)
      printf "%-11s %-10s %14s %14s %12s %8s\n", s, t, a, b, (t == "strace" ? sprintf("%.1f", d) : sprintf("%.0f", d)), r
    }'
  done
done
exit $status
