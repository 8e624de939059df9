-- proxy.lua - a stateful proxy (RFC 3261 §16) that is also the registrar
-- (one process, one port, as Kamailio is): REGISTER is handled by
-- sipkit.location; an INVITE, MESSAGE or SUBSCRIBE for a registered user
-- is forwarded to the user's contact with Record-Route, so the dialog's
-- ACK, INFO, re-INVITE and BYE come through here too and are forwarded
-- along their Route.  The C core does the §16 work: our Via on top,
-- Max-Forwards decremented (483 when it is 0), the Route naming us
-- consumed, every response relayed back, CANCEL passed downstream.
--
--   sipkit run lua/examples/proxy.lua [BIND] [--user NAME:PASSWORD]...
local sipkit = require "sipkit"
local location = require "sipkit.location"

local USAGE = [[
usage: proxy.lua [BIND] [--user NAME:PASSWORD]... [--realm REALM] [--no-record-route]
  BIND               address to listen on (default 127.0.0.1:5060)
  --user NAME:PW     REGISTER needs digest credentials (one option per user;
                     without any, registrations are not authenticated)
  --no-record-route  stay out of the dialogs (only the initial request passes here)
REGISTER is handled as by registrar.lua; INVITE / MESSAGE / SUBSCRIBE for
sip:NAME@... are forwarded to NAME's contact (404 when NAME is not
registered, 483 when Max-Forwards is 0).  Prints "proxy: METHOD URI ->
CONTACT" per forwarded request and "proxy: METHOD URI <- STATUS REASON" per
relayed response.]]

local opts = { bind = "127.0.0.1:5060", realm = "sipkit", record_route = true }
local i = 1
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("proxy.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--user" then
    local name, pw = val():match("^([^:]+):(.*)$")
    opts.users = opts.users or {}
    opts.users[name or ""] = pw
  elseif a == "--realm" then opts.realm = val()
  elseif a == "--no-record-route" then opts.record_route = false
  elseif a:sub(1, 1) == "-" then io.stderr:write("proxy.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else opts.bind = a end
  i = i + 1
end

local function log(fmt, ...)
  io.stdout:write("proxy: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = opts.bind, user = "proxy", proxy = true })
local loc = location.new{ realm = opts.realm, users = opts.users, log = function(s) log("%s", s) end }
ua:on("REGISTER", loc:handler())

-- One line per response the core relays upstream, until the final.
local function follow(req, fwd)
  for ev in fwd:events() do
    if ev.cancel then
      log("%s %s: CANCEL passed on", req.method, req.uri)
    else
      log("%s %s <- %d %s", req.method, req.uri, ev.status, ev.reason or "")
    end
  end
end

-- A new request for a user: to the user's first contact.
local function route(req)
  local contacts = loc:lookup(req.uri)
  if #contacts == 0 then
    log("%s %s: 404", req.method, req.uri)
    return req:respond(404)
  end
  local fwd, err = req:forward{ uri = contacts[1], record_route = opts.record_route }
  if not fwd then
    log("%s %s: cannot forward: %s", req.method, req.uri, tostring(err))
    return req:respond(500)
  end
  log("%s %s -> %s", req.method, req.uri, contacts[1])
  follow(req, fwd)
end
for _, m in ipairs{ "INVITE", "MESSAGE", "SUBSCRIBE" } do ua:on(m, route) end

-- Requests of a dialog we record-routed: on along their Route.
ua:on_routed(function(req)
  local fwd, err = req:forward()
  if not fwd then
    log("%s %s: cannot forward: %s", req.method, req.uri, tostring(err))
    return req:respond(500)
  end
  log("%s %s -> (route)", req.method, req.uri)
  follow(req, fwd)
end)

log("listening on %s", ua.addr)
sipkit.mailbox():get()
