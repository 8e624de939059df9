-- options_ping.lua - send OPTIONS to a URI every INTERVAL seconds and
-- print the status and round-trip time of each.
--
--   sipkit run lua/examples/options_ping.lua TARGET_URI [--count N] [--interval S]
local sipkit = require "sipkit"

local USAGE = [[
usage: options_ping.lua TARGET_URI [BIND] [--count N] [--interval S] [--timeout S]
Exit status 0 when every OPTIONS got a 2xx.]]

local opts = { count = 3, interval = 0.2, timeout = 2, bind = "127.0.0.1:0" }
local i, pos = 1, {}
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("options_ping.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--count" then opts.count = tonumber(val())
  elseif a == "--interval" then opts.interval = tonumber(val())
  elseif a == "--timeout" then opts.timeout = tonumber(val())
  elseif a:sub(1, 1) == "-" then io.stderr:write("options_ping.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else pos[#pos + 1] = a end
  i = i + 1
end
if not pos[1] then io.stderr:write(USAGE, "\n") os.exit(2) end

local ua = assert(sipkit.ua{ bind = pos[2] or opts.bind, user = "ping" })
local failed = 0
for n = 1, opts.count do
  local t0 = sipkit.now()
  local resp, err = ua:options(pos[1], { timeout = opts.timeout })
  if resp then
    print(string.format("ping %d: %d %s in %.1f ms", n, resp.status, resp.reason, (sipkit.now() - t0) * 1000))
  else
    failed = failed + 1
    print(string.format("ping %d: %s", n, tostring(err)))
  end
  io.stdout:flush()
  if n < opts.count then sipkit.sleep(opts.interval) end
end
os.exit(failed == 0 and 0 or 1)
