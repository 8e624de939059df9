#!/usr/bin/env bash
# tests/bench/load.sh BUILD - `make bench-load`: call-rate benchmark against
# SIPp (Debian sip-tester) on loopback.  Never part of `make test`: nothing
# here asserts on speed; it prints a table and writes it to
# BUILD/bench/load-results.md.
#
# For each socket-buffer setting (system default, then 4 MiB) and each
# rate (calls/s, held for BENCH_LOAD_SECONDS), four pairs:
#   sipp->sipkit     SIPp's built-in uac  ->  lua/examples/uas.lua --quiet under `sipkit run`
#   sipkit->sipp     `sipkit load` with uac.lua's flow  ->  SIPp's built-in uas
#   sipkit-w2->sipp  the same with `sipkit load --workers 2`
#   sipp->sipp       SIPp uac -> SIPp uas, the reference, in the same run
# A pair stops stepping up after the first rate that is not clean (a
# failed call, under 90 % of the rate achieved, or retransmissions over 1 %
# of the calls); the summary gives the highest clean rate of each pair and buffer
# setting with the CPU time per call of each side (utime + stime / calls)
# and each side's peak RSS (VmHWM) at that rate; then, at each rate where
# SIPp -> SIPp and a sipkit pair were both clean, the sipkit side's CPU
# per call beside SIPp's in the same role.
#
# Then CPU per call at a few rates, each pair CPU_REPEAT times in turn
# (with each buffer setting), as medians: one run's figure moves with the
# machine.
#
# Then memory per established idle call: BENCH_LOAD_HOLD_CALLS (10,000)
# calls set up at BENCH_LOAD_HOLD_RATE and held open, sipkit load with
# tests/bench/hold.lua -> uas.lua, and SIPp uac with a pause (-d) -> SIPp
# uas; (RSS with every call established - RSS idle) / calls per process.
# The client's idle RSS is the peak RSS of a one-call run.
#
# Columns: rate asked, rate achieved (calls / wall-clock time of the
# client), failed calls, retransmissions (the client's count), CPU% of the
# client and of the server (utime + stime: the server's from
# /proc/PID/stat deltas over the client's run, the client's from the
# shell's `times` for its waited-for children), INVITE -> final response
# p50 / p99 in ms (SIPp: its -trace_rtt samples; sipkit: its report).
#
#   BENCH_LOAD_RATES="500 1000 2000 3000 4000 6000 8000 12000"   BENCH_LOAD_SECONDS=5
#   BENCH_LOAD_BUFFERS="0 4194304"  (0: each tool's default: the system's for SIPp,
#                                    4 MiB capped by net.core.rmem_max for sipkit)
#   BENCH_LOAD_PAIRS="sipp->sipkit sipkit->sipp sipkit-w2->sipp sipp->sipp"
#   BENCH_LOAD_HOLD_CALLS=10000 BENCH_LOAD_HOLD_RATE=2500 (HOLD_CALLS=0: skip)
#   BENCH_LOAD_HOLD_PAIRS="sipkit sipp"
#   BENCH_LOAD_CPU_RATES="2000 4000 8000" BENCH_LOAD_CPU_REPEAT=3 (0: skip)
#   BENCH_LOAD_CPU_BUFFERS="0 4194304"
#   BENCH_LOAD_ONLY=hold  (only the memory per idle call, no rate sweep)
#   BENCH_LOAD_ONLY=cpu   (only the repeated same-rate CPU comparison)
#   BENCH_LOAD_PIN=1  (with 2 or more CPUs: the server on CPU 1, a one-process
#                      client on CPU 0; 0: the scheduler places them)
#
# Pinned, as for every pair alike: unpinned, the two processes of a pair
# share cores as the scheduler moves them, and a rate's CPU per call moved
# by up to +-25% run to run (SIPp -> sipkit at 3,000 calls/s: 81-128 us
# unpinned, 85-91 pinned; SIPp -> SIPp 88-93 and 87-96).  `--workers 2`
# stays unpinned: its two processes need both cores.
set -u -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
sipkit="$build/sipkit"
ex="$root/lua/examples"
rates=${BENCH_LOAD_RATES:-500 1000 2000 3000 4000 6000 8000 12000}
secs=${BENCH_LOAD_SECONDS:-5}
buffers=${BENCH_LOAD_BUFFERS:-0 4194304}
pairs_wanted=${BENCH_LOAD_PAIRS:-sipp->sipkit sipkit->sipp sipkit-w2->sipp sipp->sipp}
hold_calls=${BENCH_LOAD_HOLD_CALLS:-10000}
hold_rate=${BENCH_LOAD_HOLD_RATE:-2500}
hold_pairs=${BENCH_LOAD_HOLD_PAIRS:-sipkit sipp}
cpu_rates=${BENCH_LOAD_CPU_RATES:-2000 4000 8000}
cpu_repeat=${BENCH_LOAD_CPU_REPEAT:-3}
cpu_buffers=${BENCH_LOAD_CPU_BUFFERS:-0 4194304}
# the memory measurement alone takes seconds; the sweep takes minutes
[ "${BENCH_LOAD_ONLY:-}" = hold ] && buffers="" cpu_repeat=0
[ "${BENCH_LOAD_ONLY:-}" = cpu ] && buffers="" hold_calls=0
# sipkit run's transaction / dialog caps are sized for a small server (an
# INVITE transaction lives 32 s after its 2xx); the benchmark lifts them
# as sipkit load does by default.
sk_caps="--max-transactions 1000000 --max-dialogs 1000000"
results="$build/bench/load-results.md"
hz=$(getconf CLK_TCK)
pin_server=() pin_client=()
if [ "${BENCH_LOAD_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset > /dev/null; then
  pin_server=(taskset -c 1) pin_client=(taskset -c 0)
fi

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
# kB of a /proc/PID/status field (VmHWM, VmRSS), 0 when gone
vm_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# us per call: SECONDS CALLS
per_call() { awk -v s="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.0f", 1e6 * s / n; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
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

# Each run_* sets: ACHIEVED FAILED RETRANS CPU_C CPU_S P50 P99, and
# US_C US_S (CPU us per successful call) RSS_C RSS_S (peak RSS, kB).
# The client runs under /usr/bin/time (its user, sys and max RSS, workers
# included); the server's CPU comes from /proc/PID/stat deltas over the
# client's run and its peak RSS from VmHWM (a fresh server per rate).
client_time() { # FILE WALL OK: from /usr/bin/time -f '%U %S %M'
  local u s m
  read -r u s m < <(tail -1 "$1" 2>/dev/null) || true
  u=${u:-0}; s=${s:-0}; m=${m:-0}
  [[ $u =~ ^[0-9.]+$ ]] || { u=0; s=0; m=0; }
  local c
  c=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
  CPU_C=$(pct "$c" "$2"); US_C=$(per_call "$c" "$3"); RSS_C=$m
}
server_side() { # S0 S1 SPID WALL OK
  local sec
  sec=$(awk -v a="$2" -v b="$1" -v hz="$hz" 'BEGIN { print (a - b) / hz }')
  CPU_S=$(pct "$sec" "$4"); US_S=$(per_call "$sec" "$5"); RSS_S=$(vm_kb "$3" VmHWM)
}

run_sipp_client() { # run_sipp_client RATE BUF TARGET_PORT SERVER_PID
  local rate=$1 buf=$2 target=$3 spid=$4 calls t0 t1 s0 s1 wall dir
  calls=$(( rate * secs ))
  port_block
  dir="$tmp/sipp-$PORT"
  mkdir -p "$dir"
  s0=$(cpu_ticks "$spid"); t0=$(now)
  (cd "$dir" && timeout $(( secs + 30 )) /usr/bin/time -o time.txt -f '%U %S %M' \
     "${pin_client[@]}" sipp -sn uac "127.0.0.1:$target" -i 127.0.0.1 \
     -p "$PORT" -cp $(( PORT + 1 )) -mp $(( PORT + 2 )) $(sipp_buf "$buf") \
     -r "$rate" -m "$calls" -l $(( rate * 4 + 100 )) -timeout $(( secs + 20 ))s \
     -nostdin -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 > screen.txt 2>&1)
  t1=$(now); s1=$(cpu_ticks "$spid")
  wall=$(fsub "$t1" "$t0")
  local ok
  ok=$(sipp_stat "$dir/stat.csv" "SuccessfulCall(C)")
  FAILED=$(( calls - ok ))  # failed or never completed
  RETRANS=$(sipp_stat "$dir/stat.csv" "Retransmissions(C)")
  ACHIEVED=$(awk -v n="$ok" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  client_time "$dir/time.txt" "$wall" "$ok"
  server_side "$s0" "$s1" "$spid" "$wall" "$ok"
  cat "$dir"/*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' > "$dir/rt"
  P50=$(percentile 50 "$dir/rt"); P99=$(percentile 99 "$dir/rt")
}

run_sipkit_client() { # run_sipkit_client RATE BUF TARGET_PORT SERVER_PID WORKERS
  local rate=$1 buf=$2 target=$3 spid=$4 workers=$5 calls t0 t1 s0 s1 wall out="$tmp/load.out"
  calls=$(( rate * secs ))
  local rc=0
  s0=$(cpu_ticks "$spid"); t0=$(now)
  # sipkit load waits up to 32 s (its FINISH_GRACE, = Timer B/F) for the
  # calls in progress after the last start (a lost BYE ends only at
  # Timer F), then reports; the guard must outlast that, or timeout kills
  # it and /usr/bin/time with it: no report, no times (a row of zeros).
  timeout $(( secs + 32 + 30 )) /usr/bin/time -o "$tmp/load.time" -f '%U %S %M' \
    $([ "$workers" -gt 1 ] || echo "${pin_client[*]}") \
    "$sipkit" load "$ex/uac.lua" --rate "$rate" --calls "$calls" --quiet \
    $([ "$workers" -gt 1 ] && echo "--workers $workers") \
    $(sk_buf "$buf") -- "sip:service@127.0.0.1:$target" > "$out" 2> "$tmp/load.err" || rc=$?
  t1=$(now); s1=$(cpu_ticks "$spid")
  if [ "$rc" -gt 1 ] || ! grep -q '^calls succeeded: ' "$out"; then
    echo "bench-load: sipkit load (rate $rate, workers $workers) exit status $rc$([ "$rc" = 124 ] && echo ' (killed by timeout)')" >&2
    tail -5 "$tmp/load.err" "$tmp/load.time" >&2 2>/dev/null
  fi
  wall=$(fsub "$t1" "$t0")
  local ok
  ok=$(sed -n 's/^calls succeeded: //p' "$out"); ok=${ok:-0}
  FAILED=$(( calls - ok ))
  RETRANS=$(sed -n 's/^retransmissions: //p' "$out"); RETRANS=${RETRANS:--}
  ACHIEVED=$(awk -v n="$ok" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  client_time "$tmp/load.time" "$wall" "$ok"
  server_side "$s0" "$s1" "$spid" "$wall" "$ok"
  P50=$(sed -n 's/^INVITE->final response time: p50 \([0-9]*\) ms.*/\1/p' "$out"); P50=${P50:--}
  P99=$(sed -n 's/^INVITE->final response time: .* p99 \([0-9]*\) ms.*/\1/p' "$out"); P99=${P99:--}
}

# BUF [uas.lua's options] -> SPORT, SPID.  The rates run it --quiet, as
# SIPp's uas prints nothing per call; the hold counts its "answered" lines.
start_sipkit_uas() {
  port_block
  start_bg "$tmp/uas-$PORT.out" "${pin_server[@]}" "$sipkit" run $sk_caps $(sk_buf "$1") "$ex/uas.lua" "127.0.0.1:$PORT" --ring 0 "${@:2}"
  SPID=$BGPID; SPORT=$PORT
  for _ in $(seq 50); do grep -q "listening on" "$tmp/uas-$PORT.out" && return 0; sleep 0.1; done
  echo "bench-load: uas.lua did not start" >&2; cat "$tmp/uas-$PORT.out" >&2; exit 1
}
start_sipp_uas() { # BUF -> SPORT, SPID
  port_block
  mkdir -p "$tmp/sippuas-$PORT"
  start_bg "$tmp/sippuas-$PORT/screen.txt" bash -c "cd '$tmp/sippuas-$PORT' && exec ${pin_server[*]} sipp -sn uas -i 127.0.0.1 \
    -p $PORT -cp $(( PORT + 1 )) -mp $(( PORT + 2 )) $(sipp_buf "$1") -nostdin"
  SPID=$BGPID; SPORT=$PORT
  for _ in $(seq 50); do [ -n "$(ss -Huln "sport = :$PORT" 2>/dev/null)" ] && return 0; sleep 0.1; done
  echo "bench-load: sipp uas did not start" >&2; exit 1
}

t_start=$(now)
{
  echo "# sipkit load benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1), ${secs} s per rate, $([ ${#pin_server[@]} -gt 0 ] && echo "server on CPU 1, one-process client on CPU 0" || echo "unpinned")"
  echo
  echo "CPU us/call: utime + stime of the process / successful calls.  RSS: peak (VmHWM), MiB."
  echo
  echo "| buffers | pair (client->server) | rate | achieved | failed | retrans | CPU% client | CPU% server | us/call client | us/call server | RSS client | RSS server | p50 ms | p99 ms |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$results"
cat "$results"
summary="$tmp/summary"
: > "$summary"
clean_rows="$tmp/clean-rows" # buffers;pair;rate;us client;us server of each clean rate
: > "$clean_rows"

buf_label() { if [ "$1" -gt 0 ]; then echo "$(($1 / 1048576)) MiB"; else echo default; fi; }
# run_pair PAIR RATE BUF: one run of the pair, its server stopped after;
# sets what run_sipp_client / run_sipkit_client set
run_pair() {
  case $1 in
    "sipp->sipkit") start_sipkit_uas "$3" --quiet; run_sipp_client "$2" "$3" "$SPORT" "$SPID" ;;
    "sipkit->sipp") start_sipp_uas "$3"; run_sipkit_client "$2" "$3" "$SPORT" "$SPID" 1 ;;
    "sipkit-w2->sipp") start_sipp_uas "$3"; run_sipkit_client "$2" "$3" "$SPORT" "$SPID" 2 ;;
    "sipp->sipp")   start_sipp_uas "$3"; run_sipp_client "$2" "$3" "$SPORT" "$SPID" ;;
    *) echo "bench-load: unknown pair $1" >&2; exit 2 ;;
  esac
  stop_bg "$SPID"
}
# clean RATE: the run just made had no failed call, at least 90 % of the
# rate asked and retransmissions under 1 % of the calls (no storm)
clean() {
  awk -v f="$FAILED" -v a="$ACHIEVED" -v r="$1" -v x="${RETRANS/-/0}" -v n=$(( $1 * secs )) \
    'BEGIN { exit !(f == 0 && a >= 0.9 * r && x <= 0.01 * n) }'
}
for buf in $buffers; do
  label=$(buf_label "$buf")
  for pair in $pairs_wanted; do
    best="| $label | $pair | none | - | - | - | - |"
    for rate in $rates; do
      run_pair "$pair" "$rate" "$buf"
      line="| $label | $pair | $rate | $ACHIEVED | $FAILED | $RETRANS | $CPU_C | $CPU_S | $US_C | $US_S | $(mib "$RSS_C") | $(mib "$RSS_S") | $P50 | $P99 |"
      echo "$line" | tee -a "$results"
      clean "$rate" || break
      best="| $label | $pair | $rate | $US_C | $US_S | $(mib "$RSS_C") | $(mib "$RSS_S") |"
      echo "$label;$pair;$rate;$US_C;$US_S" >> "$clean_rows"
    done
    echo "$best" >> "$summary"
  done
done

if [ -n "$buffers" ]; then
{
  echo
  echo "## Highest clean rate (0 failed, >= 90 % of the rate achieved, retransmissions <= 1 % of calls)"
  echo
  echo "| buffers | pair (client->server) | calls/s | us/call client | us/call server | RSS client MiB | RSS server MiB |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  cat "$summary"
} | tee -a "$results"

# The highest clean rates differ from pair to pair, and CPU per call falls
# as the rate rises (more calls a loop turn): compare each side with SIPp
# in the same role at the same rate, wherever both pairs were clean.
{
  echo
  echo "## CPU us/call at the same rate, where SIPp -> SIPp and the sipkit pair were both clean"
  echo
  echo "server: sipp->sipkit's server against sipp->sipp's; client: sipkit->sipp's client against sipp->sipp's."
  echo
  echo "| buffers | calls/s | server: sipkit | server: SIPp | client: sipkit | client: SIPp |"
  echo "|---|---:|---:|---:|---:|---:|"
  awk -F';' '$2 == "sipp->sipp" { k = $1 ";" $3; order[++n] = k; rc[k] = $4; rs[k] = $5 }
             $2 == "sipp->sipkit" { ss[$1 ";" $3] = $5 }
             $2 == "sipkit->sipp" { sc[$1 ";" $3] = $4 }
             END { for (i = 1; i <= n; i++) { k = order[i]
                     if (!(k in ss) && !(k in sc)) continue
                     split(k, f, ";")
                     printf "| %s | %s | %s | %s | %s | %s |\n", f[1], f[2], (k in ss ? ss[k] : "-"), rs[k],
                            (k in sc ? sc[k] : "-"), rc[k] } }' "$clean_rows"
} | tee -a "$results"
fi

# CPU per call at the same rate, repeated: one run's figure moves by
# +-10% with the machine (the same build and pair, minutes apart: SIPp ->
# sipkit at 8,000 calls/s, 71-98 us), more than the gap it is read for.
# Each of CPU_RATES runs CPU_REPEAT times, the three pairs taking turns
# within each round so that a drift of the machine falls on all of them;
# the table gives each side's median and range over its clean runs.
cpu_run() { # cpu_run PAIR RATE BUF -> appends "buf;pair;rate;us client;us server" when clean
  run_pair "$1" "$2" "$3"
  echo "| $(buf_label "$3") | $1 | $2 | $ACHIEVED | $FAILED | $RETRANS | $US_C | $US_S |" >> "$tmp/cpu-runs"
  if clean "$2"; then echo "$3;$1;$2;$US_C;$US_S" >> "$tmp/cpu-clean"; fi
}
# cpu_median BUF RATE PAIR FIELD: median (range) of FIELD (4 client, 5 server) over the clean runs
cpu_median() {
  awk -F';' -v b="$1" -v r="$2" -v p="$3" -v c="$4" '$1 == b && $2 == p && $3 == r { print $c }' "$tmp/cpu-clean" | median_range
}
# median (range) of the numbers on stdin, one a line, or "-"
median_range() {
  sort -n | awk '{ v[++n] = $1 } END { if (!n) { print "-"; exit }
    m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf "%.0f (%s-%s, %d)", m, v[1], v[n], n }'
}
if [ "$cpu_repeat" -gt 0 ] && [ -n "$cpu_rates" ] && [ -n "$cpu_buffers" ]; then
  : > "$tmp/cpu-runs"; : > "$tmp/cpu-clean"
  for cpu_buf in $cpu_buffers; do
    for rate in $cpu_rates; do
      for _ in $(seq "$cpu_repeat"); do
        for pair in "sipp->sipkit" "sipkit->sipp" "sipp->sipp"; do cpu_run "$pair" "$rate" "$cpu_buf"; done
      done
    done
  done
  {
    echo
    echo "## CPU us/call at the same rate, $cpu_repeat runs each (pairs in turn)"
    echo
    echo "Median (lowest-highest, clean runs) of: server: sipp->sipkit's server against sipp->sipp's;"
    echo "client: sipkit->sipp's client against sipp->sipp's."
    echo
    echo "| buffers | calls/s | server: sipkit | server: SIPp | client: sipkit | client: SIPp |"
    echo "|---|---:|---|---|---|---|"
    for cpu_buf in $cpu_buffers; do
      for rate in $cpu_rates; do
        echo "| $(buf_label "$cpu_buf") | $rate | $(cpu_median "$cpu_buf" "$rate" "sipp->sipkit" 5)" \
          "| $(cpu_median "$cpu_buf" "$rate" "sipp->sipp" 5) | $(cpu_median "$cpu_buf" "$rate" "sipkit->sipp" 4)" \
          "| $(cpu_median "$cpu_buf" "$rate" "sipp->sipp" 4) |"
      done
    done
    echo
    echo "| run: buffers | pair | calls/s | achieved | failed | retrans | us/call client | us/call server |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    cat "$tmp/cpu-runs"
  } | tee -a "$results"
fi

# Memory per established idle call.  HOLD_CALLS calls at HOLD_RATE, held
# long enough that every call is up when RSS is sampled.
hold_run() { # hold_run sipkit|sipp
  local kind=$1 setup hold at srv0 srv1 cli0 cli1 cpid up p=0
  setup=$(awk -v n="$hold_calls" -v r="$hold_rate" 'BEGIN { printf "%d", n / r + 1 }')
  at=$(( setup + 2 )); hold=$(( at + 4 ))
  # the client's idle RSS: one call held (it has loaded the runtime, the
  # UA and the flow), sampled after 1.5 s
  if [ "$kind" = sipkit ]; then
    start_sipkit_uas 0; srv0=$(vm_kb "$SPID" VmRSS)
    start_bg /dev/null "$sipkit" load "$root/tests/bench/hold.lua" --rate 1 --calls 1 --quiet \
      -- "sip:service@127.0.0.1:$SPORT" 3
    cpid=$BGPID; sleep 1.5; cli0=$(vm_kb "$cpid" VmRSS); stop_bg "$cpid"
    start_bg "$tmp/hold.out" "$sipkit" load "$root/tests/bench/hold.lua" --rate "$hold_rate" \
      --calls "$hold_calls" --quiet -- "sip:service@127.0.0.1:$SPORT" "$hold"
    cpid=$BGPID
  else
    start_sipp_uas 0; srv0=$(vm_kb "$SPID" VmRSS)
    port_block; p=$PORT
    mkdir -p "$tmp/hold0-$p"
    start_bg "$tmp/hold0-$p/screen.txt" bash -c "cd '$tmp/hold0-$p' && exec sipp -sn uac 127.0.0.1:$SPORT -i 127.0.0.1 \
      -p $p -cp $(( p + 1 )) -mp $(( p + 2 )) -r 1 -m 1 -l $(( hold_calls + 100 )) -d 3000 -nostdin"
    cpid=$BGPID; sleep 1.5; cli0=$(vm_kb "$cpid" VmRSS); stop_bg "$cpid"
    port_block; p=$PORT
    mkdir -p "$tmp/hold-$p"
    start_bg "$tmp/hold-$p/screen.txt" bash -c "cd '$tmp/hold-$p' && exec sipp -sn uac 127.0.0.1:$SPORT -i 127.0.0.1 \
      -p $p -cp $(( p + 1 )) -mp $(( p + 2 )) -r $hold_rate -m $hold_calls -l $(( hold_calls + 100 )) \
      -d $(( hold * 1000 )) -nostdin -trace_stat -stf stat.csv -fd 1"
    cpid=$BGPID
  fi
  sleep "$at"
  srv1=$(vm_kb "$SPID" VmRSS); cli1=$(vm_kb "$cpid" VmRSS)
  if [ "$kind" = sipkit ]; then
    up=$(grep -c "answered" "$tmp/uas-$SPORT.out")
  else
    up=$(sipp_stat "$tmp/hold-$p/stat.csv" "CurrentCall")
  fi
  stop_bg "$cpid"; stop_bg "$SPID"
  echo "| $kind | $hold_calls | $up | $(mib "$cli0") -> $(mib "$cli1") | $(( (cli1 - cli0) * 1024 / hold_calls )) | $(mib "$srv0") -> $(mib "$srv1") | $(( (srv1 - srv0) * 1024 / hold_calls )) |"
}
if [ "$hold_calls" -gt 0 ]; then
  {
    echo
    echo "## Memory per established idle call ($hold_calls calls set up at $hold_rate calls/s, default buffers)"
    echo
    echo "sipkit: \`sipkit load tests/bench/hold.lua\` -> \`sipkit run uas.lua\`; SIPp: \`sipp -sn uac -d\` -> \`sipp -sn uas\`."
    echo "RSS in MiB idle -> with every call established; bytes per call = RSS growth / calls."
    echo "sipkit's count includes the INVITE transactions, which live 32 s after the 2xx (RFC 6026)."
    echo
    echo "| pair | calls | established (server) | client RSS | client bytes/call | server RSS | server bytes/call |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
  } | tee -a "$results"
  for kind in $hold_pairs; do
    case $kind in
      sipkit|sipp) hold_run "$kind" | tee -a "$results" ;;
      *) echo "bench-load: unknown hold pair $kind" >&2; exit 2 ;;
    esac
  done
fi
echo
echo "bench-load: results in $results ($(fsub "$(now)" "$t_start") s)"
