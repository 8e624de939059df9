-- test_parse.lua - sipkit.parse and the lazily made message fields.
local sipkit = require "sipkit"
local T = require "check"
local eq = T.eq

-- INVITE with SDP (bench corpus 01)
local raw = T.fixture("01_invite_sdp.sip")
local m = assert(sipkit.parse(raw))
eq(m.method, "INVITE")
eq(m.status, nil)
eq(m.reason, nil)
eq(m.is_request, true)
eq(m.uri, "sip:bob@biloxi.example.com")
eq(m.ruri.user, "bob")
eq(m.ruri.host, "biloxi.example.com")
eq(m.ruri.scheme, "sip")
eq(m.call_id, "a84b4c76e66710@pc33.atlanta.example.com")
eq(m.cseq, { num = 314159, method = "INVITE" })
eq(m.from.display, "Alice")
eq(m.from.uri, "sip:alice@atlanta.example.com")
eq(m.from.tag, "1928301774")
eq(m.to.display, "Bob")
eq(m.to.uri, "sip:bob@biloxi.example.com")
eq(m.to.tag, nil)
eq(#m.via, 1)
eq(m.via[1].transport, "UDP")
eq(m.via[1].host, "192.0.2.101")
eq(m.via[1].port, 5060)
eq(m.via[1].branch, "z9hG4bK776asdhds")
eq(m.via[1].rport, true, "bare ;rport")
eq(m.via[1].received, nil)
eq(m.max_forwards, 70)
eq(m.contact.uri, "sip:alice@192.0.2.101:5060;transport=udp")
eq(m.contact.parts.port, 5060)
-- an address's parts: the fields of its URI, exactly as sipkit.uri gives
-- them, made once and then the same table
eq(m.contact.parts, { all = "sip:alice@192.0.2.101:5060;transport=udp", scheme = "sip", user = "alice",
  host = "192.0.2.101", port = 5060, params = "transport=udp", transport = "udp" })
eq(m.from.parts, { all = "sip:alice@atlanta.example.com", scheme = "sip", user = "alice",
  host = "atlanta.example.com" })
eq(m.to.parts, sipkit.uri(m.to.uri))
local contact = m.contact
eq(rawequal(contact.parts, contact.parts), true, "parts is made once")
eq(m.content_type, "application/sdp")
eq(#m.body, 264)
eq(m.body:sub(1, 5), "v=0\r\n")
eq(m.size, #raw)
eq(tostring(m), raw, "tostring gives the wire bytes")
eq(#m, #raw)
eq(rawequal(m.via, m.via), true, "fields are cached")
eq(m.dtmf, nil)
eq(m.nonexistent_field, nil)

-- headers by long and compact name, case-insensitive, unknown ones as written
eq(m:header("allow"), "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE")
eq(m:header("Session-Expires"), "1800")
eq(m:header("x-missing"), nil)
eq(m:headers("Supported"), { "replaces, timer, 100rel" }, "a lazy header is one entry per line")
eq(m:headers("Route"), { "<sip:proxy.atlanta.example.com;lr>" })
eq(m:headers("Warning"), {})
eq(m:header("v"), "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport")
local all = m:headers()
eq(#all, 14)
eq(all[1], { name = "Via", value = "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport" })

-- SDP parsed on access
local sdp = m.sdp
eq(sdp.version, 0)
eq(sdp.origin, { username = "alice", sess_id = "2890844526", sess_version = "2890844526",
  nettype = "IN", addrtype = "IP4", address = "192.0.2.101" })
eq(sdp.name, "-")
eq(sdp.conn, { nettype = "IN", addrtype = "IP4", address = "192.0.2.101" })
eq(#sdp.media, 1)
local au = sdp.media[1]
eq(au.media, "audio")
eq(au.port, 49170)
eq(au.proto, "RTP/AVP")
eq(au.direction, "sendrecv")
eq(au.hold, false)
eq(#au.formats, 4)
eq(au.formats[1], { fmt = "0", pt = 0, encoding = "PCMU", clock_rate = 8000, channels = 1 })
eq(au.formats[4], { fmt = "101", pt = 101, encoding = "telephone-event", clock_rate = 8000,
  channels = 1, fmtp = "0-16" })
eq(au.attrs[#au.attrs], { name = "sendrecv" })

-- compact forms (bench corpus 11)
local c = assert(sipkit.parse(T.fixture("11_invite_compact.sip")))
eq(c.from.tag, "49583")
eq(c.call_id, "asd88asd77a@192.0.2.101")
eq(c:header("Subject"), "Project review")
eq(c:header("s"), "Project review")
eq(c:headers("supported"), { "timer, 100rel" })
eq(c.content_type, "application/sdp")

-- three Vias, received and rport=N (bench corpus 12)
local p = assert(sipkit.parse(T.fixture("12_invite_3via.sip")))
eq(#p.via, 3)
eq(p.via[1].host, "proxy.biloxi.example.com")
eq(p.via[2].received, "198.51.100.10")
eq(p.via[3].rport, 5060)
eq(p.via[3].received, "192.0.2.101")
eq(p.max_forwards, 68)
eq(p:headers("Record-Route"), { "<sip:proxy.biloxi.example.com;lr>", "<sip:proxy.atlanta.example.com;lr>" })
eq(p.from.display, "Alice", "unquoted display name")

-- a response (bench corpus 08)
local r = assert(sipkit.parse(T.fixture("08_401_unauthorized.sip")))
eq(r.status, 401)
eq(r.reason, "Unauthorized")
eq(r.method, nil)
eq(r.uri, nil)
eq(r.is_response, true)
eq(r.cseq, { num = 1, method = "REGISTER" })
eq(r.to.tag, "37GkEhwl6")
eq(r.via[1].rport, 5060)

-- bare LF: rejected unless lenient_lf
local lf = T.fixture("08_401_unauthorized.sip"):gsub("\r\n", "\n")
local nolf, err = sipkit.parse(lf)
eq(nolf, nil, "bare LF is rejected in strict mode")
eq(err.code, "BARE_LF")
eq(err.offset, 24)
eq(err.line, 1)
eq(err.col, 25)
eq(sipkit.parse(lf, { lenient_lf = true }).to.tag, "37GkEhwl6")

-- DTMF over INFO (bench corpus 10)
local d = assert(sipkit.parse(T.fixture("10_info_dtmf.sip")))
eq(d.method, "INFO")
eq(d.dtmf, { signal = "1", duration = 100 })
eq(d.sdp, nil)
-- msg:_has_sdp() (the façade's cheap "is there an offer"): as msg.sdp ~= nil
eq(d:_has_sdp(), false)
eq(assert(sipkit.parse(raw)):_has_sdp(), true)
eq(m:_has_sdp(), true) -- msg.sdp already made
local badsdp = raw:gsub("v=0\r\n", "v=x\r\n", 1)
eq(#badsdp, #raw)
local bm = assert(sipkit.parse(badsdp))
eq(bm:_has_sdp(), false)
eq(bm:_has_sdp(), false) -- the cached answer
eq(bm.sdp, nil)
local d2 = assert(sipkit.parse(table.concat({
  "INFO sip:b@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
  "To: <sip:b@h>;tag=2", "Call-ID: x", "CSeq: 2 INFO", "Content-Type: application/dtmf",
  "Content-Length: 1", "", "#" }, "\r\n")))
eq(d2.dtmf, { signal = "#" })

-- parse errors: code, offset, line, col, rule, message; err prints itself
local bad, e = sipkit.parse(T.fixture("badvers.dat"))
eq(bad, nil)
eq(e.code, "VERSION")
eq(e.num, 4)
eq(e.offset, 33)
eq(e.line, 1)
eq(e.col, 34)
eq(e.rule, "SIP-Version")
eq(e.message, 'error VERSION at 33 (1:34): unsupported SIP version (only SIP/2.0) [SIP-Version] near "SIP/7.0\\r\\nVia:   "')
eq(tostring(e), e.message)
local _, e2 = sipkit.parse("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n")
eq(e2.code, "HEADERS_END")
local _, e3 = sipkit.parse("")
eq(e3.code, "EMPTY")
local _, e4 = sipkit.parse("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: 1\r\nCSeq: 1 BYE\r\n\r\n")
eq(e4.code, "CSEQ_METHOD")
local nc = sipkit.parse("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: 1\r\nCSeq: 1 BYE\r\n\r\n", { no_checks = true })
eq(nc.method, "INVITE", "no_checks skips the CSeq method check")

-- URIs on their own
eq(sipkit.uri("sip:alice:pw@atlanta.example.com:5061;transport=tcp;lr?subject=x"), {
  all = "sip:alice:pw@atlanta.example.com:5061;transport=tcp;lr?subject=x", scheme = "sip",
  user = "alice", password = "pw", host = "atlanta.example.com", port = 5061,
  params = "transport=tcp;lr", headers = "subject=x", transport = "tcp", lr = true })
local nu, ue = sipkit.uri("sip:@@")
eq(nu, nil)
eq(ue.code, "URI")

-- Only the 128 messages parsed last keep their parse; an older one parses
-- its bytes again (with its own flags) when read: same fields, same headers.
local old = assert(sipkit.parse(raw))
local old_lf = assert(sipkit.parse(lf, { lenient_lf = true }))
local newer = {}
for i = 1, 300 do newer[i] = assert(sipkit.parse(raw)) end
eq(old.from.tag, "1928301774", "field of a message parsed again")
eq(old:header("Max-Forwards"), "70")
eq(#old:headers(), #m:headers())
eq(old.via[1].branch, "z9hG4bK776asdhds")
eq(old_lf.to.tag, "37GkEhwl6", "parsed again with lenient_lf")
eq(tostring(old), raw)
eq(newer[1].cseq, { num = 314159, method = "INVITE" })
eq(newer[300].contact.uri, "sip:alice@192.0.2.101:5060;transport=udp")

-- The messages that carry the same body share one string: a call keeps
-- its peer's SDP for as long as it is up, and under load every call's is
-- the same.  100 bodies held: the array (128 slots of 16 bytes) and no
-- new string.
do
  local held = {}
  collectgarbage("collect")
  local before = collectgarbage("count") * 1024
  for i = 1, 100 do held[i] = assert(sipkit.parse(raw)).body end
  collectgarbage("collect")
  local grown = collectgarbage("count") * 1024 - before
  T.ok(grown <= 128 * 16 + 64, "bodies share one string (grew " .. grown .. " B)")
  eq(held[100], m.body)
end

-- The ring of parses keeps no message alive: one nobody holds goes, its
-- parse and its field cache with it.
do
  local w = setmetatable({}, { __mode = "v" })
  w[1] = assert(sipkit.parse(raw))
  eq(w[1].from.tag, "1928301774")
  collectgarbage("collect")
  eq(w[1], nil, "a message nobody holds is collected")
end

-- A parse goes into the buffer of its ring slot, which the slot's next
-- message reuses: 300 messages parsed (the collector stopped) from one
-- string make a msg each, not 2 KB of header entries each.
do
  for _ = 1, 128 do assert(sipkit.parse(raw)) end -- every slot has its buffer
  collectgarbage("collect")
  collectgarbage("stop")
  local before = collectgarbage("count") * 1024
  for _ = 1, 300 do assert(sipkit.parse(raw)) end
  local per = (collectgarbage("count") * 1024 - before) / 300
  collectgarbage("restart")
  T.ok(per < 1024, "parses reuse the ring's buffers (" .. per .. " B per message)")
end

-- misuse raises
T.ok(T.raises(sipkit.parse, 42), "parse(42) raises")
T.ok(T.raises(sipkit.parse, "x", 5), "parse(s, 5) raises")
T.ok(T.raises(m.header, m), "header() without a name raises")
T.ok(T.raises(m.header, {}, "x"):find("sipkit.msg expected", 1, true), "method on a non-msg names the type")

T.done("test_parse")
