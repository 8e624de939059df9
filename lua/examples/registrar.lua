-- registrar.lua - a registrar with digest authentication: bindings with
-- expiry, Contact * with Expires 0, 423 Interval Too Brief.
--
--   sipkit run lua/examples/registrar.lua [BIND] [--user NAME:PASSWORD]...
--       [--realm REALM] [--min-expires S]
local sipkit = require "sipkit"
local location = require "sipkit.location"

local USAGE = [[
usage: registrar.lua [BIND] [options]
  BIND                   address to listen on (default 127.0.0.1:5060)
  --user NAME:PASSWORD   an account (repeat); without any, no authentication
  --realm REALM          digest realm (default sipkit)
  --min-expires S        shorter registrations get 423 (default 60)
Prints "registrar: listening on ADDR" and one line per binding change.]]

local opts = { bind = "127.0.0.1:5060", realm = "sipkit", min_expires = 60 }
local i = 1
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("registrar.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--user" then
    local name, pw = val():match("^([^:]+):(.*)$")
    if not name then io.stderr:write("registrar.lua: --user NAME:PASSWORD\n") os.exit(2) end
    opts.users = opts.users or {}
    opts.users[name] = pw
  elseif a == "--realm" then opts.realm = val()
  elseif a == "--min-expires" then opts.min_expires = tonumber(val())
  elseif a:sub(1, 1) == "-" then io.stderr:write("registrar.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else opts.bind = a end
  i = i + 1
end

local function log(fmt, ...)
  io.stdout:write("registrar: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = opts.bind, user = "registrar", allow = sipkit.ALLOW .. ", REGISTER" })
local loc = location.new{ realm = opts.realm, users = opts.users, min_expires = opts.min_expires,
  log = function(s) log("%s", s) end }
ua:on("REGISTER", loc:handler())
log("listening on %s", ua.addr)
sipkit.mailbox():get() -- serve until stopped
