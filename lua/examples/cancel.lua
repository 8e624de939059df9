-- cancel.lua - INVITE, then CANCEL as soon as the callee rings (180).
--
--   sipkit run lua/examples/cancel.lua TARGET_URI [BIND]
local sipkit = require "sipkit"

local USAGE = [[
usage: cancel.lua TARGET_URI [BIND] [--timeout S]
Exit status 0 when the INVITE ended with 487 Request Terminated.]]

local opts = { bind = "127.0.0.1:0", timeout = 10 }
local i, pos = 1, {}
while i <= #arg do
  local a = arg[i]
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--timeout" then i = i + 1 opts.timeout = tonumber(arg[i])
  elseif a:sub(1, 1) == "-" then io.stderr:write("cancel.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else pos[#pos + 1] = a end
  i = i + 1
end
if not pos[1] then io.stderr:write(USAGE, "\n") os.exit(2) end

local function log(fmt, ...)
  io.stdout:write("cancel: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

local ua = assert(sipkit.ua{ bind = pos[2] or opts.bind, user = "alice" })
local pending
pending = assert(ua:invite_async(pos[1], {
  on_provisional = function(m)
    log("%d %s", m.status, m.reason)
    if m.status == 180 then log("CANCEL") pending:cancel() end
  end,
}))
local call, err = pending:wait(opts.timeout)
if call then
  log("answered before the CANCEL took effect; hanging up")
  call:bye()
  os.exit(1)
end
log("INVITE ended: %s", tostring(err))
os.exit(err.status == 487 and 0 or 1)
