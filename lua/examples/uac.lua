-- uac.lua - a user agent client: calls TARGET_URI, sends DTMF digits by
-- INFO (application/dtmf-relay), waits, hangs up.
--
--   sipkit run lua/examples/uac.lua TARGET_URI [BIND] [--dtmf DIGITS]
--       [--wait SECONDS] [--user NAME] [--password PW] [--proxy HOST:PORT]
--
-- The same call is a flow for `sipkit load` (one UA for all calls; no
-- DTMF and no wait unless asked, so SIPp's built-in uas accepts it):
--
--   sipkit load lua/examples/uac.lua --rate 50 --calls 200 -- TARGET_URI [BIND] [options]
local sipkit = require "sipkit"
local loading = arg and arg[-1] == "sipkit load"

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

local function parse_args(args)
  local opts = { bind = "127.0.0.1:0", dtmf = "1234#", wait = 0.5, user = "alice", timeout = 10,
    interval = 0.1 }
  if loading then opts.dtmf, opts.wait = "", 0 end
  local i, pos = 1, {}
  while i <= #args do
    local a = args[i]
    local function val() i = i + 1 return args[i] or error("uac.lua: " .. a .. " needs a value", 0) end
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
return opts
end

local function log(fmt, ...)
  io.stdout:write("uac: ", string.format(fmt, ...), "\n")
  io.stdout:flush()
end

-- One call: INVITE, DTMF, wait, BYE.  timer: sipkit load's, which times
-- the INVITE (t:invite), or nil.  say nil: nothing is printed, and the
-- INVITE asks for no provisional responses (each one would be a msg made
-- and a wake-up of the call's task).  iopts: the INVITE's options, made
-- once (a load's calls share them).  Returns true, or nil and what went
-- wrong.
local function invite_opts(opts, say)
  return { timeout = opts.timeout, dest = opts.proxy,
    on_provisional = say and function(m) say("%d %s", m.status, m.reason) end }
end

local function call_once(ua, opts, iopts, timer, say)
  local call, err
  if timer then call, err = timer:invite(ua, opts.target, iopts)
  else call, err = ua:invite(opts.target, iopts) end
  if not call then return nil, "call failed: " .. tostring(err) end
  if say then say("answered") end
  if opts.dtmf ~= "" then
    local ok, derr = call:dtmf(opts.dtmf, { interval = opts.interval })
    if not ok then return nil, "DTMF failed: " .. tostring(derr) end
    if say then say("sent DTMF %s", opts.dtmf) end
  end
  if opts.wait > 0 then sipkit.sleep(opts.wait) end
  if call.state == "ended" then
    return nil, "the other side hung up (" .. tostring(call.end_reason) .. ")"
  end
  local ok, berr = call:bye()
  if not ok then return nil, "BYE failed: " .. tostring(berr) end
  if say then say("hung up") end
  return true
end

if loading then
  return {
    setup = function(args, info)
      local opts = parse_args(args)
      local ua = assert(sipkit.ua{ bind = opts.bind, user = opts.user, password = opts.password,
        reuseport = info.reuseport })
      return { ua = ua, opts = opts, iopts = invite_opts(opts) }
    end,
    flow = function(ctx, _, t)
      return call_once(ctx.ua, ctx.opts, ctx.iopts, t)
    end,
  }
end

local opts = parse_args(arg)
local ua = assert(sipkit.ua{ bind = opts.bind, user = opts.user, password = opts.password })
log("calling %s from %s", opts.target, ua.addr)
local ok, err = call_once(ua, opts, invite_opts(opts, log), nil, log)
if not ok then
  log("%s", err)
  os.exit(1)
end
