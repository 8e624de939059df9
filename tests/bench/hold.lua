-- tests/bench/hold.lua - a `sipkit load` flow for the memory-per-idle-call
-- measurement of `make bench-load`: INVITE, then hold the established call
-- for HOLD seconds without sending anything, then BYE.
--
--   sipkit load tests/bench/hold.lua --rate R --calls N -- TARGET_URI HOLD
local sipkit = require "sipkit"

return {
  setup = function(args, info)
    local ua = assert(sipkit.ua{ bind = "127.0.0.1:0", user = "hold", reuseport = info.reuseport })
    return { ua = ua, target = assert(args[1], "hold.lua: TARGET_URI expected"),
             hold = tonumber(args[2] or "10") }
  end,
  flow = function(ctx, _, t)
    local call, err = t:invite(ctx.ua, ctx.target, { timeout = 30 })
    if not call then return nil, "call failed: " .. tostring(err) end
    sipkit.sleep(ctx.hold)
    if call.state == "ended" then return nil, "ended by the other side" end
    return call:bye()
  end,
}
