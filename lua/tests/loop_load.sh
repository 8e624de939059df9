# `sipkit load`: uac.lua's flow against uas.lua on loopback.  Exact
# totals only (no speed assertions): 20 calls at 20/s all succeed; the
# CSV has the header and rows; a failing flow and a rejecting UAS give
# exit status 1 with the reasons; --workers 2 sums the workers' totals.
. "$(dirname "$0")/loop_lib.sh"
start uas uas.lua 127.0.0.1:0 --ring 0
UAS=$ADDR
# (the rejecting UAS logs to its own file: the load run below writes $T/busy)
start busy_uas uas.lua 127.0.0.1:0 --reject 486
BUSY=$ADDR

check() { local l=$1; shift; if "$@"; then pass "$l"; else fail "$l"; fi; }
# load NAME WANT ARGS...: run `sipkit load ARGS` in $T, output in $T/NAME
load() {
  local name=$1 want=$2 rc
  shift 2
  (cd "$T" && timeout 60 "$SIPKIT" load "$@" > "$T/$name" 2> "$T/$name.err")
  rc=$?
  if [ "$rc" = "$want" ]; then pass "load $name exits $rc"; else
    fail "load $name exits $rc, want $want:"; sed 's/^/     /' "$T/$name" "$T/$name.err"; fi
}
has() { check "$1: $2" grep -qxF -- "$2" "$T/$1"; }

load ok 0 "$E/uac.lua" --rate 20 --calls 20 --stats-csv ok.csv -- "sip:bob@$UAS"
has ok "calls started: 20"
has ok "calls succeeded: 20"
has ok "calls failed: 0"
has ok "retransmissions: 0"
check "ok: 20 response times" grep -qE '^INVITE->final response time: p50 [0-9]+ ms, p90 [0-9]+ ms, p99 [0-9]+ ms \(20 responses\)$' "$T/ok"
check "uas saw 20 calls" [ "$(grep -c '^uas: call ended (bye_received)$' "$T/uas")" = 20 ]
csv="$T/ok.csv"
check "csv: exact header" [ "$(head -1 "$csv")" = \
  "elapsed_s,started,active,succeeded,failed,interval_rate,average_rate,retransmissions,rt_p50_ms,rt_p90_ms,rt_p99_ms" ]
check "csv: at least one row" [ "$(wc -l < "$csv")" -ge 2 ]
check "csv: every row has 11 columns" [ "$(awk -F, 'NR > 1 && NF != 11' "$csv" | wc -l)" = 0 ]
check "csv: last row totals 20 started, 0 active, 20 ok, 0 failed" \
  [ "$(tail -1 "$csv" | cut -d, -f2-5)" = "20,0,20,0" ]
check "csv: interval starts add up to 20" \
  [ "$(awk -F, 'NR > 1 { n += $2 - p; p = $2 } END { print n }' "$csv")" = 20 ]

# a flow that fails: false for call 3, an error for calls 5 and 7
cat > "$T/failing.lua" <<'LUA'
local sipkit = require "sipkit"
assert(arg[-1] == "sipkit load" and arg[1] == "x" and select(1, ...) == "x")
return {
  setup = function(args, info) return { tag = args[1], workers = info.workers } end,
  flow = function(ctx, n, t)
    assert(ctx.tag == "x" and ctx.workers == 1)
    sipkit.sleep(0.001)
    t:record(0.002)
    if n == 3 then return false end
    if n == 5 or n == 7 then error("call " .. n .. " broke") end
    return true
  end,
}
LUA
load failing 1 failing.lua --rate 100 --calls 10 -- x
has failing "calls started: 10"
has failing "calls succeeded: 7"
has failing "calls failed: 3"
has failing "INVITE->final response time: p50 2 ms, p90 2 ms, p99 2 ms (10 responses)"
has failing "failure: failing.lua:10: call 5 broke (1 call)"
has failing "failure: failing.lua:10: call 7 broke (1 call)"
has failing "failure: flow returned false (1 call)"

# a UAS that rejects: every call fails with the status
load busy 1 "$E/uac.lua" --rate 50 --calls 5 -- "sip:bob@$BUSY"
has busy "calls failed: 5"
has busy "failure: call failed: 486 Busy Here (5 calls)"
check "busy: rejections are response-time samples" grep -qE '\(5 responses\)$' "$T/busy"

# workers: shares of rate and calls, totals summed by the parent
load workers 0 "$E/uac.lua" --rate 40 --calls 21 --workers 2 --stats-csv w.csv -- "sip:bob@$UAS"
has workers "sipkit load: $E/uac.lua (2 workers)"
has workers "calls started: 21"
has workers "calls succeeded: 21"
has workers "calls failed: 0"
check "workers: 21 response times" grep -qE '\(21 responses\)$' "$T/workers"
check "workers csv: last row 21 started, 21 ok" [ "$(tail -1 "$T/w.csv" | cut -d, -f2-5)" = "21,0,21,0" ]
load wfail 1 failing.lua --rate 100 --calls 10 --workers 2 -- x
has wfail "calls failed: 10"
has wfail "failure: failing.lua:6: assertion failed! (10 calls)"
printf 'return { setup = function() error("no setup", 0) end, flow = function() return true end }\n' > "$T/nosetup.lua"
load nosetup 1 nosetup.lua --rate 100 --calls 10 --workers 2
has nosetup "calls started: 0"
has nosetup "failure: 2 of 2 workers ended without a report (see stderr)"
check "nosetup: each worker's error on stderr" [ "$(grep -c '^sipkit: no setup$' "$T/nosetup.err")" = 2 ]

# concurrency: at most one call at a time still completes every call
load conc 0 "$E/uac.lua" --rate 100 --calls 5 --concurrency 1 -- "sip:bob@$UAS"
has conc "calls succeeded: 5"
load dur 0 "$E/uac.lua" --rate 10 --duration 0.5 --buffer 1M -- "sip:bob@$UAS"
has dur "calls failed: 0"

# a pacer that fell behind starts the overdue calls a few per pass (at
# 1,000/s: 10, twice the calls due in a 5 ms pass), not all at once: call
# 1 holds the loop for 60 ms, so 39 calls are overdue when it returns.  A
# flow reads the loop time when its task first runs: one loop turn may
# run two passes (libuv runs due timers before and after its poll), so up
# to 20 calls share a loop time, where the uncapped pacer started all 39
# at one.
cat > "$T/burst.lua" <<'LUA'
local sipkit = require "sipkit"
local per_ms = {}
return {
  flow = function(_, n)
    local ms = math.floor(sipkit.now() * 1000 + 0.5)
    per_ms[ms] = (per_ms[ms] or 0) + 1
    if n == 1 then local t = os.clock() + 0.06 while os.clock() < t do end end
    return true
  end,
  teardown = function()
    local most = 0
    for _, c in pairs(per_ms) do most = math.max(most, c) end
    print("most calls started at one loop time: " .. most)
  end,
}
LUA
load burst 0 burst.lua --rate 1000 --calls 40
has burst "calls succeeded: 40"
check "burst: 10 to 20 calls started at one loop time" \
  awk '/^most calls started at one loop time: / { n = $NF } END { exit !(n >= 10 && n <= 20) }' "$T/burst"

# calls due less than 5 ms apart start together, in passes at least 5 ms
# apart (lua/sipkit/load.lua, PACE_TICK): at 1,000/s about 5 a pass
cat > "$T/passes.lua" <<'LUA'
local sipkit = require "sipkit"
local per_ms = {}
return {
  flow = function()
    local ms = math.floor(sipkit.now() * 1000 + 0.5)
    per_ms[ms] = (per_ms[ms] or 0) + 1
    return true
  end,
  teardown = function()
    local times, most, gap = {}, 0, math.huge
    for ms, c in pairs(per_ms) do times[#times + 1] = ms most = math.max(most, c) end
    table.sort(times)
    for i = 2, #times do gap = math.min(gap, times[i] - times[i - 1]) end
    print("passes: " .. #times .. ", most calls a pass: " .. most .. ", smallest gap: " .. gap .. " ms")
  end,
}
LUA
load passes 0 passes.lua --rate 1000 --calls 30
has passes "calls succeeded: 30"
check "passes: calls share passes at least 5 ms apart" \
  awk '/^passes: / { p = $2 + 0; m = $7 + 0; g = $10 + 0 } END { exit !(p >= 3 && p <= 8 && m >= 2 && m <= 10 && g >= 5) }' "$T/passes"

# a peer that falls behind: calls due wait while more requests than
# --max-unanswered have no response (lua/sipkit/load.lua).  slow.lua
# answers an INVITE after 0.3 s; its transaction sends 100 Trying at
# 200 ms (RFC 3261 §17.2.1), the first response.  At 1,000/s with at most
# 4 unanswered, calls 1-4 start at once and call 5 only after a 100 came
# back; unheld, call 5 starts about 5 ms after call 1.  At the end no
# request waits: sipkit.stats().unanswered is 0.
cat > "$T/slow.lua" <<'LUA'
local sipkit = require "sipkit"
local ua = assert(sipkit.ua{ bind = "127.0.0.1:0" })
print("slow: listening on " .. ua.addr)
io.stdout:flush()
ua:on("INVITE", function(req)
  sipkit.sleep(0.3)
  req:answer()
end)
sipkit.mailbox():get()
LUA
cat > "$T/held.lua" <<'LUA'
local sipkit = require "sipkit"
local target = ...
local started = {}
return {
  setup = function() return assert(sipkit.ua{ bind = "127.0.0.1:0" }) end,
  flow = function(ua, n, t)
    started[n] = sipkit.now()
    local call, err = t:invite(ua, target)
    if not call then return false, err end
    return call:bye()
  end,
  teardown = function()
    print(string.format("call 5 started %d ms after call 1", math.floor((started[5] - started[1]) * 1000 + 0.5)))
    print("unanswered at the end: " .. tostring(sipkit.stats().unanswered))
  end,
}
LUA
"$SIPKIT" run "$T/slow.lua" > "$T/slow" 2>&1 &
PIDS+=($!)
await_addr slow
SLOW=$ADDR
load held 0 held.lua --rate 1000 --calls 8 --max-unanswered 4 -- "sip:bob@$SLOW"
has held "calls succeeded: 8"
has held "retransmissions: 0"
check "held: call 5 waited for the first response (150 ms or more)" \
  awk '/^call 5 started / { n = $4 + 0 } END { exit !(n >= 150) }' "$T/held"
has held "unanswered at the end: 0"
check "held: the report says how long calls were held back" \
  grep -qE '^held back: 0\.[0-9]{2} s \(calls due waited while more requests than --max-unanswered had no response\)$' "$T/held"
load unheld 0 held.lua --rate 1000 --calls 8 --max-unanswered 0 -- "sip:bob@$SLOW"
has unheld "calls succeeded: 8"
check "unheld (--max-unanswered 0): call 5 did not wait" \
  awk '/^call 5 started / { n = $4 + 0 } END { exit !(n < 100) }' "$T/unheld"
check "unheld: no held back line" sh -c "! grep -q '^held back' '$T/unheld'"

# usage
load help 0 --help
for o in "usage: sipkit load SCRIPT.lua [OPTIONS] [-- SCRIPT ARGS...]" "--rate R" "--calls N" \
         "--concurrency C" "--duration S" "--rate-increase X" "--rate-interval S" "--rate-max R" \
         "--stats-csv FILE" "--workers N" "--buffer BYTES" "--max-unanswered N"; do
  check "load --help documents $o" grep -qF -- "$o" "$T/help"
done
load nobound 2 "$E/uac.lua" --rate 10 -- "sip:bob@$UAS"
check "no --calls / --duration: message" grep -qF "give --calls N or --duration S" "$T/nobound.err"
load badrate 2 "$E/uac.lua" --rate 0 --calls 1
load noscript 2 --calls 1
load missing 2 does-not-exist.lua --calls 1
printf 'return 42\n' > "$T/notflow.lua"
load notflow 1 notflow.lua --calls 1
check "not a flow: message" grep -qF "returns a flow function" "$T/notflow.err"
finish
