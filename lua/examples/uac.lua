-- uac.lua - a user agent client: calls TARGET_URI, sends DTMF digits by
-- INFO (application/dtmf-relay), waits, hangs up.
--
--   sipkit run lua/examples/uac.lua TARGET_URI [BIND] [--dtmf DIGITS]
--       [--wait SECONDS] [--user NAME] [--password PW] [--proxy HOST:PORT]
local sipkit = require "sipkit"

local USAGE = [[
usage: uac.lua TARGET_URI [BIND] [options]
  TARGET_URI           whom to call, e.g. sip:bob@127.0.0.1:5080
  BIND                 our address (default 127.0.0.1:0)
  --dtmf DIGITS        digits to send by INFO once connected (default 1234#)
  --interval SECONDS   pause between digits (default 0.1)
  --wait SECONDS       stay in the call this long before BYE (default 0.5)
  --user NAME          our user name (default alice)
  --password PW        answer digest challenges with this password
  --proxy HOST:PORT    send the INVITE there instead of to TARGET_URI's host
  --timeout SECONDS    give up (and CANCEL) without an answer (default 10)
Exit status 0 when the call was answered and hung up, 1 otherwise.]]

local opts = { bind = "127.0.0.1:0", dtmf = "1234#", wait = 0.5, user = "alice", timeout = 10,
  interval = 0.1 }
local i, pos = 1, {}
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("uac.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--dtmf" then opts.dtmf = val()
  elseif a == "--interval" then opts.interval = tonumber(val())
  elseif a == "--wait" then opts.wait = tonumber(val())
  elseif a == "--user" then opts.user = val()
  elseif a == "--password" then opts.password = val()
  elseif a == "--proxy" then opts.proxy = val()
  elseif a == "--timeout" then opts.timeout = tonumber(val())
  elseif a:sub(1, 1) == "-" then io.stderr:write("uac.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else pos[#pos + 1] = a end
  i = i + 1
end
if not pos[1] then io.stderr:write(USAGE, "\n") os.exit(2) end
opts.target, opts.bind = pos[1], pos[2] or opts.bind

local function log(fmt, ...)
  io.stdout:write("uac: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = opts.bind, user = opts.user, password = opts.password })
log("calling %s from %s", opts.target, ua.addr)
local call, err = ua:invite(opts.target, {
  timeout = opts.timeout, dest = opts.proxy,
  on_provisional = function(m) log("%d %s", m.status, m.reason) end,
})
if not call then
  log("call failed: %s", tostring(err))
  os.exit(1)
end
log("answered")
if opts.dtmf ~= "" then
  local ok, derr = call:dtmf(opts.dtmf, { interval = opts.interval })
  if not ok then log("DTMF failed: %s", tostring(derr)) os.exit(1) end
  log("sent DTMF %s", opts.dtmf)
end
sipkit.sleep(opts.wait)
if call.state == "ended" then
  log("the other side hung up (%s)", call.end_reason)
  os.exit(1)
end
local ok, berr = call:bye()
if not ok then log("BYE failed: %s", tostring(berr)) os.exit(1) end
log("hung up")
