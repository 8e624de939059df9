-- register.lua - register with digest authentication, keep the
-- registration refreshed for a while, then unregister.
--
--   sipkit run lua/examples/register.lua REGISTRAR_URI [BIND] [--user NAME]
--       [--password PW] [--expires S] [--hold S]
local sipkit = require "sipkit"

local USAGE = [[
usage: register.lua REGISTRAR_URI [BIND] [options]
  --user NAME       our user name (default alice)
  --password PW     digest password
  --expires S       requested expiry (default 3600)
  --hold S          stay registered this long, then unregister (default 1)
Exit status 0 when registering and unregistering succeeded.]]

local opts = { bind = "127.0.0.1:0", user = "alice", expires = 3600, hold = 1 }
local i, pos = 1, {}
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("register.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--user" then opts.user = val()
  elseif a == "--password" then opts.password = val()
  elseif a == "--expires" then opts.expires = tonumber(val())
  elseif a == "--hold" then opts.hold = tonumber(val())
  elseif a:sub(1, 1) == "-" then io.stderr:write("register.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else pos[#pos + 1] = a end
  i = i + 1
end
if not pos[1] then io.stderr:write(USAGE, "\n") os.exit(2) end

local function log(fmt, ...)
  io.stdout:write("register: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = pos[2] or opts.bind, user = opts.user, password = opts.password })
local ok, resp = ua:register(pos[1], { expires = opts.expires })
if not ok then log("failed: %s", tostring(resp)) os.exit(1) end
log("registered %s for %d s", ua.contact, ua.registration.expires)
sipkit.sleep(opts.hold)
local uok, uerr = ua:unregister()
if not uok then log("unregister failed: %s", tostring(uerr)) os.exit(1) end
log("unregistered")
