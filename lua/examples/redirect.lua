-- redirect.lua - a redirect server that is also a registrar (one process,
-- one port): INVITE for a registered user gets 302 Moved Temporarily with
-- the user's contacts, others 404.
--
--   sipkit run lua/examples/redirect.lua [BIND] [--user NAME:PASSWORD]...
local sipkit = require "sipkit"
local location = require "sipkit.location"

local USAGE = [[
usage: redirect.lua [BIND] [--user NAME:PASSWORD]... [--realm REALM]
  BIND   address to listen on (default 127.0.0.1:5060)
Registrations are accepted as by registrar.lua; INVITEs are answered 302
with the callee's contacts, or 404 Not Found.]]

local opts = { bind = "127.0.0.1:5060", realm = "sipkit" }
local i = 1
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("redirect.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--user" then
    local name, pw = val():match("^([^:]+):(.*)$")
    opts.users = opts.users or {}
    opts.users[name or ""] = pw
  elseif a == "--realm" then opts.realm = val()
  elseif a:sub(1, 1) == "-" then io.stderr:write("redirect.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else opts.bind = a end
  i = i + 1
end

local function log(fmt, ...)
  io.stdout:write("redirect: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = opts.bind, user = "redirect", allow = sipkit.ALLOW .. ", REGISTER" })
local loc = location.new{ realm = opts.realm, users = opts.users, log = function(s) log("%s", s) end }
ua:on("REGISTER", loc:handler())
ua:on("INVITE", function(req)
  local contacts = loc:lookup(req.uri)
  if #contacts == 0 then
    log("INVITE %s: 404", req.uri)
    return req:respond(404)
  end
  local h = {}
  for _, c in ipairs(contacts) do h[#h + 1] = "Contact: <" .. c .. ">" end
  log("INVITE %s: 302 -> %s", req.uri, contacts[1])
  req:respond(302, { headers = h })
end)
log("listening on %s", ua.addr)
sipkit.mailbox():get()
