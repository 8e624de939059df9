-- test_ua.lua - user agents on loopback inside one process: OPTIONS,
-- MESSAGE, INVITE (reject, provisional, answer, timeout, CANCEL), DTMF by
-- INFO, re-INVITE and NOTIFY answered for a task that is not receiving,
-- BYE, registration with digest auth against sipkit.location.
local sipkit = require "sipkit"
local location = require "sipkit.location"
local T = require "check"
local eq = T.eq

if not sipkit.running() then
  T.ok(T.raises(sipkit.ua, {}), "sipkit.ua outside a run raises")
end

sipkit.run(function()
  local a = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "alice", rtp_port = 4000 })
  local b = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "bob", password = "secret", rtp_port = 5000,
    allow = sipkit.ALLOW .. ", REGISTER" })
  T.ok(a.port > 0 and a.port ~= b.port, "ports picked")
  eq(a.addr, "127.0.0.1:" .. a.port)
  eq(a.uri, "sip:alice@127.0.0.1")
  eq(a.contact, "sip:alice@127.0.0.1:" .. a.port)
  local bob = "sip:bob@" .. b.addr

  local nb, be = sipkit.ua{ bind = "nonsense" }
  eq(nb, nil)
  eq(be.code, "ARGUMENT")

  -- OPTIONS: answered by the core
  local r = assert(a:options(bob))
  eq({ r.status, r.cseq.method }, { 200, "OPTIONS" })

  -- MESSAGE: b receives it and answers 202
  sipkit.spawn(function()
    local m = assert(b:receive(2))
    eq({ m.method, m.body, m.content_type }, { "MESSAGE", "hello", "text/plain" })
    assert(m:respond(202))
    eq(select(2, m:respond(200)).code, "STATE", "a second final answer fails")
  end)
  r = assert(a:message(bob, "hello"))
  eq(r.status, 202)

  -- INVITE rejected
  local script = {}
  b:on("INVITE", function(req) script[#script + 1] = req end)
  local accept = sipkit.mailbox()
  b:on("INVITE", function(req) accept:put(req) end)

  sipkit.spawn(function() local req = accept:get() req:reject(486) end)
  local call, err = a:invite(bob, { timeout = 5 })
  eq(call, nil)
  eq({ err.code, err.status, err.reason }, { "REJECTED", 486, "Busy Here" })
  eq(err.response.status, 486)

  -- INVITE: 180 seen by on_provisional, answered, ACK reaches b
  local bcall
  sipkit.spawn(function()
    local req = accept:get()
    eq(req.method, "INVITE")
    eq(req.sdp.media[1].port, 4000)
    eq({ req:header("X-Case"), req.to.uri }, { "ua", "sip:robert@example.org" }, "the INVITE's own headers and To")
    assert(req:ring())
    sipkit.sleep(0.02)
    bcall = assert(req:answer())
  end)
  local prov = {}
  call = assert(a:invite(bob, { timeout = 5, on_provisional = function(m) prov[#prov + 1] = m.status end,
    headers = { "X-Case: ua" }, to = "sip:robert@example.org" }))
  eq(prov, { 180 })
  eq(call.state, "confirmed")
  eq(sipkit.sdp(call.remote_sdp).media[1].port, 5000)
  eq(sipkit.sdp(call.local_sdp).media[1].port, 4000)
  sipkit.sleep(0.05)
  eq(bcall.state, "confirmed", "the ACK arrived")
  eq(sipkit.sdp(bcall.remote_sdp).media[1].port, 4000)

  -- DTMF: one INFO per digit, handed to b's call:receive
  local digits = {}
  local bdone = sipkit.spawn(function()
    for _ = 1, 3 do
      local req = assert(bcall:receive(2))
      digits[#digits + 1] = req.dtmf.signal .. "/" .. req.dtmf.duration .. "/" .. req.content_type
      assert(req:respond(200))
    end
  end)
  assert(call:dtmf("7*D", { duration = 200, interval = 0.01 }))
  assert(bdone:join(2))
  eq(digits, { "7/200/application/dtmf-relay", "*/200/application/dtmf-relay", "D/200/application/dtmf-relay" })
  T.ok(T.raises(call.dtmf, call, "x"), "a bad digit raises")

  -- a request handed to a waiting receive and left unanswered is
  -- answered 200 by the next receive
  local left = sipkit.spawn(function()
    local req = assert(bcall:receive(2))
    eq({ req.method, req.answered }, { "INFO", false })
    eq(select(2, bcall:receive(0.05)).code, "TIMEOUT")
    eq(req.answered, true, "answered by the next receive")
  end)
  sipkit.sleep(0.01)
  r = assert(call:info("Signal=1\r\nDuration=100\r\n"))
  eq(r.status, 200)
  assert(left:join(2))

  -- re-INVITE while b is not receiving: answered 200 with SDP by itself
  r = assert(call:reinvite{ hold = true })
  eq(r.status, 200)
  eq(sipkit.sdp(r.body).media[1].direction, "recvonly", "hold offer answered recvonly")
  local re = assert(bcall:receive(1))
  eq({ re.method, re.answered }, { "INVITE", true })

  -- NOTIFY from b while a is busy elsewhere: auto 200, flow unaffected
  r = assert(bcall:request("NOTIFY", { headers = { "Event: dialog", "Subscription-State: active" } }))
  eq(r.status, 200)
  local n = assert(call:receive(1))
  eq({ n.method, n.answered }, { "NOTIFY", true })

  -- BYE from b: a's receive sees it, then the end
  assert(bcall:bye())
  eq(bcall.state, "ended")
  local bye = assert(call:receive(1))
  eq(bye.method, "BYE")
  local none, e2 = call:receive(1)
  eq({ none, e2.code, e2.why }, { nil, "ENDED", "bye_received" })
  eq(call.state, "ended")
  eq(call:bye(), true, "bye after the end is a no-op")

  -- a call served by on_request / on_end, without a task of its own:
  -- a request queued before on_request is handed over first; one left
  -- unanswered is answered 200 when the handler returns; the BYE, then
  -- the end
  local served, ended_calls, busy, workers = {}, sipkit.mailbox(), false, {}
  local function on_request(req, c)
    T.ok(c == bcall, "the handler gets its call")
    eq(busy, false, "one handler of the call at a time")
    served[#served + 1] = { req.method, req.answered, req.dtmf and req.dtmf.signal }
    workers[coroutine.running()] = true
    if req.body == "Signal=5\r\nDuration=100\r\n" then assert(req:respond(200)) end
    -- the end waits behind the BYE's handler
    if req.method == "BYE" then busy = true sipkit.sleep(0.05) busy = false end
  end
  sipkit.spawn(function()
    local req = accept:get()
    bcall = assert(req:answer())
    sipkit.sleep(0.1) -- the first INFO comes before the handlers
    T.ok(bcall:on_request(on_request) == bcall, "on_request returns the call")
    bcall:on_end(function(c) eq(busy, false) ended_calls:put(c.end_reason .. " after " .. #served) end)
  end)
  call = assert(a:invite(bob, { timeout = 5 }))
  r = assert(call:info("Signal=4\r\nDuration=100\r\n"))
  sipkit.sleep(0.2)
  r = assert(call:info("Signal=5\r\nDuration=100\r\n"))
  eq(r.status, 200)
  r = assert(call:info("Signal=6\r\nDuration=100\r\n"))
  eq(r.status, 200, "answered when the handler returned")
  assert(call:bye())
  eq(ended_calls:get(2), "bye_received after 4")
  eq(served, { { "INFO", true, "4" }, { "INFO", false, "5" }, { "INFO", false, "6" }, { "BYE", true } })
  local nworkers = 0
  for _ in pairs(workers) do nworkers = nworkers + 1 end
  eq(nworkers, 1, "one pooled task ran the handlers of the four bursts")
  local none2, e4 = bcall:receive(1)
  eq({ none2, e4.code, e4.why }, { nil, "ENDED", "bye_received" })
  bcall:on_end(function(c) ended_calls:put("late " .. c.end_reason) end)
  eq(ended_calls:get(1), "late bye_received", "on_end after the end runs at once")
  T.ok(T.raises(bcall.on_request, bcall, 42), "on_request(42) raises")

  -- no answer in time: TIMEOUT, CANCEL sent, b told
  local told = sipkit.mailbox()
  sipkit.spawn(function()
    local req = accept:get()
    req:ring()
    told:put(req:wait_cancel(3))
  end)
  call, err = a:invite(bob, { timeout = 0.2 })
  eq({ call, err.code, err.status }, { nil, "TIMEOUT", 408 })
  eq(told:get(2), true, "the callee saw the CANCEL")

  -- invite_async + cancel after 180: 487
  sipkit.spawn(function() local req = accept:get() req:ring() req:wait_cancel(3) end)
  local p = assert(a:invite_async(bob))
  local seen = sipkit.mailbox()
  p.on_provisional = function(m) seen:put(m.status) end
  local waiter = sipkit.spawn(function() return p:wait(5) end)
  eq(seen:get(2), 180)
  assert(p:cancel())
  local _, c2, e3 = waiter:join(3)
  eq({ c2, e3.status, e3.code }, { nil, 487, "REJECTED" })

  -- invite_async, nobody waiting while the 180 and the 200 come: both
  -- queue on the pending, in order, for the wait that follows
  sipkit.spawn(function() local req = accept:get() req:ring() req:answer() end)
  local queued = assert(a:invite_async(bob))
  local provs = {}
  queued.on_provisional = function(m, status) provs[#provs + 1] = { m.status, status } end
  sipkit.sleep(0.2)
  local qcall = assert(queued:wait(0))
  eq(provs, { { 180, 180 } })
  eq({ queued.response.status, qcall.state }, { 200, "confirmed" })
  eq(qcall:bye(), true)

  -- registration with digest auth against the location service
  local reg = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "registrar", allow = sipkit.ALLOW .. ", REGISTER" })
  local loc = location.new{ realm = "test", users = { bob = "secret" }, min_expires = 60 }
  local loc_handler, reg_ids = loc:handler(), {}
  reg:on("REGISTER", function(req, ...)
    reg_ids[#reg_ids + 1] = { req:header("Call-ID"), req:header("CSeq") }
    return loc_handler(req, ...)
  end)
  local ok, resp = b:register("sip:" .. reg.addr, { expires = 120 })
  eq(ok, true)
  eq(resp.status, 200)
  eq(b.registration.expires, 120)
  eq(loc:lookup("bob"), { b.contact })
  eq(loc:lookup("sip:bob@elsewhere"), { b.contact })
  local short, se = b:register("sip:" .. reg.addr, { expires = 10 })
  eq({ short, se.status }, { nil, 423 })
  eq(se.response:header("Min-Expires"), "60")
  eq(b:unregister(), true)
  eq(loc:lookup("bob"), {})
  -- RFC 3261 §10.2.4: one Call-ID for every REGISTER of b, CSeq counting
  -- up through the digest retries (401, then the same request with
  -- credentials) of the three registrations
  local cseqs = {}
  for i, r in ipairs(reg_ids) do
    eq(r[1], reg_ids[1][1], "REGISTER " .. i .. " keeps the Call-ID")
    cseqs[i] = r[2]
  end
  eq(cseqs, { "1 REGISTER", "2 REGISTER", "3 REGISTER", "4 REGISTER", "5 REGISTER", "6 REGISTER" })
  local wrong = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "bob", password = "nope" })
  local wok, we = wrong:register("sip:" .. reg.addr)
  eq({ wok, we.status }, { nil, 403 })

  -- misuse raises; closed UAs refuse work
  T.ok(T.raises(a.invite, a, 42), "invite(42) raises")
  T.ok(T.raises(a.on, a, "INVITE"), "on without a handler raises")
  wrong:close()
  T.ok(T.raises(wrong.options, wrong, bob), "a closed UA raises")
  eq(#script, 0, "the later ua:on replaced the first handler")
end)

T.done("test_ua")
