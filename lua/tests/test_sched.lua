-- test_sched.lua - sipkit.run / spawn / sleep / now, mailboxes and joins on
-- the runtime's loop and timers.  Under `sipkit run` this whole file is
-- already the main task, so sipkit.run below runs inline; under lua5.4 it
-- starts the loop.  Both must give the same answers.
local sipkit = require "sipkit"
local T = require "check"
local eq = T.eq

eq({ sipkit.run(function(a, b) return a + b, "x" end, 1, 2) }, { 3, "x" }, "run returns main's results")

sipkit.run(function()
  -- timers fire in deadline order, whatever the spawn order
  local order = {}
  local t0 = sipkit.now()
  local a = sipkit.spawn(function(tag) sipkit.sleep(0.06) order[#order + 1] = tag return tag, 7 end, "a")
  sipkit.spawn(function() sipkit.sleep(0.02) order[#order + 1] = "b" end)
  sipkit.spawn(function() order[#order + 1] = "c" end)
  eq({ a:join() }, { true, "a", 7 }, "join gives the task's results")
  eq(order, { "c", "b", "a" })
  local dt = sipkit.now() - t0
  T.ok(dt >= 0.06 - 1e-6 and dt < 1, "slept at least 60 ms, got " .. dt)
  eq(a:status(), "dead")
  eq({ a:join() }, { true, "a", 7 }, "join after the end")

  -- a bare coroutine.yield() lets the others run
  local seq = {}
  sipkit.spawn(function() seq[#seq + 1] = 2 end)
  seq[#seq + 1] = 1
  coroutine.yield()
  seq[#seq + 1] = 3
  eq(seq, { 1, 2, 3 })

  -- mailbox: a waiting receiver, a queued value, a timeout
  local mb = sipkit.mailbox()
  sipkit.spawn(function() sipkit.sleep(0.01) mb:put("hi") end)
  eq(mb:get(1), "hi")
  mb:put(1)
  mb:put(2)
  eq({ mb:get(), mb:get() }, { 1, 2 })
  t0 = sipkit.now()
  local v, err = mb:get(0.05)
  eq(v, nil)
  eq({ err.code, err.status }, { "TIMEOUT", 408 })
  eq(err.message, "receive timed out", "the timer names the wait it bounded")
  T.ok(sipkit.now() - t0 >= 0.05 - 1e-6, "waited the whole timeout")
  -- the timer of a satisfied wait never fires into a later wait
  sipkit.spawn(function() mb:put("late") end)
  eq(mb:get(0.01), "late")
  sipkit.sleep(0.03)
  eq(mb:empty(), true)

  -- a value handed to a waiting task is one value, with or without a timeout
  sipkit.spawn(function() sipkit.sleep(0.01) mb:put("one") end)
  eq(select("#", mb:get()), 1)
  sipkit.spawn(function() sipkit.sleep(0.01) mb:put("two") end)
  eq(select("#", mb:get(1)), 1)

  -- several waiters: the oldest gets the next value, one that timed out
  -- leaves the line, close ends the waits left
  local line = sipkit.mailbox()
  local got = {}
  local function taker(tag, timeout)
    return sipkit.spawn(function()
      local x, e = line:get(timeout)
      got[#got + 1] = tag .. "=" .. tostring(x or e.code)
    end)
  end
  local takers = { taker("1"), taker("2", 0.01), taker("3"), taker("4") }
  sipkit.sleep(0.03)
  eq(got, { "2=TIMEOUT" })
  eq(line:waiting(), true)
  line:put("a")
  line:put("b")
  for i = 1, 3 do takers[i]:join(1) end
  eq(got, { "2=TIMEOUT", "1=a", "3=b" })
  line:close(sipkit.error("CLOSED", "closed"))
  takers[4]:join(1)
  eq(got, { "2=TIMEOUT", "1=a", "3=b", "4=CLOSED" })
  eq(line:waiting(), false)
  eq(select("#", line:get()), 2, "a closed mailbox gives nil, err")

  -- A waiting task parks in its Lua frame (core.park), not in a C call:
  -- after a deep call grew its stack, the stack shrinks back while it
  -- waits.  200 tasks: about 1.7 KB each parked, 2.1 KB each suspended in
  -- coroutine.yield.
  do
    local function deep(k)
      if k == 0 then return 0 end
      local a, b = k, k
      return deep(k - 1) + a - b
    end
    local boxes, tasks = {}, {}
    collectgarbage("collect")
    local before = collectgarbage("count") * 1024
    for i = 1, 200 do
      local box = sipkit.mailbox()
      boxes[i] = box
      tasks[i] = sipkit.spawn(function() deep(20) return box:get() end)
    end
    sipkit.sleep(0.01)
    collectgarbage("collect")
    collectgarbage("collect")
    local per = (collectgarbage("count") * 1024 - before) / 200
    T.ok(per < 1900, "a waiting task's stack shrinks (" .. per .. " B per task)")
    for i = 1, 200 do boxes[i]:put(i) end
    local all = true
    for i = 1, 200 do all = all and select(2, tasks[i]:join(1)) == i end
    eq(all, true, "each parked task resumes with its value")
  end

  -- a wait where the task cannot yield (in a sort comparator, called from
  -- C) raises before it arms anything; the task goes on and waits fine
  local okw, ew = pcall(table.sort, { 2, 1 }, function(x, y) sipkit.sleep(0) return x < y end)
  eq(okw, false)
  T.ok(tostring(ew):find("cannot wait here", 1, true), tostring(ew))
  local seq2 = {}
  sipkit.spawn(function() seq2[#seq2 + 1] = "other" end)
  coroutine.yield()
  sipkit.sleep(0.001)
  eq(seq2, { "other" }, "a bare yield and a sleep after the failed wait")

  local slow = sipkit.spawn(function() sipkit.sleep(5) end)
  local jok, jerr = slow:join(0.01)
  eq({ jok, jerr.code }, { nil, "TIMEOUT" })

  -- sipkit.after runs a function later in a task of its own
  local fired = sipkit.mailbox()
  sipkit.after(0.01, function() fired:put(sipkit.now()) end)
  T.ok(fired:get(1), "after fired")
  local cancelled = sipkit.after(0.01, function() fired:put("cancelled timer fired") end)
  cancelled:cancel()
  eq(fired:get(0.05), nil, "a cancelled after never fires")

  -- misuse raises
  T.ok(T.raises(sipkit.sleep, "x"), "sleep('x') raises")
  T.ok(T.raises(sipkit.sleep, -1), "sleep(-1) raises")
  T.ok(T.raises(sipkit.spawn, 42), "spawn(42) raises")
  local co = coroutine.wrap(function() return T.raises(sipkit.sleep, 0.01) end)
  T.ok((co() or ""):find("from a sipkit task", 1, true), "sleep in a foreign coroutine raises")
end)

-- a guarded task (sipkit load's calls): its end, a return or an error,
-- goes to on_end outside any task, and an error does not end the run
sipkit.run(function()
  local ends = {}
  local done = sipkit.mailbox()
  local function on_end(...)
    ends[#ends + 1] = { coroutine.isyieldable(), ... }
    if #ends == 3 then done:put(true) end
  end
  local closed = false
  local spawn = sipkit._guarded_spawner(on_end)
  local long_co
  spawn(function(n) long_co = coroutine.running() sipkit.sleep(0.01) return n * 2, "ok" end, 21)
  spawn(function()
    local _ <close> = setmetatable({}, { __close = function() closed = true end })
    sipkit.sleep(0.001)
    error({ code = "X" })
  end)
  spawn(function() coroutine.yield() return nil, "why" end)
  eq(done:get(1), true)
  eq(ends, { { false, true, nil, "why" }, { false, false, { code = "X" } }, { false, true, 42, "ok" } })
  eq(closed, true, "the failed task's to-be-closed variable ran")
  -- a task whose flow returned runs the next one; the one that raised is not reused
  spawn(function(n)
    ends[#ends + 1] = coroutine.running() == long_co
    error(n, 0)
  end, "again")
  spawn(function()
    sipkit.sleep(0.001)
    done:put(coroutine.running() ~= long_co and coroutine.status(long_co) == "dead")
  end)
  eq(done:get(1), true, "the task of a flow that raised is closed, not reused")
  eq({ ends[4], ends[5] }, { true, { false, false, "again" } })

  -- _call_after: fn runs in the loop's callback, outside any task, and
  -- a cancelled one never runs
  local fired = {}
  sipkit._call_after(0.02, function() fired[#fired + 1] = { "late", coroutine.isyieldable() } done:put(true) end)
  sipkit._call_after(0.01, function() fired[#fired + 1] = { "early", coroutine.isyieldable() } end)
  sipkit._call_after(0.005, function() fired[#fired + 1] = "cancelled" end):cancel()
  eq(done:get(1), true)
  eq(fired, { { "early", false }, { "late", false } })
end)

-- sleep outside any run makes a run of its own
local t0 = sipkit.now()
sipkit.sleep(0.02)
T.ok(sipkit.now() - t0 >= 0.02 - 1e-6, "sleep outside a run")

if not sipkit.running() then
  -- an error in any task ends the run with its traceback
  local ok, e = pcall(sipkit.run, function()
    sipkit.spawn(function() error("boom") end)
    sipkit.sleep(1)
  end)
  eq(ok, false)
  T.ok(e:find("test_sched.lua:%d+: boom") and e:find("stack traceback", 1, true), e)
  -- nothing can wake the main task: an error, not a hang
  ok, e = pcall(sipkit.run, function() sipkit.mailbox():get() end)
  eq({ ok, e }, { false, "sipkit.run: every task is waiting and nothing can wake them (deadlock)" })
  -- a run after a failed one works
  eq(sipkit.run(function() sipkit.sleep(0.001) return "again" end), "again")
end

T.done("test_sched")
