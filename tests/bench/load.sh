#!/usr/bin/env bash
# tests/bench/load.sh BUILD - `make bench-load`: call-rate benchmark against
# SIPp (Debian sip-tester) on loopback.  Never part of `make test`: nothing
# here asserts on speed; it prints a table and writes it to
# BUILD/bench/load-results.md.
#
# For each socket-buffer setting (system default, then 4 MiB) and each
# rate (calls/s, held for BENCH_LOAD_SECONDS), three pairs:
#   sipp->sipkit   SIPp's built-in uac  ->  lua/examples/uas.lua under `sipkit run`
#   sipkit->sipp   `sipkit load` with uac.lua's flow  ->  SIPp's built-in uas
#   sipp->sipp     SIPp uac -> SIPp uas, the reference, in the same run
# A pair stops stepping up after the first rate with failed calls.
#
# Columns: rate asked, rate achieved (calls / wall-clock time of the
# client), failed calls, retransmissions (the client's count), CPU% of the
# client and of the server (utime + stime: the server's from
# /proc/PID/stat deltas over the client's run, the client's from the
# shell's `times` for its waited-for children), INVITE -> final response
# p50 / p99 in ms (SIPp: its -trace_rtt samples; sipkit: its report).
#
#   BENCH_LOAD_RATES="100 500 1000 2000 4000"   BENCH_LOAD_SECONDS=5
#   BENCH_LOAD_BUFFERS="0 4194304"  (0: the system default)
set -u -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
sipkit="$build/sipkit"
ex="$root/lua/examples"
rates=${BENCH_LOAD_RATES:-100 500 1000 2000 4000}
secs=${BENCH_LOAD_SECONDS:-5}
buffers=${BENCH_LOAD_BUFFERS:-0 4194304}
results="$build/bench/load-results.md"
hz=$(getconf CLK_TCK)

command -v sipp > /dev/null || { echo "bench-load: sipp not found (Debian sip-tester; make deps)" >&2; exit 1; }
[ -x "$sipkit" ] || { echo "bench-load: $sipkit not built" >&2; exit 1; }
mkdir -p "$build/bench"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-bench-load.XXXXXX") || exit 2
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# A free UDP+TCP port block of 8 (SIPp binds -p, -cp and -mp..-mp+3).
next_base=$(( 20000 + RANDOM % 20000 ))
port_block() {
  local p
  while :; do
    p=$next_base
    next_base=$(( next_base + 10 ))
    [ "$next_base" -gt 60000 ] && next_base=20000
    if [ -z "$(ss -Hauln "( sport >= :$p and sport <= :$((p + 7)) )" 2>/dev/null)" ]; then
      PORT=$p
      return 0
    fi
  done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CHILD = the waited-for children's user+sys seconds so far (bash `times`,
# second line; run in this shell, not in a $(...) subshell)
child_secs() {
  times > "$tmp/times"
  CHILD=$(tail -1 "$tmp/times" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } print n }')
}
now() { echo "$EPOCHREALTIME"; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
pct() { awk -v a="$1" -v w="$2" 'BEGIN { printf "%.0f", (w > 0 ? 100 * a / w : 0) }'; }

# percentile P of the numbers in FILE (one a line) -> value or "-"
percentile() {
  local n
  n=$(wc -l < "$2")
  [ "$n" -gt 0 ] || { echo "-"; return; }
  sort -n "$2" | awk -v p="$1" -v n="$n" 'BEGIN { k = int((n * p + 99) / 100); if (k < 1) k = 1 } NR == k { print; exit }'
}
# sipp_stat FILE COLUMN -> that column of the last row of a -trace_stat file
sipp_stat() {
  awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                          { v = $c } END { print (v == "" ? 0 : v) + 0 }' "$1"
}

start_bg() { # start_bg OUT CMD...: background, PID in BGPID
  local out=$1
  shift
  "$@" > "$out" 2>&1 < /dev/null &
  BGPID=$!
  pids+=("$BGPID")
}
stop_bg() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

sipp_buf() { [ "$1" -gt 0 ] && echo "-buff_size $1"; }
sk_buf() { [ "$1" -gt 0 ] && echo "--buffer $1"; }

# Each run_* sets: ACHIEVED FAILED RETRANS CPU_C CPU_S P50 P99
run_sipp_client() { # run_sipp_client RATE BUF TARGET_PORT SERVER_PID
  local rate=$1 buf=$2 target=$3 spid=$4 calls t0 t1 c0 c1 s0 s1 wall dir
  calls=$(( rate * secs ))
  port_block
  dir="$tmp/sipp-$PORT"
  mkdir -p "$dir"
  s0=$(cpu_ticks "$spid"); child_secs; c0=$CHILD; t0=$(now)
  (cd "$dir" && timeout $(( secs * 4 + 60 )) sipp -sn uac "127.0.0.1:$target" -i 127.0.0.1 \
     -p "$PORT" -cp $(( PORT + 1 )) -mp $(( PORT + 2 )) $(sipp_buf "$buf") \
     -r "$rate" -m "$calls" -l $(( rate * 4 + 100 )) -timeout $(( secs * 4 + 30 ))s \
     -nostdin -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 > screen.txt 2>&1)
  t1=$(now); child_secs; c1=$CHILD; s1=$(cpu_ticks "$spid")
  wall=$(fsub "$t1" "$t0")
  local ok
  ok=$(sipp_stat "$dir/stat.csv" "SuccessfulCall(C)")
  FAILED=$(( calls - ok ))  # failed or never completed
  RETRANS=$(sipp_stat "$dir/stat.csv" "Retransmissions(C)")
  ACHIEVED=$(awk -v n="$ok" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  CPU_C=$(pct "$(fsub "$c1" "$c0")" "$wall")
  CPU_S=$(pct "$(awk -v a="$s1" -v b="$s0" -v hz="$hz" 'BEGIN { print (a - b) / hz }')" "$wall")
  cat "$dir"/*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' > "$dir/rt"
  P50=$(percentile 50 "$dir/rt"); P99=$(percentile 99 "$dir/rt")
}

run_sipkit_client() { # run_sipkit_client RATE BUF TARGET_PORT SERVER_PID
  local rate=$1 buf=$2 target=$3 spid=$4 calls t0 t1 c0 c1 s0 s1 wall out="$tmp/load.out"
  calls=$(( rate * secs ))
  s0=$(cpu_ticks "$spid"); child_secs; c0=$CHILD; t0=$(now)
  timeout $(( secs * 4 + 60 )) "$sipkit" load "$ex/uac.lua" --rate "$rate" --calls "$calls" --quiet \
    $(sk_buf "$buf") -- "sip:service@127.0.0.1:$target" > "$out" 2> "$tmp/load.err"
  t1=$(now); child_secs; c1=$CHILD; s1=$(cpu_ticks "$spid")
  wall=$(fsub "$t1" "$t0")
  local ok
  ok=$(sed -n 's/^calls succeeded: //p' "$out"); ok=${ok:-0}
  FAILED=$(( calls - ok ))
  RETRANS=$(sed -n 's/^retransmissions: //p' "$out"); RETRANS=${RETRANS:--}
  ACHIEVED=$(awk -v n="$ok" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  CPU_C=$(pct "$(fsub "$c1" "$c0")" "$wall")
  CPU_S=$(pct "$(awk -v a="$s1" -v b="$s0" -v hz="$hz" 'BEGIN { print (a - b) / hz }')" "$wall")
  P50=$(sed -n 's/^INVITE->final response time: p50 \([0-9]*\) ms.*/\1/p' "$out"); P50=${P50:--}
  P99=$(sed -n 's/^INVITE->final response time: .* p99 \([0-9]*\) ms.*/\1/p' "$out"); P99=${P99:--}
}

start_sipkit_uas() { # BUF -> SPORT, SPID
  port_block
  start_bg "$tmp/uas-$PORT.out" "$sipkit" run $(sk_buf "$1") "$ex/uas.lua" "127.0.0.1:$PORT" --ring 0
  SPID=$BGPID; SPORT=$PORT
  for _ in $(seq 50); do grep -q "listening on" "$tmp/uas-$PORT.out" && return 0; sleep 0.1; done
  echo "bench-load: uas.lua did not start" >&2; cat "$tmp/uas-$PORT.out" >&2; exit 1
}
start_sipp_uas() { # BUF -> SPORT, SPID
  port_block
  mkdir -p "$tmp/sippuas-$PORT"
  start_bg "$tmp/sippuas-$PORT/screen.txt" bash -c "cd '$tmp/sippuas-$PORT' && exec sipp -sn uas -i 127.0.0.1 \
    -p $PORT -cp $(( PORT + 1 )) -mp $(( PORT + 2 )) $(sipp_buf "$1") -nostdin"
  SPID=$BGPID; SPORT=$PORT
  for _ in $(seq 50); do [ -n "$(ss -Huln "sport = :$PORT" 2>/dev/null)" ] && return 0; sleep 0.1; done
  echo "bench-load: sipp uas did not start" >&2; exit 1
}

{
  echo "# sipkit load benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1), ${secs} s per rate"
  echo
  echo "| buffers | pair (client->server) | rate | achieved | failed | retrans | CPU% client | CPU% server | p50 ms | p99 ms |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$results"
cat "$results"

for buf in $buffers; do
  label=$([ "$buf" -gt 0 ] && echo "$((buf / 1048576)) MiB" || echo "default")
  for pair in "sipp->sipkit" "sipkit->sipp" "sipp->sipp"; do
    for rate in $rates; do
      case $pair in
        "sipp->sipkit") start_sipkit_uas "$buf"; run_sipp_client "$rate" "$buf" "$SPORT" "$SPID" ;;
        "sipkit->sipp") start_sipp_uas "$buf"; run_sipkit_client "$rate" "$buf" "$SPORT" "$SPID" ;;
        "sipp->sipp")   start_sipp_uas "$buf"; run_sipp_client "$rate" "$buf" "$SPORT" "$SPID" ;;
      esac
      stop_bg "$SPID"
      line="| $label | $pair | $rate | $ACHIEVED | $FAILED | $RETRANS | $CPU_C | $CPU_S | $P50 | $P99 |"
      echo "$line" | tee -a "$results"
      [ "$FAILED" -gt 0 ] && break
    done
  done
done
echo
echo "bench-load: results in $results"
