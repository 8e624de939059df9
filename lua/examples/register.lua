-- register.lua - register with digest authentication, keep the
-- registration refreshed for a while, then unregister.  With --refresh the
-- script runs its own refresh loop: a refresh that fails (timeout, 503 ...)
-- is reported and retried every --retry seconds until the registrar answers
-- again, so an outage of the registrar is visible and survived.
--
--   sipkit run lua/examples/register.lua REGISTRAR_URI [BIND] [--user NAME]
--       [--password PW] [--expires S] [--hold S] [--refresh S] [--retry S]
--       [--timeout S]
local sipkit = require "sipkit"

local USAGE = [[
usage: register.lua REGISTRAR_URI [BIND] [options]
  --user NAME       our user name (default alice)
  --password PW     digest password
  --expires S       requested expiry (default 3600)
  --hold S          stay registered this long, then unregister (default 1)
  --refresh S       re-register every S seconds (at most 80 % of the granted
                    expiry) while holding; a failed refresh is reported as
                    "register: registration failed: ERR, retrying in R s"
                    and retried until "register: registered again ..."
  --retry S         pause between retries after a failure (default 1)
  --timeout S       give up on one REGISTER after S seconds (default 32)
Exit status 0 when registering and unregistering succeeded (outages in
between that were recovered from included), 1 otherwise.]]

local opts = { bind = "127.0.0.1:0", user = "alice", expires = 3600, hold = 1, retry = 1 }
local i, pos = 1, {}
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("register.lua: " .. a .. " needs a value", 0) end
  local function num()
    local v = val()
    return tonumber(v) or error("register.lua: " .. a .. " needs a number, not " .. v, 0)
  end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--user" then opts.user = val()
  elseif a == "--password" then opts.password = val()
  elseif a == "--expires" then opts.expires = num()
  elseif a == "--hold" then opts.hold = num()
  elseif a == "--refresh" then opts.refresh = num()
  elseif a == "--retry" then opts.retry = num()
  elseif a == "--timeout" then opts.timeout = num()
  elseif a:sub(1, 1) == "-" then io.stderr:write("register.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else pos[#pos + 1] = a end
  i = i + 1
end
if not pos[1] then io.stderr:write(USAGE, "\n") os.exit(2) end

local function log(fmt, ...)
  io.stdout:write("register: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local registrar = pos[1]
local ua = assert(sipkit.ua{ bind = pos[2] or opts.bind, user = opts.user, password = opts.password })
-- Without --refresh the UA's own refresher (80 % of the granted time) is
-- used; with it, this script refreshes and retries itself.
local ropts = { expires = opts.expires, timeout = opts.timeout, refresh = not opts.refresh }
local ok, resp = ua:register(registrar, ropts)
if not ok then log("failed: %s", tostring(resp)) os.exit(1) end
log("registered %s for %d s", ua.contact, ua.registration.expires)

if opts.refresh then
  local t_end = sipkit.now() + opts.hold
  local granted = ua.registration.expires
  local refreshes, failures, outages, down_since = 0, 0, 0, nil
  while true do
    local pause = down_since and opts.retry or math.min(opts.refresh, math.max(0.2, granted * 0.8))
    local left = t_end - sipkit.now()
    if left <= 0 then break end
    sipkit.sleep(math.min(pause, left))
    if sipkit.now() >= t_end then break end
    local rok, rresp = ua:register(registrar, ropts)
    if rok then
      granted = ua.registration.expires
      if down_since then
        log("registered again %s for %d s after %.1f s (%d failed attempt%s)", ua.contact, granted,
          sipkit.now() - down_since, failures, failures == 1 and "" or "s")
        down_since, failures = nil, 0
      else
        refreshes = refreshes + 1
        log("refreshed %s for %d s", ua.contact, granted)
      end
    else
      if not down_since then down_since, outages = sipkit.now(), outages + 1 end
      failures = failures + 1
      log("registration failed: %s, retrying in %g s", tostring(rresp), opts.retry)
    end
  end
  log("%d refresh(es), %d outage(s)%s", refreshes, outages, down_since and ", still unregistered" or "")
  if down_since then os.exit(1) end
else
  sipkit.sleep(opts.hold)
end

local uok, uerr = ua:unregister({ timeout = opts.timeout })
if not uok then log("unregister failed: %s", tostring(uerr)) os.exit(1) end
log("unregistered")
