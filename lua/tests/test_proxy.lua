-- test_proxy.lua - on loopback in one process: req:forward through a
-- proxy-mode UA (what the callee and the caller receive, in-dialog
-- requests along the Route, the proxy's view of the relayed responses),
-- ua:on extending Allow, ua:subscribe with NOTIFYs until terminated, and
-- PRACK (prack = true, reliable 180).
local sipkit = require "sipkit"
local T = require "check"
local eq = T.eq

sipkit.run(function()
  local a = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "alice" })
  local b = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "bob" })
  local p = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "proxy", proxy = true })
  local bob = "sip:bob@" .. b.addr

  ---------------------------------------------------------------- proxy
  local relayed, routed = {}, {}
  p:on("INVITE", function(req)
    if req.uri ~= "sip:bob@" .. p.addr then return req:respond(404) end
    local f = assert(req:forward{ uri = b.contact, record_route = true })
    eq(select(2, req:respond(500)).code, "STATE", "a forwarded request is answered by the proxy")
    for ev in f:events() do relayed[#relayed + 1] = ev.status .. " " .. ev.reason end
  end)
  p:on_routed(function(req)
    routed[#routed + 1] = req.method
    local f = assert(req:forward())
    local st = f:wait(5)
    routed[#routed + 1] = st
  end)
  local seen = sipkit.mailbox()
  b:on("INVITE", function(req)
    seen:put(req)
    req:ring()
    req:answer()
  end)
  local pending = assert(a:invite_async("sip:bob@" .. p.addr, { timeout = 5 }))
  local call = assert(pending:wait())
  local inv = seen:get(1)
  eq(inv.uri, b.contact, "Request-URI is the target")
  eq(#inv.via, 2)
  eq({ inv.via[1].host, inv.via[1].port }, { "127.0.0.1", p.port })
  eq(inv.via[2].rport, a.port, "the caller's Via got rport")
  eq(inv.max_forwards, 69)
  eq(inv:header("Record-Route"), "<sip:" .. p.addr .. ";lr>")
  eq(inv:header("Route"), nil)
  eq(pending.response.status, 200)
  eq(#pending.response.via, 1, "the caller sees its own Via only")
  eq(pending.response:header("Record-Route"), "<sip:" .. p.addr .. ";lr>")
  eq(relayed, { "180 Ringing", "200 OK" })
  -- INFO and BYE follow the Record-Route through the proxy
  local bcall = (function() for _, c in pairs(b.calls) do return c end end)()
  sipkit.spawn(function()
    local info = assert(bcall:receive(2))
    eq({ info.method, #info.via, info.max_forwards }, { "INFO", 2, 69 })
    info:respond(200)
  end)
  assert(call:info("Signal=7\r\nDuration=100\r\n"))
  assert(call:bye())
  sipkit.sleep(0.1)
  eq(routed, { "INFO", 200, "BYE", 200 })
  -- unknown user: the script's 404 passes back
  local nc, nerr = a:invite("sip:carol@" .. p.addr, { timeout = 5 })
  eq({ nc, nerr.status }, { nil, 404 })

  ---------------------------------------------------------------- Allow
  local r, e = a:request{ method = "PUBLISH", uri = bob, headers = { "Event: presence" } }
  eq({ r, e.status }, { nil, 405 })
  b:on("PUBLISH", function(req) req:respond(200) end)
  r = assert(a:request{ method = "PUBLISH", uri = bob, headers = { "Event: presence" } })
  eq(r.status, 200)
  r = assert(a:options(bob))
  T.ok(r:header("Allow"):find(", PUBLISH$"), "Allow ends with PUBLISH: " .. r:header("Allow"))
  T.ok(T.raises(b.on, b, "NOT A TOKEN", function() end), "ua:on refuses a bad method name")

  ---------------------------------------------------------------- SUBSCRIBE
  b:on("SUBSCRIBE", function(req)
    eq(req:header("Event"), "presence")
    local ok, dlg = req:respond(200, { headers = { Expires = 60 } })
    assert(ok and dlg, "a 2xx to SUBSCRIBE gives the dialog")
    assert(dlg:request("NOTIFY", { headers = { Event = "presence", ["Subscription-State"] = "active;expires=60" },
      body = "open", content_type = "text/plain" }))
    assert(dlg:request("NOTIFY", { headers = { Event = "presence",
      ["Subscription-State"] = "terminated;reason=timeout" }, body = "closed", content_type = "text/plain" }))
  end)
  local sub = assert(a:subscribe(bob, { event = "presence", expires = 60 }))
  eq(sub.response.status, 200)
  local bodies = {}
  for n in sub:events() do bodies[#bodies + 1] = n.body .. "/" .. n:header("Subscription-State") end
  eq(bodies, { "open/active;expires=60", "closed/terminated;reason=timeout" })
  local n, ne = sub:receive(1)
  eq({ n, ne.code, ne.why }, { nil, "ENDED", "subscription_terminated" })
  eq(sub.state, "ended")

  ---------------------------------------------------------------- PRACK
  local prack_seen = sipkit.mailbox()
  b:on("INVITE", function(req)
    local ok, c = req:respond(180, { reliable = true })
    assert(ok and c)
    local pr = assert(c:receive(5))
    prack_seen:put({ pr.method, pr:header("RAck") })
    assert(pr:respond(200))
    assert(req:answer())
  end)
  local prov
  call = assert(a:invite(bob, { prack = true, timeout = 5,
    on_provisional = function(m) prov = { m.status, m:header("Require"), m:header("RSeq") } end }))
  eq(prov, { 180, "100rel", "1" })
  eq(prack_seen:get(1), { "PRACK", "1 1 INVITE" })
  assert(call:bye())
end)
T.done("test_proxy")
