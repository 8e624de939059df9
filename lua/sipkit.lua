-- sipkit.lua - the `require "sipkit"` module: the Lua half of the binding.
--
-- lsipkit.c runs this chunk with its table of C functions (`core`) and
-- returns what it returns.  The C half parses, builds and drives the
-- runtime without ever waiting; waiting, timeouts and coroutines live here,
-- where script authors can read them.
local core = ...
if type(core) ~= "table" then
  error("lua/sipkit.lua is the Lua half of the C module sipkit.so, which embeds it: " ..
    "require \"sipkit\" through LUA_CPATH (build/lua/?.so), not LUA_PATH", 2)
end

local M = {
  _VERSION = "sipkit 0.1.0",
  parse = core.parse,
  request = core.request,
  uri = core.uri,
  sdp = core.sdp,
  sdp_offer = core.sdp_offer,
  sdp_answer = core.sdp_answer,
  dtmf_relay = core.dtmf_relay,
  auth_challenge = core.auth_challenge,
  auth_nonce = core.auth_nonce,
  auth_nonce_check = core.auth_nonce_check,
  reason_phrase = core.reason_phrase,
  error = core.error,
}

function M.gen_tag() return core.gen("tag") end
function M.gen_branch() return core.gen("branch") end
function M.gen_call_id() return core.gen("call_id") end

local pack, unpack = table.pack, table.unpack
-- globals the hot paths call, as upvalues (a global is a look-up in _ENV)
local setmetatable, type, select, error = setmetatable, type, select, error
local ceil, max = math.ceil, math.max
local co_create, co_resume = coroutine.create, coroutine.resume
local co_running, co_status, co_close = coroutine.running, coroutine.status, coroutine.close
local co_yield = coroutine.yield

---------------------------------------------------------------- errors

local function timeout_error(what)
  return core.error("TIMEOUT", (what or "operation") .. " timed out", { status = 408 })
end
M.timeout_error = timeout_error

---------------------------------------------------------------- scheduler
-- One run at a time: a libuv loop (core.rt_new), the tasks, and a FIFO of
-- tasks ready to resume.  A task suspends by parking (suspend below);
-- whatever wakes it (a timer, a message, another task) only queues it:
-- tasks are resumed by the loop below, never from inside a C callback.

-- A waiting task parks: core.park() suspends it in the Lua function that
-- called park, not inside a C call (coroutine.yield), whose frame would
-- keep 20 stack slots reserved for as long as the task waits; so the
-- stack of a task waiting in a shallow frame (an idle call's) shrinks to
-- its minimum at the next collection (lsipkit.c, l_park).  A parked task
-- resumes with no values: the wake-up's values come beside the resume.
local park = core.park
local parked = false  -- the task just resumed has parked
local wn, wa, wb = 0  -- the values of the wake-up being resumed (count, two)
local function suspend()
  parked = true
  park()
  -- the task stops here, before reading what woke it
  if wn == 1 then return wa end
  if wn == 2 then return wa, wb end
end

local run_state -- nil outside sipkit.run
local current   -- the task being resumed

local Task = {}
Task.__index = Task
Task.__name = "sipkit.task"

local function new_state()
  local st = {
    tasks = {},      -- task -> true while alive
    closers = {},    -- objects to close when the run ends (user agents)
    uas = {},        -- id -> UA
    next_id = 0,
  }
  return st
end

-- A nil wake-up value in the ready FIFO's arrays, and false a slot
-- resumed already: the arrays never hold nil, so they keep their array
-- parts.  A rehash counts only the slots in use: with holes it moved the
-- slots into the hash part, and every wake-up then made a new key.
local NIL = {}

-- The ready FIFO of the run (one run at a time): tasks and their
-- wake-up values in parallel arrays, so a wake-up makes no table (rn =
-- -1: ra holds a pack of more than two).  Upvalues rather than fields of
-- the run's state: every wake-up and every resume goes through them.
local ready, ra, rb, rn = {}, {}, {}, {}
local ready_head, ready_tail = 1, 0

local function schedule(task, ...)
  local i = ready_tail + 1
  ready_tail = i
  ready[i] = task
  local n = select("#", ...)
  if n <= 2 then
    local a, b = ...
    if a == nil then a = NIL end
    if b == nil then b = NIL end
    ra[i], rb[i] = a, b
  else
    ra[i], rb[i], n = pack(...), NIL, -1
  end
  rn[i] = n
end

-- Every wait has a fresh token: a late wake (a timer that fired while the
-- message it guarded arrived) finds another token and does nothing.  A
-- wait is the task and its token: what wakes it keeps those two, no
-- closure (an idle call's task waits for as long as the call is up).
local wait_seq = 0
local function new_wait(task)
  wait_seq = wait_seq + 1
  task.token = wait_seq
  return wait_seq
end

-- Wake task for its wait token with n (0..2) values a, b -> whether it
-- still waited for that.
local function wake(task, token, n, a, b)
  if task.token ~= token then return false end
  task.token = false
  if a == nil then a = NIL end
  if b == nil then b = NIL end
  local i = ready_tail + 1
  ready_tail = i
  ready[i], ra[i], rb[i], rn[i] = task, a, b, n
  return true
end

-- the same as a function: for the waits that register a callback (arm)
-- and for timeouts
local function waker(task)
  local token = new_wait(task)
  return function(...)
    if task.token == token then
      task.token = false
      schedule(task, ...)
      return true
    end
    return false
  end
end

-- A timer of the loop: fn() after seconds, or fn(nil, TIMEOUT error) when
-- `what` names the wait it bounds.  Returns the core's timer (tm:cancel()).
local function start_timer(seconds, fn, what)
  local st = run_state
  if not st then error("sipkit: no run", 2) end
  local tm, err = st.rt_timer(st.rt, ceil(seconds * 1000), fn, what) -- a negative delay is 0
  if not tm then error(err) end
  return tm
end

local function after(seconds, fn)
  local tm = start_timer(seconds, fn)
  return { cancel = function() tm:cancel() end }
end
-- sipkit._call_after(seconds, fn): fn() in the loop's timer callback
-- after seconds, not in a task of its own: it must not wait (it may
-- spawn).  For sipkit load's pacer, which would otherwise wake a task
-- for every call it starts.
M._call_after = function(seconds, fn)
  return start_timer(seconds, fn)
end
-- sipkit._unanswered() -> sipkit.stats().unanswered without the table of
-- every counter (sipkit load's pacer reads it every pass)
M._unanswered = function() return run_state.rt:unanswered() end
M.after = function(seconds, fn)
  if type(seconds) ~= "number" then error("sipkit.after: seconds expected", 2) end
  return after(seconds, function() M.spawn(fn) end)
end

-- Checked by every wait before it suspends (or arms anything): a park
-- that raised and was caught would leave `parked` set for a later yield.
local can_park = core.can_park
local function this_task(fname)
  local t = current
  if t and can_park(t.co) then return t end
  if not t or co_running() ~= t.co then
    error(fname .. " must be called from a sipkit task (inside sipkit.run or sipkit.spawn)", 3)
  end
  error(fname .. " cannot wait here: the task runs inside a C call (a metamethod or callback called from C)", 3)
end

local function unblocked(tm, disarm, ...)
  if tm then tm:cancel() end
  if disarm then disarm() end
  return ...
end

-- Suspend the current task until arm's waker fires or timeout seconds
-- pass (then nil, TIMEOUT error).  arm(wake, ctx) registers wake with what
-- the task waits for and may return a function that unregisters it.
local function block(fname, timeout, arm, ctx)
  local t = this_task(fname)
  local wake = waker(t)
  local disarm = arm and arm(wake, ctx)
  local tm = timeout and start_timer(timeout, wake, fname)
  return unblocked(tm, disarm, suspend())
end

local function finish_task(t, ok, r)
  run_state.tasks[t] = nil
  t.done = true
  t.ok, t.result = ok, r
  if t.joiners then
    for _, w in ipairs(t.joiners) do w(true) end
  end
  t.joiners = nil
end

-- what a guarded task yields, before its fn's results, when fn returned
local FLOW_ENDED = {}

local function resumed(t, ok, ...)
  current = nil
  wa, wb = nil, nil
  if parked then
    parked = false
    if ok then return end -- waiting for a wake-up
  end
  local on_end = t.on_end
  if on_end then -- a guarded task (guarded_spawner)
    if ok then
      if ... ~= FLOW_ENDED then return schedule(t) end
      t:_idle()
      return on_end(true, select(2, ...))
    end
    -- closed as pcall would unwind it: its to-be-closed variables run;
    -- the coroutine is dead, so the task is not reused
    co_close(t.co)
    run_state.tasks[t] = nil
    t.done = true
    return on_end(false, ...)
  end
  if not ok then
    local e = ...
    if type(e) ~= "string" then e = tostring(e) end
    finish_task(t, false, { n = 1, e })
    error(debug.traceback(t.co, e), 0)
  end
  if co_status(t.co) == "dead" then
    finish_task(t, true, pack(...))
  else
    schedule(t) -- a bare coroutine.yield() gives the others a turn
  end
end

function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("sipkit.spawn: function expected", 2) end
  if not run_state then error("sipkit.spawn: no run (call it inside sipkit.run)", 2) end
  local t = setmetatable({ co = co_create(fn), token = false }, Task)
  run_state.tasks[t] = true
  schedule(t, ...)
  return t
end

-- sipkit._guarded_spawner(on_end) -> spawn(fn, arg): fn(arg) in a task
-- whose end, by a return or an error, is on_end(true, results...) or
-- on_end(false, err), called by the scheduler outside any task; an error
-- does not end the run.  For sipkit load's calls: a pcall inside the task
-- would keep its C frame, and the 20 stack slots it reserves, on the
-- stack of every call for as long as the call is up.  on_end rides on a
-- class of the spawner's tasks: a task is two fields, co and token.
-- A task whose fn returned waits, up to MAX_IDLE_FLOWS of them, for the
-- next spawn instead of ending (a coroutine made and collected per call
-- cost ~8k instructions); one whose fn raised is closed, never reused.
-- spawn returns nothing: a pooled task is no handle of one call.
local MAX_IDLE_FLOWS = 64

-- the body of a guarded task: each fn's results go to resumed (above)
-- behind FLOW_ENDED, and the yield gives back the next fn and arg
local function flow_runner(fn, arg)
  while true do
    fn, arg = co_yield(FLOW_ENDED, fn(arg))
  end
end

function M._guarded_spawner(on_end)
  local idle = {}
  local class = setmetatable({ on_end = on_end, __name = Task.__name }, Task)
  class.__index = class
  function class._idle(t)
    t.token = false
    if #idle < MAX_IDLE_FLOWS then
      idle[#idle + 1] = t
    else
      run_state.tasks[t] = nil
      t.done = true
    end
  end
  return function(fn, arg)
    local n = #idle
    if n > 0 then
      local t = idle[n]
      idle[n] = nil
      schedule(t, fn, arg)
      return
    end
    local t = setmetatable({ co = co_create(flow_runner), token = false }, class)
    run_state.tasks[t] = true
    schedule(t, fn, arg)
  end
end

local function join_arm(wake, self)
  self.joiners = self.joiners or {}
  self.joiners[#self.joiners + 1] = wake
end

-- task:join([timeout]) -> true, results... of the task, or nil, err
function Task:join(timeout)
  if not self.done then
    local ok, e = block("task:join", timeout, join_arm, self)
    if not ok then return nil, e end
  end
  local r = self.result
  if not r then return true end
  return true, unpack(r, 1, r.n)
end

function Task:status() return self.done and "dead" or "alive" end

function M.sleep(seconds)
  if type(seconds) ~= "number" or seconds < 0 then
    error("sipkit.sleep: a number of seconds >= 0 expected", 2)
  end
  if not run_state then return M.run(M.sleep, seconds) end
  local t = this_task("sipkit.sleep")
  start_timer(seconds, t, new_wait(t)) -- dispatchers.timer wakes t
  return suspend() -- a tail call: the task parks in this frame
end

function M.now()
  local st = run_state
  if st then return st.rt_now(st.rt) / 1000 end
  return core.clock() / 1000
end

-- A queue with waiting receivers: put() hands a value to the oldest
-- waiting task, or keeps it; get(timeout) takes the oldest value or waits.
-- Every call holds a few mailboxes that mostly stay empty, so the queue
-- (items, head, tail) is made on first use and dropped once empty, and
-- the oldest waiting task and its wait's token are two fields (wt, wk):
-- a mailbox waited on for a whole call (a UAS's inbox) is one table.
-- Further waiters queue in `waiters`, as pairs.
local Mailbox = {}
Mailbox.__index = Mailbox

local function mailbox()
  return setmetatable({}, Mailbox)
end
M.mailbox = mailbox

-- obj[field], a mailbox made on first use
local function lazy_mailbox(obj, field)
  local box = obj[field]
  if not box then
    box = mailbox()
    obj[field] = box
  end
  return box
end

function Mailbox:waiting()
  return self.wt ~= nil
end

-- the next waiter becomes the oldest one
local function next_waiter(self)
  local ws = self.waiters
  if ws then
    self.wt, self.wk = ws[1], ws[2]
    table.remove(ws, 1)
    table.remove(ws, 1)
    if ws[1] == nil then self.waiters = nil end
  else
    self.wt, self.wk = nil, nil
  end
end

local function add_waiter(self, t, token)
  if self.wt == nil then
    self.wt, self.wk = t, token
    return
  end
  local ws = self.waiters
  if not ws then
    ws = {}
    self.waiters = ws
  end
  ws[#ws + 1] = t
  ws[#ws + 1] = token
end

-- A waiter leaves when woken by put; one woken otherwise (its timeout) is
-- taken out here, by get once it resumes.
local function remove_waiter(self, t, token)
  if self.wt == t and self.wk == token then
    next_waiter(self)
    return
  end
  local ws = self.waiters
  if not ws then return end
  for i = #ws - 1, 1, -2 do
    if ws[i] == t and ws[i + 1] == token then
      table.remove(ws, i)
      table.remove(ws, i)
      break
    end
  end
  if ws[1] == nil then self.waiters = nil end
end

function Mailbox:put(v)
  local t = self.wt
  while t do
    local token = self.wk
    next_waiter(self)
    if wake(t, token, 1, v) then return end
    t = self.wt
  end
  local items = self.items
  if not items then
    items = {}
    self.items, self.head, self.tail = items, 1, 0
  end
  self.tail = self.tail + 1
  items[self.tail] = v
end

function Mailbox:empty() return not self.items or self.head > self.tail end

-- a wait with a timer: woken with no values by the timer
-- (dispatchers.timer), else by put (v) or close (nil, err), which took
-- the waiter out
local function got(self, t, token, tm, what, ...)
  if select("#", ...) == 0 then
    remove_waiter(self, t, token)
    return nil, timeout_error(what)
  end
  tm:cancel()
  return ...
end

function Mailbox:get(timeout, what)
  if not self:empty() then
    local v = self.items[self.head]
    self.items[self.head] = nil
    self.head = self.head + 1
    if self.head > self.tail then self.items, self.head, self.tail = nil, nil, nil end
    return v
  end
  if self.closed then return nil, self.closed end
  local t = this_task(what or "receive")
  local token = new_wait(t)
  add_waiter(self, t, token)
  if timeout then
    return got(self, t, token, start_timer(timeout, t, token), what or "receive", suspend())
  end
  -- only put (v) and close (nil, err) end this wait, both after taking
  -- the waiter out: a tail call, the task parks in this frame
  return suspend()
end

-- End every wait with nil, err; later gets return it at once.
function Mailbox:close(err)
  self.closed = err
  local t = self.wt
  while t do
    local token = self.wk
    next_waiter(self)
    wake(t, token, 2, nil, err)
    t = self.wt
  end
end

local dispatchers = {}   -- kind -> function(id, ...) -> boolean, called by the core
M._dispatchers = dispatchers

-- fn: a function, called with nil, TIMEOUT error when what names the wait
-- it bounds; or a sleeping task, what its wait's token
dispatchers.timer = function(_, fn, what)
  if type(fn) == "table" then wake(fn, what, 0)
  elseif what then fn(nil, timeout_error(what)) else fn() end
  return true
end

-- Run ready tasks until none is left, so a task just spawned reaches its
-- first wait (say ua:accept) before the loop reads the sockets; after
-- MAX_ROUNDS rounds the loop gets a turn anyway, so tasks that keep
-- yielding cannot starve it.
local MAX_ROUNDS = 64
-- A task is resumed with its wake-up's n (0..2) values a, b, or n == -1
-- and a packed (a new task's arguments); a parked task reads them from
-- wn, wa, wb instead.
local function step_ready()
  for _ = 1, MAX_ROUNDS do
    local last = ready_tail
    if ready_head > last then
      -- empty: start again at 1, so the FIFO reuses its arrays' slots
      ready_head, ready_tail = 1, 0
      return
    end
    repeat
      local i = ready_head
      local t, n, a, b = ready[i], rn[i], ra[i], rb[i]
      ready[i], ra[i], rb[i], rn[i] = false, false, false, false
      ready_head = i + 1
      if not t.done then
        if a == NIL then a = nil end
        if b == NIL then b = nil end
        current = t
        wn, wa, wb = n, a, b
        if n == 0 then resumed(t, co_resume(t.co))
        elseif n == 1 then resumed(t, co_resume(t.co, a))
        elseif n == 2 then resumed(t, co_resume(t.co, a, b))
        else resumed(t, co_resume(t.co, unpack(a, 1, a.n))) end
      end
    until ready_head > last
  end
end

local function teardown(st)
  for t in pairs(st.tasks) do
    if co_status(t.co) == "suspended" then co_close(t.co) end
  end
  for i = #st.closers, 1, -1 do
    pcall(st.closers[i])
  end
  st.rt:close()
end

-- sipkit.run(fn, ...) -> what fn returns.  Runs the loop until fn (the
-- main task) returns; an error in any task ends the run with that error
-- and its traceback.  Inside a run it simply calls fn.
function M.run(fn, ...)
  if type(fn) ~= "function" then error("sipkit.run: function expected", 2) end
  if run_state then return fn(...) end
  local st = new_state()
  st.rt = assert(core.rt_new(dispatchers))
  -- the methods themselves: several a call, and each look-up through the
  -- userdata's metatable costs as much as the call
  st.rt_now, st.rt_timer = st.rt.now, st.rt.timer
  run_state = st
  ready, ra, rb, rn, ready_head, ready_tail = {}, {}, {}, {}, 1, 0
  local rt = st.rt
  local rt_step = rt.step
  local ok, err = pcall(function(...)
    local main = M.spawn(fn, ...)
    while not main.done do
      if ready_head <= ready_tail then
        step_ready()
        -- tasks still ready after MAX_ROUNDS: the loop gets a turn without
        -- waiting; none ready: the blocking step below comes next anyway
        -- (a non-blocking one first cost an epoll_wait per wake-up)
        if not main.done and ready_head <= ready_tail then rt_step(rt, false) end
      else
        local alive = rt_step(rt, true) -- flushes stdout before it waits
        if not alive and ready_head > ready_tail then
          error("sipkit.run: every task is waiting and nothing can wake them (deadlock)", 0)
        end
      end
    end
    return main
  end, ...)
  current = nil
  -- closing the UAs reports their dialogs' ends to the dispatchers, which
  -- look at run_state: clear it only afterwards
  local tok, terr = pcall(teardown, st)
  run_state = nil
  if not ok then error(err, 0) end
  if not tok then error(terr, 0) end
  return unpack(err.result, 1, err.result.n)
end

function M.running() return run_state ~= nil end

-- sipkit.stats() -> the runtime's counters (datagrams_in/out, bytes_in/out,
-- retransmissions, malformed, injected_drops/dups/delays, auto_replies,
-- txn_timeouts, transactions, dialogs, transport_errors, unanswered: the
-- requests sent with no response yet), or nil outside a run.
function M.stats() return run_state and run_state.rt:stats() end

---------------------------------------------------------------- user agents
-- The C core (sipkit_ua) owns sockets, transactions and dialogs; these
-- tables give them coroutine-shaped methods.  C callbacks arrive through
-- the dispatchers below, which only record and queue: a waiting task is
-- resumed by the scheduler, and anything that sends (auto-answers, BYE of
-- an abandoned 2xx) runs in a task of its own, never inside a callback.

local UA, Call, Request, Pending, Forward, Subscription = {}, {}, {}, {}, {}, {}
Forward.__index = Forward
Forward.__name = "sipkit.Forward"
Subscription.__index = Subscription
Subscription.__name = "sipkit.Subscription"
UA.__index = UA
UA.__name = "sipkit.UA"
Call.__index = Call
Call.__name = "sipkit.Call"
Pending.__index = Pending
Pending.__name = "sipkit.Pending"
Pending.keep_2xx = true -- a BYE's pending says false
-- an INVITE's pending: the flag and the default ride on the class, so
-- its own fields fit in a table of eight
local InvitePending = setmetatable({ invite = true, __name = Pending.__name }, Pending)
InvitePending.__index = InvitePending
-- ua:invite's: its caller gets the call, never the pending, so the 2xx
-- makes no msg (a copy of the whole message), only the call's remote SDP
local CallPending = setmetatable({ invite = true, keep_2xx = false, __name = Pending.__name }, Pending)
CallPending.__index = CallPending
Request.__name = "sipkit.Request"
-- The request's own fields, absent until set: never looked up in the msg
-- (each look-up there is a trip through msg's __index in C).  answered,
-- call and new_call are never absent (new_request makes them false).
local REQUEST_OWN = { srv = true, cancelled = true, events = true, forwarded = true, ended = true }
Request.__index = function(self, k)
  local m = Request[k]
  if m ~= nil or REQUEST_OWN[k] then return m end
  return self.msg[k] -- method, uri, from, to, body, sdp, dtmf ... of the request
end

local AUTO_ANSWER_AFTER = 4 -- s: a request handed to call:receive and left unanswered

local function need_run(fname)
  if not run_state then
    error(fname .. " must be called inside sipkit.run (or a script under `sipkit run`)", 3)
  end
  return run_state
end

local function next_id(st)
  st.next_id = (st.next_id or 0) + 1
  return st.next_id
end

-- headers = { "Name: value", {name, value}, Name = value, Name = {v1, v2} }
-- -> array of "Name: value" lines (named ones sorted, so output is stable)
local function header_lines(h)
  local out = {}
  if h == nil then return out end
  if type(h) ~= "table" then error("sipkit: headers must be a table", 3) end
  for _, v in ipairs(h) do
    if type(v) == "table" then out[#out + 1] = v[1] .. ": " .. tostring(v[2])
    else out[#out + 1] = tostring(v) end
  end
  local names = {}
  for k in pairs(h) do if type(k) == "string" then names[#names + 1] = k end end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = h[k]
    if type(v) == "table" then
      for _, x in ipairs(v) do out[#out + 1] = k .. ": " .. tostring(x) end
    else
      out[#out + 1] = k .. ": " .. tostring(v)
    end
  end
  return out
end
M.header_lines = header_lines
local function lines_or_nil(h)
  if h == nil then return nil end
  return header_lines(h)
end
-- the options of a call without any, never written to
local NO_OPTS = {}

local function status_error(status, msg)
  local reason = msg and msg.reason or core.reason_phrase(status)
  local code = "REJECTED"
  if not msg and status == 408 then code = "TIMEOUT"
  elseif not msg and status == 503 then code = "TRANSPORT" end
  local text = string.format("%d %s", status, reason)
  if code == "TIMEOUT" then text = "no response (timeout, 408)"
  elseif code == "TRANSPORT" then text = "transport error (503): nothing listens there or no route" end
  return core.error(code, text, { status = status, reason = reason, response = msg })
end

local function ended_error(why)
  return core.error("ENDED", "dialog ended (" .. tostring(why) .. ")", { why = why })
end

-- host part of "127.0.0.1:5080" / "[::1]:5080"
local function addr_host(addr)
  return addr:match("^%[(.-)%]") or addr:match("^([^:]+)") or addr
end

---------------------------------------------------------------- pending requests

-- p: the pending's fields, made by the caller in one constructor with
-- every field the request will get (false until set), so the table is
-- made at its final size, never grown; class: Pending, InvitePending or
-- CallPending; via: the core object that sends (the UA's, or a dialog),
-- as via:request(p, quiet_1xx, method, uri, body, ctype, header lines,
-- extra), which hands p back with each response, and no provisional one
-- when quiet_1xx: p has no on_provisional and never gets one (only
-- invite_async's caller can set it after the send); extra: nil or
-- {to=, from=, dest=, no_auth=, prack=, call_id=, cseq=}
local function send(p, class, quiet_1xx, via, method, uri, body, ctype, headers, extra)
  setmetatable(p, class)
  local r, err = via:request(p, quiet_1xx, method, uri, body, ctype, headers, extra)
  if not r then return nil, err end
  p.req = r
  return p
end

local function deadline_left(deadline)
  if not deadline then return nil end
  return max(0, deadline - M.now())
end

-- A pending request is its own queue of responses: the task waiting for
-- the next one (wt, its wait's token wk) is woken with status, msg; one
-- that comes while no task waits (invite_async's caller is busy) queues
-- in q as {status, msg}.  No mailbox and no event table per response.
local function deliver(p, status, msg)
  local t = p.wt
  if t then
    p.wt = nil
    if wake(t, p.wk, 2, status, msg) then return end
  end
  local q = p.q
  if not q then
    q = {}
    p.q = q
  end
  q[#q + 1] = { status, msg }
end

-- the next response of p: status, msg; or nil, TIMEOUT error once
-- deadline (loop clock) passed
local function next_response(p, deadline, what)
  local q = p.q
  if q then
    local ev = table.remove(q, 1)
    if not q[1] then p.q = nil end
    return ev[1], ev[2]
  end
  local t = this_task(what)
  local token = new_wait(t)
  p.wt, p.wk = t, token
  if not deadline then return suspend() end -- a tail call: parks in this frame
  -- the timer wakes t with no values (dispatchers.timer): no closure
  local tm = start_timer(deadline_left(deadline), t, token)
  local status, msg = suspend()
  if status then
    tm:cancel()
    return status, msg
  end
  p.wt = nil
  return nil, timeout_error(what)
end

-- p:result([timeout]) -> final 2xx msg, or nil, err (err.status, err.response)
function Pending:result(timeout)
  local deadline = timeout and M.now() + timeout
  while true do
    local status, msg = next_response(self, deadline, self.method or "request")
    if not status then
      self.abandoned = true
      return nil, msg
    end
    if status >= 200 then
      if status < 300 then return msg or true end
      return nil, status_error(status, msg)
    end
    if self.on_provisional then self.on_provisional(msg, status) end
  end
end

-- INVITE: p:wait([timeout]) -> call, or nil, err.  On timeout the INVITE
-- is cancelled; a 2xx that still arrives is ACKed by the core and ended
-- with a BYE here.
function Pending:wait(timeout)
  timeout = timeout or self.timeout
  local deadline = timeout and M.now() + timeout
  while true do
    local status, msg = next_response(self, deadline, "invite")
    if not status then
      self.abandoned = true
      if self.req:live() then self.req:cancel() end
      return nil, msg
    end
    if status >= 300 then return nil, status_error(status, msg) end
    if status >= 200 then
      if not self.call then
        return nil, core.error("STATE", "2xx without a dialog", { status = status, response = msg })
      end
      return self.call
    end
    if self.on_provisional and msg then self.on_provisional(msg, status) end
  end
end

function Pending:cancel()
  if not self.req or not self.req:live() then
    return nil, core.error("STATE", "the INVITE has a final response already")
  end
  return self.req:cancel()
end

---------------------------------------------------------------- calls

-- A call holds only what an established idle call needs: thousands may
-- be up at once.  Its inbox is made when someone receives or a request
-- comes (most UAC calls never see one).
local function new_call(ua, dlg, role)
  -- made with room for the fields every answered call gets (a nil field
  -- of a constructor still sizes the table): growing from four to eight
  -- rehashes the table (~1k instructions a call)
  local c = setmetatable({ ua = ua, dlg = dlg, role = role, state = "early", remote_sdp = nil,
    local_sdp = nil, request_handler = nil, end_handler = nil }, Call)
  ua.calls[dlg] = c
  return c
end

local function inbox(c) return lazy_mailbox(c, "inbox") end
-- the o= version of our last SDP offer: the class's until a re-offer sets the call's own
Call.sdp_version = 1

local function call_info(self, k)
  local i = self.dlg:info()
  return i and i[k]
end
function Call:call_id() return self._call_id or call_info(self, "call_id") end

function Call:_ended_err()
  return ended_error(self.end_reason or "ended")
end

-- call:request(method, {headers=, body=, content_type=, sdp=, timeout=})
-- -> final 2xx response, or nil, err
-- keep_2xx false: the 2xx's msg is not made (a BYE's caller only wants
-- to know it succeeded), the result is true instead
local function call_request(self, method, opts, keep_2xx)
  if self.state == "ended" then return nil, self:_ended_err() end
  local body, ctype = opts.body, opts.content_type
  if opts.sdp then body, ctype = opts.sdp, "application/sdp" end
  local p, err = send({ ua = self.ua, method = method, req = false, wt = false, wk = false,
    keep_2xx = keep_2xx }, Pending, true, self.dlg, method, nil, body, ctype,
    lines_or_nil(opts.headers))
  if not p then return nil, err end
  return p:result(opts.timeout)
end

function Call:request(method, opts)
  return call_request(self, method, opts or NO_OPTS, true)
end

function Call:info(body, content_type, opts)
  opts = opts or {}
  opts.body, opts.content_type = body, content_type or "application/dtmf-relay"
  return self:request("INFO", opts)
end

-- One INFO per digit (application/dtmf-relay), interval seconds apart.
function Call:dtmf(digits, opts)
  if type(digits) ~= "string" then error("call:dtmf: a string of digits expected", 2) end
  opts = opts or {}
  local duration, interval = opts.duration or 160, opts.interval or 0.1
  for i = 1, #digits do
    local body, e = core.dtmf_relay(digits:sub(i, i), duration)
    if not body then error("call:dtmf: " .. tostring(e), 2) end
    local ok, err = self:info(body, "application/dtmf-relay", { timeout = opts.timeout })
    if not ok then return nil, err end
    if i < #digits and interval > 0 then M.sleep(interval) end
  end
  return true
end

function Call:_offer(opts)
  self.sdp_version = self.sdp_version + 1
  local m = self.ua:_media(opts)
  m.sess_version = self.sdp_version
  return core.sdp_offer(m)
end

function Call:reinvite(opts)
  opts = opts or {}
  local sdp = opts.sdp or self:_offer(opts)
  local r, err = self:request("INVITE", { sdp = sdp, headers = opts.headers, timeout = opts.timeout })
  if not r then return nil, err end
  self.local_sdp = sdp
  if r:_has_sdp() then self.remote_sdp = r.body end
  return r
end

function Call:update(opts)
  opts = opts or {}
  return self:request("UPDATE", opts)
end

function Call:refer(target, opts)
  opts = opts or {}
  local h = header_lines(opts.headers)
  h[#h + 1] = "Refer-To: <" .. target .. ">"
  return self:request("REFER", { headers = h, timeout = opts.timeout })
end

function Call:bye(opts)
  if self.state == "ended" then return true end
  local r, err = call_request(self, "BYE", opts or NO_OPTS, false)
  self.state = "ended"
  if not r then return nil, err end
  return true
end
Call.hangup = Call.bye

-- The handlers of incoming requests (ua:on's, a call's) run in pooled
-- tasks: a task whose handler returned waits for the next handler instead
-- of ending, as making a task (its coroutine) and collecting it cost more
-- than the rest of a request's dispatch.  At most MAX_IDLE_WORKERS wait.
local MAX_IDLE_WORKERS = 64

local function worker(fn, arg)
  local idle = run_state.idle_workers
  while true do
    fn(arg)
    if #idle >= MAX_IDLE_WORKERS then return end
    local t = current
    new_wait(t)
    idle[#idle + 1] = t
    fn, arg = nil, nil -- not kept while waiting
    fn, arg = suspend()
  end
end

-- fn(arg) in a task of the pool
local function run_handler(fn, arg)
  local idle = run_state.idle_workers
  local n = #idle
  if n == 0 then
    M.spawn(worker, fn, arg)
    return
  end
  local t = idle[n]
  idle[n] = nil
  wake(t, t.token, 2, fn, arg)
end

local function auto_answer(req) req:_auto() end

-- The next in-dialog request (INFO, BYE, re-INVITE, NOTIFY ...) with
-- :respond; nil, err (code ENDED) once the dialog has ended.  A request
-- handed over here is answered by the script; one that arrived while no
-- task was receiving was answered 200 already (req.answered).
-- A request handed to the script unanswered: answered 200 at the next
-- receive, or after AUTO_ANSWER_AFTER s.
local function hand(call, req)
  if req and not req.answered then
    call.handed = req
    start_timer(AUTO_ANSWER_AFTER, function()
      if not req.answered then run_handler(auto_answer, req) end
    end)
  end
  return req
end

function Call:receive(timeout)
  local prev = self.handed
  if prev and not prev.answered then prev:_auto() end
  local box = self.inbox
  if not box then
    -- a call served by on_request / on_end never made its inbox
    if self.end_reason then return nil, self:_ended_err() end
    box = inbox(self)
  end
  if not box:empty() then return hand(self, box:get()) end
  -- one that comes while we wait is handed over by _incoming: a tail
  -- call, the waiting task is no deeper than its receive
  return box:get(timeout, "call:receive")
end

-- for x in obj:events() (a call, a forward, a subscription): obj:receive()
-- until it gives nil.  The iterator is one shared function with obj as the
-- loop's state, so a loop makes no closure (a UAS's call often waits in
-- one for as long as it is up), and it tail-calls receive, so the loop's
-- wait is one frame above it.
local function receive_next(obj) return obj:receive() end
local function events(self) return receive_next, self end

Call.events = events

-- A call's handlers run one at a time, in order, as call:events() hands
-- a task the requests: one task serves the events that came while it ran
-- (a BYE and the end come together), and goes once they are served.
local CALL_END = {} -- the end's place in a call's queue of events

local function serve_queue(call)
  local queue = call.serving
  local i = 1
  while queue[i] do
    local ev = queue[i]
    if ev == CALL_END then
      call.end_handler(call)
    else
      call.request_handler(ev, call)
      -- left unanswered by the handler: answered 200 now
      if not ev.answered then ev:_auto() end
    end
    i = i + 1
  end
  call.serving = nil
end

local function serve(call, ev)
  local queue = call.serving
  if queue then
    queue[#queue + 1] = ev
  else
    call.serving = { ev }
    run_handler(serve_queue, call)
  end
end

-- call:on_request(fn): each request of the dialog from now on (the ones
-- queued already first) runs fn(req, call), and call:on_end(fn) runs
-- fn(call) when the dialog ends (at once if it has), in a task the call
-- has only while they run.  A call served so needs no task of its own
-- while it is idle: a task waiting in call:events() weighs ~1.2 KB (its
-- coroutine).
function Call:on_request(fn)
  if type(fn) ~= "function" then error("call:on_request: a function expected", 2) end
  self.request_handler = fn
  local box = self.inbox
  while box and not box:empty() do serve(self, box:get()) end
  return self
end

function Call:on_end(fn)
  if type(fn) ~= "function" then error("call:on_end: a function expected", 2) end
  self.end_handler = fn
  if self.end_reason then serve(self, CALL_END) end
  return self
end

function Call:_incoming(req)
  if self.request_handler then return serve(self, req) end
  local box = inbox(self)
  if box:waiting() then
    hand(self, req)
  elseif not req.answered then
    run_handler(auto_answer, req)
  end
  box:put(req)
end

---------------------------------------------------------------- incoming requests

-- a request's CANCEL news, made when someone waits for it or it comes
local function request_events(r) return lazy_mailbox(r, "events") end

local function new_request(ua, srv, msg, call, method)
  -- method copied from msg: read on every respond and by most scripts.
  -- call and new_call are false, not absent: each look-up of an absent
  -- field is a call of Request.__index (a Lua function), and new_call set
  -- later would grow the table (callcost server: 158.9k -> 146.2k
  -- instructions a call)
  local r = setmetatable({ ua = ua, srv = srv, msg = msg, call = call or false, answered = false,
    method = method, new_call = false }, Request)
  if srv then ua.by_srv[srv] = r end
  return r
end

-- req:respond(code [, {reason=, headers=, body=, content_type=, sdp=,
-- reliable=}]) -> true or nil, err
-- The response's parts go to the core as arguments: no table per response.
local function respond(self, code, reason, body, ctype, header_list, reliable)
  if self.answered or not self.srv then
    return nil, core.error("STATE", self.cancelled and "request was cancelled" or "request already answered")
  end
  local ok, dlg = self.srv:respond(code, reason, ctype, body, header_list, reliable)
  if not ok then return nil, dlg end
  if code >= 200 then
    -- the final ended the core's server transaction: its handle (and
    -- by_srv's entry) need not live as long as the request object does
    self.answered, self.srv = true, nil
  end
  local m = self.method
  if dlg and not self.call and (m == "INVITE" or m == "SUBSCRIBE" or m == "REFER") and code < 300 then
    local call = self.new_call
    if not call then -- the first 1xx or 2xx of the dialog: a 180 and then the 200 share it
      call = self.ua.calls[dlg] or new_call(self.ua, dlg, "uas")
      self.new_call = call
      if m == "INVITE" and self.msg:_has_sdp() then call.remote_sdp = self.msg.body end
    end
    if m ~= "INVITE" and code >= 200 then
      call.state = "confirmed" -- a subscription's dialog: NOTIFY it with call:request
    end
  end
  if self.call and m == "INVITE" and code >= 200 and code < 300 then
    if body then self.call.local_sdp = body end
    if self.msg:_has_sdp() then self.call.remote_sdp = self.msg.body end
  end
  return true, self.new_call or nil
end

function Request:respond(code, opts)
  if type(code) ~= "number" then error("respond: a status code expected", 2) end
  if not opts then return respond(self, code) end
  local body, ctype = opts.body, opts.content_type
  if opts.sdp then body, ctype = opts.sdp, "application/sdp" end
  return respond(self, code, opts.reason, body, ctype, lines_or_nil(opts.headers), opts.reliable)
end

-- the msg's methods, called on the request
function Request:header(name) return self.msg:header(name) end
function Request:headers(name) return self.msg:headers(name) end

function Request:ring(opts)
  if not opts then return respond(self, 180) end
  return self:respond(180, opts)
end
function Request:reject(code, opts) return self:respond(code or 486, opts) end

-- 200 with SDP (an answer to the offer, or an offer when the INVITE had
-- none), then wait for the ACK: -> call, or nil, err
function Request:answer(opts)
  opts = opts or NO_OPTS
  local sdp = opts.sdp
  if sdp == nil then
    local ua = self.ua
    -- the media of an answer without options: the UA's, made once
    local m = opts == NO_OPTS and ua.answer_media or ua:_media(opts)
    if opts == NO_OPTS then ua.answer_media = m end
    if self.msg:_has_sdp() then sdp = core.sdp_answer(self.msg.body, m) else sdp = core.sdp_offer(m) end
  end
  sdp = sdp or nil
  local ok, err = respond(self, 200, nil, sdp, sdp and "application/sdp", lines_or_nil(opts.headers))
  if not ok then return nil, err end
  local call = self.new_call
  if not call then return nil, core.error("STATE", "200 created no dialog") end
  call.local_sdp = sdp
  -- The task waits for the ACK itself: dispatchers.ack (or dialog_end)
  -- wakes it, no mailbox per call.  Without a timeout of the script's no
  -- timer: the core ends the dialog (no_ack) when no ACK came within 64*T1.
  local what = "answer (waiting for the ACK)"
  local t = this_task(what)
  local token = new_wait(t)
  local acking, dlg = self.ua.acking, call.dlg
  acking[dlg] = t
  local ack, e
  if opts.timeout then
    local tm = start_timer(opts.timeout, function(a, b) wake(t, token, 2, a, b) end, what)
    ack, e = unblocked(tm, nil, suspend())
  else
    ack, e = suspend()
  end
  acking[dlg] = nil
  if not ack then return nil, e end
  call.state = "confirmed"
  return call
end

-- true once a CANCEL arrived; nil, TIMEOUT when none came within timeout
function Request:wait_cancel(timeout)
  if self.cancelled then return true end
  local v, err = request_events(self):get(timeout, "wait_cancel")
  if v then return true end
  return nil, err
end

-- Proxy (RFC 3261 §16): req:forward{uri=, dest=, record_route=, headers=}
-- -> forward or nil, err.  The request goes on to uri (the new
-- Request-URI; nil: its own, after Route processing) with our Via on top,
-- Max-Forwards one less, a Route naming us consumed, Record-Route added
-- when asked; each response comes back through the core, which relays it
-- upstream (also 2xx retransmissions, and a CANCEL downstream).  The
-- request is answered from then on (req:respond fails).
function Request:forward(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("req:forward: a table expected", 2) end
  if self.answered or not self.srv then
    return nil, core.error("STATE", self.cancelled and "request was cancelled" or "request already answered")
  end
  local st = run_state
  local id = next_id(st)
  local f = setmetatable({ req = self, ua = self.ua, queue = mailbox() }, Forward)
  st.forwards[id] = f
  local ok, err = self.srv:forward({ uri = opts.uri, dest = opts.dest, record_route = opts.record_route,
    headers = lines_or_nil(opts.headers) }, id)
  if not ok then
    st.forwards[id] = nil
    return nil, err
  end
  self.answered = true
  self.forwarded = true
  return f
end

-- f:receive([timeout]) -> {status=, reason=, msg=, cancel=} for each
-- response relayed upstream (100 is not relayed; a final the proxy made
-- itself, 408 or 503, has msg nil), {status = 0, cancel = true, msg =
-- the CANCEL} when the caller cancelled; nil after the final.
function Forward:receive(timeout)
  if self.ended then return nil end
  local ev, err = self.queue:get(timeout, "forward")
  if not ev then return nil, err end
  if ev.status >= 200 then self.ended, self.final = true, ev end
  return ev
end

Forward.events = events

-- f:wait([timeout]) -> final status, response msg (nil for our own 408 / 503)
function Forward:wait(timeout)
  local deadline = timeout and M.now() + timeout
  while not self.ended do
    local ev, err = self:receive(deadline_left(deadline))
    if not ev then return nil, err end
  end
  return self.final.status, self.final.msg
end

-- Answer what the script left unanswered: 200, with an SDP answer for a
-- re-INVITE, so an unexpected request never breaks a flow.
function Request:_auto()
  if self.answered or not self.srv then return end
  if self.method == "INVITE" and self.call then
    local m = self.ua:_media({})
    local sdp = self.msg:_has_sdp() and core.sdp_answer(self.msg.body, m) or self.call.local_sdp
    respond(self, 200, nil, sdp, sdp and "application/sdp")
  else
    respond(self, 200)
  end
end

---------------------------------------------------------------- dispatchers

dispatchers.response = function(_, p, status, dlg)
  local st = run_state
  -- a response's msg is made only when someone has a use for it: a
  -- provisional one for on_provisional, a 2xx unless the request's
  -- result is a yes (keep_2xx false: a BYE) or only its SDP matters
  -- (CallPending), any other final for its error
  local msg
  if status < 200 then
    if not p.on_provisional then return true end
    msg = st.rt:event_msg()
  else
    if status >= 300 or p.keep_2xx then msg = st.rt:event_msg() end
    if status < 300 and dlg then
      if p.invite then
        local c = p.ua.calls[dlg] or new_call(p.ua, dlg, "uac")
        c.state = "confirmed"
        c.local_sdp = p.local_sdp or nil
        if msg then
          -- the 2xx stays with the pending (invite_async's caller may keep
          -- it), not with the call: ~760 bytes an established call need not hold
          p.response = msg
          if msg:_has_sdp() then c.remote_sdp = msg.body end
        else
          c.remote_sdp = st.rt:event_sdp()
        end
        p.call = c
        if p.abandoned then M.spawn(function() c:bye() end) end
      else
        local sub = p.subscription
        if sub and not sub.dlg then
          sub.dlg = dlg
          p.ua.calls[dlg] = sub
        end
      end
    end
  end
  deliver(p, status, msg)
  return true
end

dispatchers.forward = function(id, status, msg)
  local st = run_state
  local f = st.forwards[id]
  if not f then return true end
  if status >= 200 then st.forwards[id] = nil end
  f.queue:put({ status = status, msg = msg, cancel = status == 0 or nil,
    reason = msg and msg.reason or (status > 0 and core.reason_phrase(status)) or nil })
  return true
end

-- A NOTIFY for a subscription whose 2xx has not come yet (RFC 6665
-- §4.1.2.4): the oldest pending subscription of that event package.
local function pending_subscription(ua, msg)
  local ev = (msg:header("Event") or ""):match("^%s*([^;%s]+)")
  for _, sub in ipairs(ua.subscribing) do
    if not sub.dlg and sub.event == ev then return sub end
  end
end

-- method: msg.method, given by the core
dispatchers.request = function(id, srv, dlg, msg, routed, method)
  local ua = run_state.uas[id]
  if not ua or not msg then return false end
  method = method or msg.method
  if routed then
    -- proxy mode: a request of others' dialog; without a handler the
    -- core forwards it
    local h = ua.routed_handler
    if not h then return false end
    run_handler(h, new_request(ua, srv, msg, nil, method))
    return true
  end
  if dlg then
    local call = ua.calls[dlg]
    if not call and method == "NOTIFY" then
      call = pending_subscription(ua, msg)
      if call then
        call.dlg = dlg
        ua.calls[dlg] = call
      end
    end
    if not call then return false end
    if getmetatable(call) == Subscription then
      -- the core answers 200 (and ends the dialog on terminated)
      if method == "NOTIFY" then call:_notify(new_request(ua, nil, msg, nil, method)) end
      return false
    end
    if method == "BYE" then
      -- the core answers 200 and ends the dialog; the script still sees it
      local r = new_request(ua, nil, msg, call, method)
      r.answered = true
      call:_incoming(r)
      return false
    end
    call:_incoming(new_request(ua, srv, msg, call, method))
    return true
  end
  local h = ua.handlers[method]
  if h then
    run_handler(h, new_request(ua, srv, msg, nil, method))
    return true
  end
  if method == "INVITE" then
    if not ua.listen_invite then return false end
    ua.invites:put(new_request(ua, srv, msg, nil, method))
    return true
  end
  if method ~= "OPTIONS" and ua.listen_other then
    ua.requests:put(new_request(ua, srv, msg, nil, method))
    return true
  end
  return false
end

dispatchers.ack = function(id, dlg, msg)
  local ua = run_state.uas[id]
  local answering = ua and ua.acking[dlg]
  -- a later ACK (retransmitted) is not waited for: token false once woken
  if answering and answering.token then wake(answering, answering.token, 1, msg or true) end
  return true
end

dispatchers.cancel = function(id, srv)
  local ua = run_state.uas[id]
  local req = ua and ua.by_srv[srv]
  if req then
    req.cancelled = true
    req.answered = true -- the core answered 487
    request_events(req):put("cancel")
  end
  return true
end

dispatchers.dialog_end = function(id, dlg, why)
  local ua = run_state.uas[id]
  local call = ua and ua.calls[dlg]
  if call then
    call.state = "ended"
    call.end_reason = why
    local box, answering = call.inbox, ua.acking[dlg]
    if box or answering then
      local err = ended_error(why)
      if box then box:close(err) end
      if answering and answering.token then wake(answering, answering.token, 2, nil, err) end
    end
    ua.calls[dlg] = nil
    if call.end_handler then serve(call, CALL_END) end
  end
  return true
end

---------------------------------------------------------------- the UA

-- The core's default Allow list (src/ua.c); a registrar adds REGISTER:
-- sipkit.ua{ allow = sipkit.ALLOW .. ", REGISTER" }.  The core answers 405
-- to a method outside the list before any handler sees it.
M.ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, MESSAGE, REFER, SUBSCRIBE, NOTIFY"

-- sipkit.ua{bind=, user=, password=, domain=, display=, allow=, supported=,
-- accept=bool, receive=bool, rtp_port=} -> ua or nil, err
function M.ua(opts)
  local st = need_run("sipkit.ua")
  opts = opts or {}
  if type(opts) ~= "table" then error("sipkit.ua: a table of options expected", 2) end
  st.uas = st.uas or {}
  st.idle_workers = st.idle_workers or {}
  local id = next_id(st)
  st.forwards = st.forwards or {}
  local c, err = core.ua_open(st.rt, id, {
    bind = opts.bind or "127.0.0.1:0", user = opts.user, domain = opts.domain,
    display = opts.display, password = opts.password, allow = opts.allow,
    supported = opts.supported, reuseport = opts.reuseport, proxy = opts.proxy })
  if not c then return nil, err end
  local ua = setmetatable({
    c = c, id = id, port = c:port(), addr = c:addr(), user = opts.user or "sipkit",
    handlers = {}, invites = mailbox(), requests = mailbox(), calls = {}, subscribing = {},
    acking = {}, -- dlg -> the task of an answer waiting for its ACK
    by_srv = setmetatable({}, { __mode = "k" }),
    listen_invite = opts.accept, listen_other = opts.receive, rtp_port = opts.rtp_port,
  }, UA)
  ua.host = addr_host(ua.addr)
  if ua.host == "0.0.0.0" or ua.host == "::" then
    ua.host = opts.domain or (ua.host == "::" and "[::1]" or "127.0.0.1") -- as the core does
  elseif ua.host:find(":", 1, true) then
    ua.host = "[" .. ua.host .. "]"
  end
  ua.domain = opts.domain or ua.host
  ua.uri = "sip:" .. ua.user .. "@" .. ua.domain
  ua.contact = "sip:" .. ua.user .. "@" .. ua.host .. ":" .. ua.port
  st.uas[id] = ua
  st.closers[#st.closers + 1] = function() ua:close() end
  return ua
end

function UA:_media(opts)
  return { address = opts.address or self.host, port = opts.rtp_port or self.rtp_port or 40000,
    codecs = opts.codecs, hold = opts.hold, sess_version = opts.sess_version }
end

function UA:close()
  if self.closed then return end
  self.closed = true
  self.registration = nil
  self.c:close() -- reports each dialog's end first
  if run_state and run_state.uas then run_state.uas[self.id] = nil end
  local err = core.error("CLOSED", "user agent closed")
  self.invites:close(err)
  self.requests:close(err)
  if run_state and run_state.forwards then
    for fid, f in pairs(run_state.forwards) do
      if f.ua == self then
        run_state.forwards[fid] = nil
        f.queue:close(err)
      end
    end
  end
end
UA.__close = UA.close

-- ua:request{method=, uri=, to=, from=, dest=, headers=, body=,
-- content_type=, timeout=, no_auth=} -> final 2xx response or nil, err
function UA:request(opts)
  if type(opts) ~= "table" then error("ua:request: a table expected", 2) end
  if self.closed then error("ua:request: user agent is closed", 2) end
  local extra = { to = opts.to, from = opts.from, dest = opts.dest, no_auth = opts.no_auth,
    call_id = opts.call_id, cseq = opts.cseq }
  local p, err = send({ ua = self, method = opts.method, req = false, wt = false, wk = false,
    on_provisional = opts.on_provisional }, Pending, not opts.on_provisional, self.c, opts.method,
    opts.uri, opts.body, opts.content_type, lines_or_nil(opts.headers), extra)
  if not p then return nil, err end
  return p:result(opts.timeout)
end

function UA:options(uri, opts)
  opts = opts or {}
  return self:request{ method = "OPTIONS", uri = uri, headers = opts.headers, timeout = opts.timeout,
    dest = opts.dest }
end

function UA:message(uri, text, opts)
  opts = opts or {}
  return self:request{ method = "MESSAGE", uri = uri, body = text,
    content_type = opts.content_type or "text/plain", headers = opts.headers,
    timeout = opts.timeout, dest = opts.dest }
end

-- the pending of an INVITE, of class InvitePending or CallPending
local function invite(self, uri, opts, class)
  if type(uri) ~= "string" then error("ua:invite: a URI string expected", 3) end
  if self.closed then error("ua:invite: user agent is closed", 3) end
  opts = opts or {}
  local sdp = opts.sdp
  if sdp == nil then
    if opts.address == nil and opts.rtp_port == nil and opts.codecs == nil and opts.hold == nil
        and opts.sess_version == nil then
      -- the UA's own media: the same offer every call (its o= line is fixed)
      if self._offer and self._offer_host == self.host and self._offer_port == self.rtp_port then
        sdp = self._offer
      else
        sdp = core.sdp_offer(self:_media(opts))
        self._offer, self._offer_host, self._offer_port = sdp, self.host, self.rtp_port
      end
    else
      sdp = core.sdp_offer(self:_media(opts))
    end
  end
  if sdp == false then sdp = nil end
  local extra
  if opts.to or opts.from or opts.dest or opts.prack then
    extra = { to = opts.to, from = opts.from, dest = opts.dest, prack = opts.prack }
  end
  local p = { ua = self, req = false, wt = false, wk = false, local_sdp = sdp or false,
    timeout = opts.timeout or false, call = false, response = false }
  local on_provisional = opts.on_provisional
  if on_provisional then p.on_provisional = on_provisional end
  local headers = opts.headers
  if headers ~= nil then headers = header_lines(headers) end
  return send(p, class, class == CallPending and not on_provisional, self.c, "INVITE", uri, sdp,
    sdp and "application/sdp" or nil, headers, extra)
end

-- ua:invite_async(uri, {sdp=, headers=, timeout=, on_provisional=, prack=,
-- to=, from=, dest=}) -> pending with :wait(timeout) and :cancel()
function UA:invite_async(uri, opts)
  local p, err = invite(self, uri, opts, InvitePending) -- not a tail call: its errors name our caller
  return p, err
end

-- ua:invite(uri, opts) -> call or nil, err.  A 3xx is followed to its
-- first Contact (at most 3 times) unless opts.follow_redirects == false.
function UA:invite(uri, opts)
  opts = opts or {}
  for _ = 1, 4 do
    local p, err = invite(self, uri, opts, CallPending)
    if not p then return nil, err end
    local call, werr = p:wait()
    if call or opts.follow_redirects == false then return call, werr end
    local st = werr.status or 0
    local to = st >= 300 and st < 400 and werr.response and werr.response.contact
    if not (to and to.uri) then return nil, werr end
    uri = to.uri
  end
  return nil, core.error("REJECTED", "too many redirects", { status = 310 })
end

-- ua:on(method, function(req) ... end): each new request of that method
-- outside a dialog runs the handler in a task of its own.  The method is
-- added to the UA's Allow list (the core answers 405 to the others).
function UA:on(method, handler)
  if type(method) ~= "string" or type(handler) ~= "function" then
    error("ua:on: a method name and a function expected", 2)
  end
  local ok, err = self.c:allow(method)
  if not ok then error("ua:on: " .. tostring(err), 2) end
  self.handlers[method] = handler
  return self
end

-- ua:on_routed(function(req) ... end), for a UA opened with proxy = true:
-- each request of a dialog between others whose Route names us (BYE,
-- INFO, re-INVITE ...) runs the handler, which forwards it
-- (req:forward()) or answers it.  Without a handler the core forwards
-- such requests itself; an ACK for a 2xx is always forwarded statelessly.
function UA:on_routed(handler)
  if type(handler) ~= "function" then error("ua:on_routed: a function expected", 2) end
  self.routed_handler = handler
  return self
end

-- ua:subscribe(uri, {event=, expires=3600, accept=, headers=, to=, from=,
-- dest=, timeout=}) -> subscription or nil, err (RFC 6665).
-- sub:receive([timeout]) yields each NOTIFY (answered 200 by the core; a
-- request with req.answered = true), then nil, err (code ENDED) once a
-- NOTIFY with Subscription-State: terminated ended the dialog.
function UA:subscribe(uri, opts)
  if type(uri) ~= "string" then error("ua:subscribe: a URI string expected", 2) end
  if self.closed then error("ua:subscribe: user agent is closed", 2) end
  opts = opts or {}
  if type(opts.event) ~= "string" then error("ua:subscribe: opts.event expected", 2) end
  local h = header_lines(opts.headers)
  h[#h + 1] = "Event: " .. opts.event
  h[#h + 1] = "Expires: " .. (opts.expires or 3600)
  if opts.accept then h[#h + 1] = "Accept: " .. opts.accept end
  local sub = setmetatable({ ua = self, event = opts.event, inbox = mailbox(), state = "pending" }, Subscription)
  self.subscribing[#self.subscribing + 1] = sub
  local function done()
    for i, x in ipairs(self.subscribing) do
      if x == sub then table.remove(self.subscribing, i) break end
    end
  end
  local p, err = send({ ua = self, method = "SUBSCRIBE" }, Pending, true, self.c, "SUBSCRIBE", uri,
    nil, nil, h, { to = opts.to, from = opts.from, dest = opts.dest })
  if not p then done() return nil, err end
  p.subscription = sub
  local resp, rerr = p:result(opts.timeout)
  done()
  if not resp then return nil, rerr end
  sub.response = resp
  sub.expires = resp.expires or opts.expires or 3600
  if sub.state == "pending" then sub.state = "active" end
  return sub
end

function Subscription:_notify(req)
  local ss = req.msg:header("Subscription-State") or ""
  self.subscription_state = ss:match("^%s*([^;%s]+)")
  if self.subscription_state == "terminated" then self.state = "terminated" end
  self.inbox:put(req)
end

function Subscription:receive(timeout)
  return self.inbox:get(timeout, "subscription:receive")
end

Subscription.events = events

Subscription._ended_err = Call._ended_err
Subscription.request = Call.request

-- sub:unsubscribe() -> true or nil, err: SUBSCRIBE with Expires: 0; the
-- notifier's terminated NOTIFY then ends receive().
function Subscription:unsubscribe(opts)
  opts = opts or {}
  local r, err = self:request("SUBSCRIBE", { headers = { "Event: " .. self.event, "Expires: 0" },
    timeout = opts.timeout })
  if not r then return nil, err end
  return true
end

-- The next INVITE outside a dialog (from the first call on, INVITEs are
-- queued for this UA instead of being refused).
function UA:accept(timeout)
  self.listen_invite = true
  return self.invites:get(timeout, "ua:accept")
end

-- The next other request outside a dialog (MESSAGE, REGISTER, NOTIFY ...).
function UA:receive(timeout)
  self.listen_other = true
  return self.requests:get(timeout, "ua:receive")
end

local function granted_expiry(resp, contact, asked)
  for _, c in ipairs(resp.contacts or {}) do
    if c.uri == contact and c.expires then return c.expires end
  end
  return resp.expires or asked
end

-- ua:register{registrar=, expires=3600, refresh=true} or
-- ua:register(registrar, {expires=}) -> true, response or nil, err.
-- Refreshes before expiry until ua:unregister() or ua:close().
function UA:register(registrar, opts)
  if type(registrar) == "table" then opts, registrar = registrar, registrar.registrar end
  opts = opts or {}
  if type(registrar) ~= "string" then error("ua:register: a registrar URI expected", 2) end
  local expires = opts.expires or 3600
  local resp, err = self:_register_once(registrar, expires, opts.timeout)
  if not resp then return nil, err end
  local granted = granted_expiry(resp, self.contact, expires)
  local reg = { registrar = registrar, expires = granted, opts = opts }
  self.registration = reg
  if granted > 0 and opts.refresh ~= false then
    M.spawn(function()
      local wait = math.max(1, granted * 0.8)
      local retry = 1
      while true do
        M.sleep(wait)
        if self.registration ~= reg or self.closed then return end
        local r, rerr = self:_register_once(registrar, expires, opts.timeout)
        if self.registration ~= reg or self.closed then return end
        if r then
          granted = granted_expiry(r, self.contact, expires)
          reg.expires = granted
          if granted <= 0 then return end
          wait, retry = math.max(1, granted * 0.8), 1
        else
          -- keep trying: a registrar that is down must not end the binding for good
          io.stderr:write("sipkit: registration refresh failed: ", tostring(rerr),
            ", retrying in ", retry, " s\n")
          wait, retry = retry, math.min(retry * 2, 30)
        end
      end
    end)
  end
  return true, resp
end

-- One REGISTER to registrar.  Every REGISTER of this UA to the same
-- registrar uses one Call-ID with CSeq counting up (RFC 3261 §10.2.4), so
-- the registrar can order them.
function UA:_register_once(registrar, expires, timeout)
  local reg_ids = self.reg_ids or {}
  self.reg_ids = reg_ids
  local ids = reg_ids[registrar]
  if not ids then
    ids = { call_id = M.gen_call_id(), cseq = 0 }
    reg_ids[registrar] = ids
  end
  ids.cseq = ids.cseq + 1
  -- the core adds our Contact to a REGISTER
  local resp, err = self:request{ method = "REGISTER", uri = registrar, to = self.uri, from = self.uri,
    headers = { "Expires: " .. expires }, timeout = timeout, call_id = ids.call_id, cseq = ids.cseq }
  local last = (resp or (err and err.response))
  if last and last.cseq and last.cseq.num > ids.cseq then ids.cseq = last.cseq.num end -- digest retry
  return resp, err
end

function UA:unregister(opts)
  local reg = self.registration
  if not reg then return true end
  self.registration = nil
  opts = opts or {}
  local resp, err = self:_register_once(reg.registrar, 0, opts.timeout)
  if not resp then return nil, err end
  return true, resp
end

return M
