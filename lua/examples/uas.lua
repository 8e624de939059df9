-- uas.lua - a user agent server: rings, answers, logs DTMF digits sent by
-- INFO, answers BYE; keeps answering calls until stopped.
--
--   sipkit run lua/examples/uas.lua [BIND] [--user NAME] [--password PW]
--       [--register REGISTRAR_URI] [--ring SECONDS] [--calls N] [--reject CODE]
--       [--linger SECONDS] [--quiet]
local sipkit = require "sipkit"

local USAGE = [[
usage: uas.lua [BIND] [options]
  BIND                 address to listen on (default 127.0.0.1:5080; port 0 picks one)
  --user NAME          our user name (default bob)
  --password PW        password for digest challenges (with --register)
  --register URI       register at this registrar first (as NAME)
  --ring SECONDS       ring this long before answering (default 0.2)
  --calls N            exit after N calls have ended (default: run until stopped)
  --reject CODE        reject every call with CODE instead of answering
  --linger SECONDS     with --calls: after the last call, keep answering
                       retransmissions until none came for this long (default 5)
  --quiet              print no line per call, only "listening on" and failures
                       (for load tests: thousands of calls a second)
Prints one line per event: "uas: listening on ADDR", "uas: INVITE from URI",
"uas: DTMF D", "uas: call ended (why)".]]

local opts = { bind = "127.0.0.1:5080", user = "bob", ring = 0.2, linger = 5 }
local i = 1
while i <= #arg do
  local a = arg[i]
  local function val() i = i + 1 return arg[i] or error("uas.lua: " .. a .. " needs a value", 0) end
  if a == "-h" or a == "--help" then print(USAGE) os.exit(0)
  elseif a == "--user" then opts.user = val()
  elseif a == "--password" then opts.password = val()
  elseif a == "--register" then opts.register = val()
  elseif a == "--ring" then opts.ring = tonumber(val())
  elseif a == "--calls" then opts.calls = tonumber(val())
  elseif a == "--reject" then opts.reject = tonumber(val())
  elseif a == "--linger" then opts.linger = tonumber(val())
  elseif a == "--quiet" then opts.quiet = true
  elseif a:sub(1, 1) == "-" then io.stderr:write("uas.lua: unknown option ", a, "\n", USAGE, "\n") os.exit(2)
  else opts.bind = a end
  i = i + 1
end

-- No flush per line: sipkit flushes stdout before its loop waits, so the
-- lines of one wake-up (under load, of many calls) cost one write.
-- A line of up to three pieces, written as they are: a string.format per
-- line cost more than the write.
local stdout = io.stdout
local function log(a, b, c)
  stdout:write("uas: ", a, b or "", c or "", "\n")
end

-- a call's events: nil with --quiet, so that a call's lines and their
-- arguments (req.from is a table made from the message) cost nothing
local say = not opts.quiet and log or nil

local ua = assert(sipkit.ua{ bind = opts.bind, user = opts.user, password = opts.password })
log("listening on ", ua.addr)
if opts.register then
  local ok, err = ua:register(opts.register, { expires = 300 })
  if not ok then log("register failed: ", tostring(err)) os.exit(1) end
  log("registered at ", opts.register)
end

-- The main task waits for the last of --calls only: a wake-up of it per
-- call would be one resume in four of a call's.
-- (--calls 2.5 stops after 3 calls, 0 or less after none, as it always has)
local calls_wanted = opts.calls and math.max(math.ceil(opts.calls), 0)
local ended, ended_calls = sipkit.mailbox(), 0
local function call_done()
  ended_calls = ended_calls + 1
  if ended_calls == calls_wanted then ended:put(true) end
end

-- An answered call is served by these two: sipkit runs serve_request for
-- each request of the call and call_ended at its end, in a task that
-- lasts while they run, so an idle call has no task (a task waiting in
-- call:events() would weigh ~1.2 KB a call).
local function serve_request(req)
  if req.method == "INFO" then
    local d = req.dtmf
    if say then say("DTMF ", d and d.signal or "?") end
    req:respond(d and 200 or 415)
  elseif req.method == "BYE" then
    if say then say("BYE") end
  else
    if say then say(req.method, " in dialog") end
    req:respond(200)
  end
end

local function call_ended(call)
  if say then say("call ended (", call.end_reason or "?", ")") end
  call_done()
end

ua:on("INVITE", function(req)
  if say then say("INVITE from ", req.from.uri) end
  if opts.reject then
    req:reject(opts.reject)
    if say then say("rejected with ", opts.reject) end
    return call_done()
  end
  req:ring()
  if opts.ring > 0 and req:wait_cancel(opts.ring) then
    if say then say("cancelled") end
    return call_done()
  end
  local call, err = req:answer()
  if not call and type(err) == "table" and err.code == "ENDED" and err.why == "bye_received" then
    -- our 200 went out, its ACK was lost and the BYE overtook the ACK's
    -- retransmission: a normal call, answered and ended by the BYE
    if say then say("answered") say("BYE") say("call ended (bye_received)") end
    return call_done()
  end
  if not call then
    log("answer failed: ", tostring(err))
    return call_done()
  end
  if say then say("answered") end
  call:on_request(serve_request)
  call:on_end(call_ended)
end)

-- The last calls have ended, but their server transactions may still be
-- needed: our 200 to a BYE (or a final to an INVITE) may have been lost,
-- and the peer retransmits its request for up to 64*T1, at most T2 (4 s)
-- apart (RFC 3261 §17.2.2, §17.1.2.2).  Exiting at once would leave those
-- retransmissions to a closed port.  Keep serving until no datagram came
-- for `quiet` seconds (more than T2), or nothing is live any more.
local function linger(quiet)
  if not quiet or quiet <= 0 then return end
  local st = sipkit.stats()
  local seen, since, stop = st.datagrams_in, sipkit.now(), sipkit.now() + 32
  while sipkit.now() < stop do
    st = sipkit.stats()
    if st.datagrams_in ~= seen then
      seen, since = st.datagrams_in, sipkit.now()
    elseif st.transactions == 0 or sipkit.now() - since >= quiet then
      return
    end
    sipkit.sleep(0.1)
  end
end

if calls_wanted ~= 0 then ended:get() end
linger(opts.linger)
if opts.register then ua:unregister() end
