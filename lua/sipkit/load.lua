-- sipkit/load.lua - the `sipkit load` driver (src/cli/cmd_load.c runs it
-- as the main task through sipkit_lua_run_module; embedded in the module
-- like sipkit.lua, so require "sipkit.load" works wherever sipkit does).
--
-- The script contract.  Under `sipkit load` the script is loaded once with
-- arg[-1] == "sipkit load" and its own arguments (those after `--`) as
-- `arg[1..]` and `...`; it returns either a flow function or a table
--
--   return {
--     setup = function(args, info) ... return ctx end,  -- optional, once
--     flow  = function(ctx, n, t) ... return true end,   -- once per call
--     teardown = function(ctx) end,                      -- optional
--   }
--
-- setup runs in the main task before the first call (open the user agent
-- here; info = { worker = k, workers = N, reuseport = N > 1 }: with N > 1
-- a fixed BIND port must be opened with reuseport).  flow runs in a task
-- of its own for call n (1, 2, ...); the call succeeded when it returns a
-- true value, failed when it returns false / nil [, err] or raises.  t
-- measures INVITE -> final response times: t:invite(ua, uri, opts) is
-- ua:invite timed (a final response, 2xx or not, is a sample; a timeout
-- or a transport error is not), t:record(seconds) adds a sample measured
-- by the flow itself.
--
-- Calls start at the configured rate, paced from the loop clock: call k
-- is due at (k - 1) / rate seconds after the start (piecewise when the
-- rate increases), so waking late never shifts later calls; a pacer that
-- fell behind catches up at twice the rate at most (see pace).  Workers
-- (cmd_load.c forks them) run the same loop on a share of rate and calls
-- and send one snapshot line per interval and a final line on a pipe; the
-- parent process runs the `aggregate` mode below and prints the sums.
local sipkit = require "sipkit"

local M = {}

local fmt = string.format

---------------------------------------------------------------- histograms
-- Response times in whole milliseconds, as SIPp counts them: ms -> count.

local function hist_add(h, ms, n) h[ms] = (h[ms] or 0) + (n or 1) end

local function hist_merge(into, h) for ms, c in pairs(h) do hist_add(into, ms, c) end end

-- p in 0..100 -> ms (nil without samples): the smallest value with at
-- least p% of the samples at or below it.
local function hist_pct(h, ps)
  local keys, total = {}, 0
  for ms, c in pairs(h) do keys[#keys + 1] = ms; total = total + c end
  if total == 0 then return {}, 0 end
  table.sort(keys)
  local out = {}
  for i, p in ipairs(ps) do
    local need, seen = math.max(1, math.ceil(total * p / 100)), 0
    for _, ms in ipairs(keys) do
      seen = seen + h[ms]
      if seen >= need then out[i] = ms break end
    end
  end
  return out, total
end

local function hist_encode(h)
  local parts = {}
  for ms, c in pairs(h) do parts[#parts + 1] = ms .. ":" .. c end
  return #parts > 0 and table.concat(parts, ",") or "-"
end

local function hist_decode(s)
  local h = {}
  for ms, c in s:gmatch("(%d+):(%d+)") do hist_add(h, tonumber(ms), tonumber(c)) end
  return h
end

---------------------------------------------------------------- snapshots
-- A snapshot: cumulative counters of one process (or of the sum of the
-- workers) at the end of an interval, with that interval's histogram.

local COUNTERS = { "started", "active", "succeeded", "failed", "retrans", "interval_started",
  "held_ms" }

local function clean(s) return (tostring(s):gsub("[\t\r\n\30\31]", " ")) end

local function encode(kind, snap)
  local f = { kind, fmt("%.3f", snap.elapsed), fmt("%.3f", snap.interval) }
  for _, k in ipairs(COUNTERS) do f[#f + 1] = tostring(snap[k]) end
  f[#f + 1] = hist_encode(snap.hist)
  local errs = {}
  for msg, c in pairs(snap.errors or {}) do errs[#errs + 1] = c .. "\31" .. clean(msg) end
  f[#f + 1] = #errs > 0 and table.concat(errs, "\30") or "-"
  return table.concat(f, "\t") .. "\n"
end

local function decode(line)
  local f = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
  if (f[1] ~= "I" and f[1] ~= "F") or #f ~= 5 + #COUNTERS then return nil end
  local snap = { kind = f[1], elapsed = tonumber(f[2]), interval = tonumber(f[3]), errors = {} }
  for i, k in ipairs(COUNTERS) do snap[k] = tonumber(f[3 + i]) end
  snap.hist = hist_decode(f[4 + #COUNTERS])
  if f[5 + #COUNTERS] ~= "-" then
    for e in f[5 + #COUNTERS]:gmatch("[^\30]+") do
      local c, msg = e:match("^(%d+)\31(.*)$")
      if c then snap.errors[msg] = (snap.errors[msg] or 0) + tonumber(c) end
    end
  end
  return snap
end

---------------------------------------------------------------- output

local CSV_HEADER = "elapsed_s,started,active,succeeded,failed,interval_rate,average_rate,"
  .. "retransmissions,rt_p50_ms,rt_p90_ms,rt_p99_ms"
M.CSV_HEADER = CSV_HEADER

local function pct_text(p, n)
  if n == 0 then return "-" end
  return fmt("p50 %d p90 %d p99 %d ms", p[1], p[2], p[3])
end

-- The reporter: live line (TTY), CSV rows, final report.
local function reporter(o)
  local r = { total_hist = {} }
  local csv
  if o.csv then
    csv = assert(io.open(o.csv, "w"))
    csv:write(CSV_HEADER, "\n")
    csv:flush()
  end
  local live_shown = false

  function r.interval(snap)
    hist_merge(r.total_hist, snap.hist)
    local p, n = hist_pct(snap.hist, { 50, 90, 99 })
    local irate = snap.interval > 0 and snap.interval_started / snap.interval or 0
    local avg = snap.elapsed > 0 and snap.started / snap.elapsed or 0
    if csv then
      csv:write(fmt("%.3f,%d,%d,%d,%d,%.1f,%.1f,%d,%s,%s,%s\n", snap.elapsed, snap.started,
        snap.active, snap.succeeded, snap.failed, irate, avg, snap.retrans,
        n > 0 and tostring(p[1]) or "", n > 0 and tostring(p[2]) or "", n > 0 and tostring(p[3]) or ""))
      csv:flush()
    end
    if o.live then
      io.stderr:write(fmt("\r\27[K%6.1f s | started %d active %d ok %d failed %d | %.1f/s avg %.1f/s"
        .. " | retrans %d | INVITE->final %s%s", snap.elapsed, snap.started, snap.active,
        snap.succeeded, snap.failed, irate, avg, snap.retrans, pct_text(p, n),
        snap.held_ms > 0 and fmt(" | held %.1f s", snap.held_ms / 1000) or ""))
      io.stderr:flush()
      live_shown = true
    end
  end

  function r.final(snap)
    if live_shown then io.stderr:write("\n") io.stderr:flush() end
    if csv then csv:close() end
    local p, n = hist_pct(r.total_hist, { 50, 90, 99 })
    local out = io.stdout
    out:write(fmt("sipkit load: %s%s\n", o.script, o.workers > 1 and fmt(" (%d workers)", o.workers) or ""))
    out:write(fmt("elapsed: %.2f s\n", snap.elapsed))
    out:write(fmt("calls started: %d\n", snap.started))
    out:write(fmt("calls succeeded: %d\n", snap.succeeded))
    out:write(fmt("calls failed: %d\n", snap.failed))
    out:write(fmt("average rate: %.1f calls/s\n", snap.elapsed > 0 and snap.started / snap.elapsed or 0))
    out:write(fmt("retransmissions: %d\n", snap.retrans))
    if snap.held_ms > 0 then
      out:write(fmt("held back: %.2f s (calls due waited while more requests than"
        .. " --max-unanswered had no response)\n", snap.held_ms / 1000))
    end
    if n > 0 then
      out:write(fmt("INVITE->final response time: p50 %d ms, p90 %d ms, p99 %d ms (%d responses)\n",
        p[1], p[2], p[3], n))
    else
      out:write("INVITE->final response time: no samples\n")
    end
    local errs = {}
    for msg, c in pairs(snap.errors or {}) do errs[#errs + 1] = { msg, c } end
    table.sort(errs, function(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] < b[1]) end)
    for i = 1, math.min(#errs, 5) do out:write(fmt("failure: %s (%d call%s)\n", errs[i][1], errs[i][2], errs[i][2] == 1 and "" or "s")) end
    if #errs > 5 then out:write(fmt("failure: ... and %d other reasons\n", #errs - 5)) end
    if (snap.lost_workers or 0) > 0 then
      out:write(fmt("failure: %d of %d workers ended without a report (see stderr)\n",
        snap.lost_workers, o.workers))
    end
    out:flush()
  end
  return r
end

---------------------------------------------------------------- options
-- cmd_load.c passes KEY=VALUE strings (validated there), "--", then the
-- script's arguments.

local function parse_args(...)
  local o, sargs = { workers = 1, worker = 1, interval = 1 }, {}
  local args, i = { ... }, 1
  while i <= #args and args[i] ~= "--" do
    local k, v = args[i]:match("^([%w_]+)=(.*)$")
    if not k then error("sipkit.load: bad driver argument " .. args[i], 0) end
    o[k] = tonumber(v) or v
    i = i + 1
  end
  for j = i + 1, #args do sargs[#sargs + 1] = args[j] end
  o.live = o.live == 1
  return o, sargs
end

---------------------------------------------------------------- one process

local FINISH_GRACE = 32 -- s: calls still running this long after the last start fail
-- The collector's pause for a load: a new cycle when the heap reaches
-- 150% of what the last one kept, not Lua's 200%.  A load holds many idle
-- calls and its setup garbage waits for the next cycle: at 200 an idle
-- held call cost ~3.18 KB of RSS, at 150 ~2.96 KB, for ~0.5k more
-- instructions a call (lua/README.md, "Garbage collection").  A
-- script's setup may set its own.
local GC_PAUSE = 150

-- Calls due less than PACE_TICK apart start together, in passes that far
-- apart: a pass per call due (every 0.5 ms at 2,000 calls/s) woke the
-- loop, and the peer, once per call; in 5 ms passes the responses to a
-- pass come while the loop is awake, and sipkit load's CPU per call at
-- 2,000 calls/s fell from ~150 to ~105 us (context switches 1.5 -> 0.5
-- a call; README.md, "Load benchmark against SIPp").  SIPp's scheduler
-- starts its calls in passes too.  A call starts at most PACE_TICK late.
local PACE_TICK = 0.005

-- A peer (or this process) that falls behind leaves requests unanswered;
-- each one unanswered for T1 is sent again, the extra load puts it
-- further behind, and the run melts down: `sipkit load` at 12,000
-- calls/s against SIPp's uas on 2 cores managed 1,600 calls/s with 622
-- failed.  So the pacer holds calls due while more than max_unanswered
-- requests (sipkit.stats().unanswered) wait for their first response, and
-- the rate settles at what the peer sustains (there: 9,100-11,700
-- calls/s, none failed, no retransmission).  A healthy peer leaves a
-- round trip's worth unanswered, a few ms of calls on loopback.  The
-- default is the calls of 0.4 x T1 at the current rate (200 ms): while
-- the peer answers at the rate, a request waits about that long, under
-- T1; and at least 100.
local UNANSWERED_T1_SHARE = 0.4
local UNANSWERED_MIN = 100

local function err_text(e)
  local s = tostring(e)
  return (s:match("^[^\n]*"))
end

local function load_script(o, sargs)
  local chunk, lerr = loadfile(o.script, "t")
  if not chunk then error(lerr, 0) end
  -- the script sees arg as under `sipkit run`, marked as a load
  local a = { [-1] = "sipkit load", [0] = o.script }
  for i, v in ipairs(sargs) do a[i] = v end
  _G.arg = a
  local def = chunk(table.unpack(sargs))
  if type(def) == "function" then def = { flow = def } end
  if type(def) ~= "table" or type(def.flow) ~= "function" then
    error(o.script .. ": under `sipkit load` a script returns a flow function or"
      .. " { setup = fn(args, info) -> ctx, flow = fn(ctx, n, t) -> true|false }", 0)
  end
  return def
end

-- Run the load; emit(kind, snap) gets each interval ("I") and the end ("F").
local function run_load(o, sargs, emit)
  collectgarbage("incremental", GC_PAUSE)
  local def = load_script(o, sargs)
  local info = { worker = o.worker, workers = o.workers, reuseport = o.workers > 1 }
  local ctx = def.setup and def.setup(sargs, info) or {}

  local started, active, succeeded, failed = 0, 0, 0, 0
  local hist, errors = {}, {}
  local slot = sipkit.mailbox() -- a call ended
  local waiting_slot = false
  local pace -- the pacer (below): starts the calls that are due
  local pacer_waits = false -- for a call to end (concurrency)

  local timer = {}
  function timer.record(_, seconds) hist_add(hist, math.floor(seconds * 1000 + 0.5)) end
  function timer.invite(self, ua, uri, opts)
    local t0 = sipkit.now()
    local call, err = ua:invite(uri, opts)
    if call or (err and err.response) then self:record(sipkit.now() - t0) end
    return call, err
  end

  -- each call is a guarded task: call_ended sees how it ended
  local function run_flow(n) return def.flow(ctx, n, timer) end
  local function call_ended(ok, r, e)
    active = active - 1
    if ok and r then
      succeeded = succeeded + 1
    else
      failed = failed + 1
      local msg
      if ok then msg = e ~= nil and err_text(e) or "flow returned " .. tostring(r)
      else msg = r ~= nil and err_text(r) or "flow raised nil" end
      errors[msg] = (errors[msg] or 0) + 1
    end
    if pacer_waits then pacer_waits = false pace() end
    if waiting_slot then waiting_slot = false slot:put(true) end
  end
  local spawn_call = sipkit._guarded_spawner(call_ended)

  local t0 = sipkit.now()
  local last_tick, last_started = t0, 0
  local held_s, held_at = 0, nil -- time calls due were held back (max_unanswered); its last pass
  local function snapshot(now)
    local st = sipkit.stats() or {}
    local snap = { elapsed = now - t0, interval = now - last_tick, started = started, active = active,
      succeeded = succeeded, failed = failed, retrans = st.retransmissions or 0,
      interval_started = started - last_started, hist = hist, held_ms = math.floor(held_s * 1000) }
    last_tick, last_started, hist = now, started, {}
    return snap
  end

  local done = false
  local ticker = sipkit.spawn(function()
    local k = 1
    while not done do
      local due = t0 + k * o.interval
      sipkit.sleep(math.max(0, due - sipkit.now()))
      if done then break end
      emit("I", snapshot(sipkit.now()))
      k = k + 1
    end
  end)

  -- pacing: expected number of calls started by time now
  local rate = o.rate
  local seg_t, seg_n = t0, 0
  local next_change = o.rate_increase and o.rate_increase > 0 and t0 + o.rate_interval or nil
  local function advance(now)
    while next_change and now >= next_change do
      seg_n = seg_n + rate * (next_change - seg_t)
      seg_t = next_change
      rate = rate + o.rate_increase
      if o.rate_max and rate >= o.rate_max then rate = o.rate_max next_change = nil
      else next_change = next_change + o.rate_interval end
    end
  end
  local stop_at = o.duration and t0 + o.duration

  -- The pacer runs in the loop's timer callback, not in a task: a call
  -- started costs no wake-up of the main task.  It starts the calls due,
  -- then re-arms its timer for the next one, or waits for a call to end
  -- (concurrency), or tells the main task that the last one started.
  local paced = sipkit.mailbox()
  local now_s, call_after = sipkit.now, sipkit._call_after
  local max_calls, concurrency = o.calls, o.concurrency
  local max_unanswered, unanswered = o.max_unanswered, sipkit._unanswered
  local unanswered_window = UNANSWERED_T1_SHARE * (o.t1 or 500) / 1000
  -- Calls a pass may start.  A loop turn that ran late finds many calls
  -- overdue; starting them all in one pass sends a burst of INVITEs while
  -- the responses to earlier calls wait unread, and their retransmission
  -- timers fire: under load the client melts down instead of falling
  -- behind.  Capped, a late pacer catches up at twice the rate, a pass
  -- per PACE_TICK, and the loop reads between passes.
  function pace()
    local quota = math.max(4, math.ceil(rate * 2 * PACE_TICK))
    local limit = max_unanswered or math.max(UNANSWERED_MIN, math.ceil(rate * unanswered_window))
    local room = limit > 0 and limit - unanswered() or quota
    local held = room < quota
    if held then quota = math.max(room, 0) end
    while true do
      local now = now_s()
      if (max_calls and started >= max_calls) or (stop_at and now >= stop_at) then
        paced:put(true)
        return
      end
      if concurrency and active >= concurrency then
        pacer_waits = true -- call_ended paces again
        return
      end
      if next_change and now >= next_change then advance(now) end
      -- the next call is due in this rate segment, or at the next rate
      -- change, whichever comes first.  Due within a microsecond counts as
      -- due: the clock is in whole milliseconds, and the float error of
      -- a rate times a time (a few 1e-9 calls) must not arm a 0 ms timer,
      -- which would fire again at once at the same loop time, forever.
      local due = seg_t + (started - seg_n) / rate
      if due <= now + 1e-6 then
        if quota == 0 then
          -- held back: the time from the pass before, if that one was too
          if held then
            if held_at then held_s = held_s + (now - held_at) end
            held_at = now
          else
            held_at = nil
          end
          call_after(PACE_TICK, pace)
          return
        end
        quota = quota - 1
        started = started + 1
        active = active + 1
        spawn_call(run_flow, started)
      else
        if next_change and next_change < due then due = next_change end
        if stop_at and stop_at < due then due = stop_at end
        held_at = nil -- every call due started
        call_after(math.max(due - now, PACE_TICK), pace)
        return
      end
    end
  end
  pace()
  paced:get()

  -- let the calls in progress end
  local grace_end = sipkit.now() + FINISH_GRACE
  while active > 0 and sipkit.now() < grace_end do
    waiting_slot = true
    slot:get(math.max(0.001, grace_end - sipkit.now()))
  end
  if active > 0 then
    local msg = fmt("still running %d s after the last call started", FINISH_GRACE)
    errors[msg] = (errors[msg] or 0) + active
    failed = failed + active
    active = 0
  end
  done = true
  if def.teardown then def.teardown(ctx) end
  local snap = snapshot(sipkit.now())
  snap.errors = errors
  emit("F", snap)
  ticker = nil
  return failed
end

---------------------------------------------------------------- aggregate
-- The parent of --workers: one pipe per worker, read in turn; a round
-- holds one line of each worker still running.

local function aggregate(o)
  local rep = reporter(o)
  local pipes, last, alive = {}, {}, 0
  for path in tostring(o.pipes):gmatch("[^,]+") do
    pipes[#pipes + 1] = assert(io.open(path, "r"))
    alive = alive + 1
  end
  local lost = 0
  local function sum(kind)
    local s = { elapsed = 0, interval = 0, hist = {}, errors = {} }
    for _, k in ipairs(COUNTERS) do s[k] = 0 end
    for _, w in pairs(last) do
      s.elapsed = math.max(s.elapsed, w.elapsed)
      s.interval = math.max(s.interval, w.interval)
      for _, k in ipairs(COUNTERS) do
        if k == "held_ms" then s[k] = math.max(s[k], w[k]) -- the workers hold at once
        elseif k ~= "interval_started" or w.fresh then s[k] = s[k] + w[k] end
      end
      if w.fresh then hist_merge(s.hist, w.hist) w.fresh = false end
      if kind == "F" then for m, c in pairs(w.errors) do s.errors[m] = (s.errors[m] or 0) + c end end
    end
    return s
  end
  local total_hist = {}
  while alive > 0 do
    local got_interval = false
    for i, f in ipairs(pipes) do
      if f then
        local line = f:read("l")
        local snap = line and decode(line)
        if not snap then
          pipes[i] = false
          alive = alive - 1
          if not (last[i] and last[i].kind == "F") then lost = lost + 1 end
          f:close()
        else
          snap.fresh = true
          if snap.kind == "I" then got_interval = true else
            pipes[i] = false
            alive = alive - 1
            f:close()
          end
          last[i] = snap
          hist_merge(total_hist, snap.hist)
        end
      end
    end
    if got_interval and alive > 0 then rep.interval(sum("I")) end
  end
  local s = sum("F")
  s.active = 0
  rep.interval(s) -- the last, partial interval
  -- the final report's percentiles cover every interval of every worker
  rep.total_hist = total_hist
  s.lost_workers = lost
  s.active = 0
  rep.final(s)
  return (s.failed > 0 or lost > 0) and 1 or 0
end

---------------------------------------------------------------- entry

-- main(KEY=VALUE..., "--", script args...) -> exit status
function M.main(...)
  local o, sargs = parse_args(...)
  o.script = arg and arg[0] or o.script
  if o.mode == "aggregate" then return aggregate(o) end
  if o.mode == "worker" then
    local out = assert(io.open(o.report, "w"))
    out:setvbuf("full", 65536)
    local failed = run_load(o, sargs, function(kind, snap)
      out:write(encode(kind, snap))
      out:flush()
    end)
    out:close()
    return failed > 0 and 1 or 0
  end
  local rep = reporter(o)
  local final
  local failed = run_load(o, sargs, function(kind, snap)
    rep.interval(snap) -- "F": the last, partial interval
    if kind == "F" then final = snap end
  end)
  rep.final(final)
  return failed > 0 and 1 or 0
end

-- require "sipkit.load" is the driver's main function (sipkit.run wants a
-- function); the helpers ride along as upvalues only.
return M.main
