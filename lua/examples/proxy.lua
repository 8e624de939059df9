-- proxy.lua - registrar plus call routing in one process: INVITEs for a
-- registered user are taken to the user's contact, provisional responses
-- and the answer are relayed, in-dialog requests (INFO, re-INVITE, BYE...)
-- are passed from each side to the other, and a CANCEL is passed on.
--
-- It routes as a back-to-back user agent (each side is a dialog of its
-- own with this process), because the C UA core has no call to forward a
-- received request with an added Via; see lua/README.md.
--
--   sipkit run lua/examples/proxy.lua [BIND] [--user NAME:PASSWORD]...
local sipkit = require "sipkit"
local location = require "sipkit.location"

local USAGE = [[
usage: proxy.lua [BIND] [--user NAME:PASSWORD]... [--realm REALM]
  BIND   address to listen on (default 127.0.0.1:5060)
REGISTER is handled as by registrar.lua; INVITE sip:NAME@... goes to NAME's
contact (404 when NAME is not registered, 483 when Max-Forwards is 0).]]

local opts = { bind = "127.0.0.1:5060", realm = "sipkit" }
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
  elseif a:sub(1, 1) == "-" then io.stderr:write("proxy.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else opts.bind = a end
  i = i + 1
end

local function log(fmt, ...)
  io.stdout:write("proxy: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = opts.bind, user = "proxy", allow = sipkit.ALLOW .. ", REGISTER" })
local loc = location.new{ realm = opts.realm, users = opts.users, log = function(s) log("%s", s) end }
ua:on("REGISTER", loc:handler())

-- Pass each in-dialog request of `from` to `to` and its answer back.
local function relay(from, to, name)
  for req in from:events() do
    if req.method == "BYE" then
      log("BYE from %s", name)
      to:bye()
      return
    end
    local resp, err = to:request(req.method, { body = req.body ~= "" and req.body or nil,
      content_type = req.content_type })
    log("%s from %s -> %s", req.method, name, resp and resp.status or tostring(err))
    req:respond(resp and resp.status or (err.status or 500))
  end
  to:bye() -- from ended some other way
end

ua:on("INVITE", function(req)
  if req.max_forwards and req.max_forwards <= 0 then return req:respond(483) end
  local contacts = loc:lookup(req.uri)
  if #contacts == 0 then
    log("INVITE %s: 404", req.uri)
    return req:respond(404)
  end
  log("INVITE %s -> %s", req.uri, contacts[1])
  local out = assert(ua:invite_async(contacts[1], {
    sdp = req.sdp and req.body or false, from = req.from.uri, to = req.uri,
    on_provisional = function(m) if m.status > 100 then req:respond(m.status) end end,
  }))
  local answered = false
  sipkit.spawn(function()
    if req:wait_cancel(64) and not answered then
      log("CANCEL passed on")
      out:cancel()
    end
  end)
  local bcall, err = out:wait()
  if not bcall then
    if not req.cancelled then req:respond(err.status or 500) end
    log("INVITE %s: %s", req.uri, tostring(err))
    return
  end
  answered = true
  local acall, aerr = req:answer{ sdp = bcall.remote_sdp or false }
  if not acall then
    log("caller went away: %s", tostring(aerr))
    return bcall:bye()
  end
  log("call bridged")
  sipkit.spawn(relay, bcall, acall, "callee")
  relay(acall, bcall, "caller")
  log("call ended")
end)

log("listening on %s", ua.addr)
sipkit.mailbox():get()
