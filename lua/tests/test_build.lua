-- test_build.lua - sipkit.request, msg:response, body builders and auth
-- helpers: exact output bytes, and errors naming the ABNF rule.
local sipkit = require "sipkit"
local T = require "check"
local eq = T.eq

local function crlf(lines) return table.concat(lines, "\r\n") end

local q = assert(sipkit.request{
  method = "OPTIONS", uri = "sip:carol@chicago.com",
  from = { uri = "sip:alice@atlanta.com", display = 'Alice "A"', tag = "1928" },
  to = "sip:carol@chicago.com", call_id = "abc@h", cseq = 7,
  via = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1",
  contact = "sip:alice@192.0.2.1:5060",
  -- array entries in order, then named ones sorted
  headers = { "Subject: hello", { "X-A", "1" }, ["X-Z"] = "z", ["X-B"] = { "b1", "b2" } },
  body = "hi there",
})
eq(tostring(q), crlf{
  "OPTIONS sip:carol@chicago.com SIP/2.0",
  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1",
  "Max-Forwards: 70",
  'From: "Alice \\"A\\"" <sip:alice@atlanta.com>;tag=1928',
  "To: <sip:carol@chicago.com>",
  "Call-ID: abc@h",
  "CSeq: 7 OPTIONS",
  "Contact: <sip:alice@192.0.2.1:5060>",
  "Subject: hello",
  "X-A: 1",
  "X-B: b1",
  "X-B: b2",
  "X-Z: z",
  "Content-Type: text/plain",
  "Content-Length: 8",
  "",
  "hi there" })
eq(q.from.display, 'Alice "A"', "display name round trip")
eq(q.method, "OPTIONS", "the built message is a parsed msg")

-- generated identifiers when not given
local g = assert(sipkit.request{ method = "INVITE", uri = "sip:b@h", from = "sip:a@h", to = "sip:b@h" })
eq(#g.from.tag, 16)
eq(#g.call_id, 32)
eq(#g.via[1].branch, 39)
eq(g.via[1].branch:sub(1, 7), "z9hG4bK")
eq(g.max_forwards, 70)
eq(g.cseq, { num = 1, method = "INVITE" })
eq(g.to.tag, nil)
eq(#sipkit.gen_tag(), 16)
T.ok(sipkit.gen_call_id() ~= sipkit.gen_call_id(), "call ids differ")

-- ungrammatical values: nil, err naming the rule
local function build_err(t)
  local m, e = sipkit.request(t)
  eq(m, nil)
  return e
end
local base = function(extra)
  local t = { method = "INVITE", uri = "sip:b@h", from = "sip:a@h", to = "sip:b@h" }
  for k, v in pairs(extra) do t[k] = v end
  return t
end
local e = build_err(base{ headers = { "Subject: a\r\nInjected: 1" } })
eq({ e.code, e.rule, e.offset }, { "INVALID_VALUE", "Subject", 10 }, "header injection")
eq(e.message, "error INVALID_VALUE at 10 (1:11): value does not match its grammar rule [Subject]")
e = build_err(base{ uri = "sip:b@h bad" })
eq({ e.code, e.rule }, { "INVALID_VALUE", "Request-URI" })
e = build_err(base{ method = "INV ITE" })
eq({ e.code, e.rule }, { "INVALID_VALUE", "Method" })
e = build_err(base{ from = { uri = "sip:a@h", display = "x\r\ny" } })
eq({ e.code, e.rule }, { "INVALID_VALUE", "display-name" })
T.ok(T.raises(sipkit.request, { method = "INVITE", uri = "sip:b@h" }), "missing from/to raises")
T.ok(T.raises(sipkit.request, base{ headers = { 42 } }), "a header that is no string raises")

-- responses (RFC 3261 §8.2.6)
local r = assert(q:response(200, nil, { to_tag = "t1", headers = { "Contact: <sip:c@1.2.3.4>" },
  sdp = "v=0\r\n" }))
eq(tostring(r), crlf{
  "SIP/2.0 200 OK",
  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1",
  'From: "Alice \\"A\\"" <sip:alice@atlanta.com>;tag=1928',
  "To: <sip:carol@chicago.com>;tag=t1",
  "Call-ID: abc@h",
  "CSeq: 7 OPTIONS",
  "Contact: <sip:c@1.2.3.4>",
  "Content-Type: application/sdp",
  "Content-Length: 5",
  "",
  "v=0", "" })
eq(r.status, 200)
local busy = assert(q:response(486, "Busy Here Now"))
eq(busy.reason, "Busy Here Now")
eq(#busy.to.tag, 16, "a generated To tag")
eq(assert(q:response(100)).to.tag, nil, "100 gets no To tag")
eq(assert(q:response(182)).reason, "Queued")
local rr, re = q:response(200, "bad\r\nreason")
eq(rr, nil)
eq({ re.code, re.rule }, { "INVALID_VALUE", "Reason-Phrase" })
T.ok(T.raises(q.response, q, 99), "status 99 raises")
T.ok(T.raises(r.response, r, 200), "responding to a response raises")

-- Record-Route copied for a dialog-creating response
local inv = assert(sipkit.parse(T.fixture("12_invite_3via.sip")))
local ok180 = assert(inv:response(180, nil, { to_tag = "x" }))
eq(ok180:headers("Record-Route"), { "<sip:proxy.biloxi.example.com;lr>", "<sip:proxy.atlanta.example.com;lr>" })
eq(#ok180.via, 3)

-- bodies
eq(sipkit.dtmf_relay("5", 160), "Signal=5\r\nDuration=160\r\n")
eq(sipkit.dtmf_relay("#"), "Signal=#\r\n")
local nd, de = sipkit.dtmf_relay("x")
eq(nd, nil)
eq(de.code, "INVALID_VALUE")
T.ok(T.raises(sipkit.dtmf_relay, "12"), "two digits raise")
local offer = sipkit.sdp_offer{ address = "127.0.0.1", port = 4000, sess_id = 1, sess_version = 1 }
eq(offer, crlf{ "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
  "m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv", "" })
local ans = assert(sipkit.sdp_answer(inv.body, { address = "127.0.0.2", port = 5000, codecs = { "PCMA" } }))
local as = assert(sipkit.sdp(ans))
eq(as.media[1].port, 5000)
eq(as.media[1].formats[1].encoding, "PCMA")
eq(as.conn.address, "127.0.0.2")
-- the binding remembers the last offer and answer: the same input gives
-- the same answer, other options or another offer give their own
eq(sipkit.sdp_answer(inv.body, { address = "127.0.0.2", port = 5000, codecs = { "PCMA" } }), ans)
-- ... as one string, not a copy each: 100 calls answered alike hold 100
-- references (the array, 128 slots of 16 bytes) and at most one new string
do
  local held = {}
  collectgarbage("collect")
  local before = collectgarbage("count") * 1024
  for i = 1, 100 do
    held[i] = sipkit.sdp_answer(inv.body, { address = "127.0.0.2", port = 5000, codecs = { "PCMA" } })
  end
  collectgarbage("collect")
  local grown = collectgarbage("count") * 1024 - before
  T.ok(grown <= 128 * 16 + 64 + (24 + #ans + 1), "answers to the same offer share one string (grew " .. grown .. " B)")
  eq(held[100], ans)
end
local ans2 = assert(sipkit.sdp_answer(inv.body, { address = "127.0.0.2", port = 5002, codecs = { "PCMA" } }))
eq(sipkit.sdp(ans2).media[1].port, 5002)
local ans3 = assert(sipkit.sdp_answer(inv.body, { address = "127.0.0.3", port = 5002, codecs = { "PCMA" } }))
eq(sipkit.sdp(ans3).conn.address, "127.0.0.3")
local ans4 = assert(sipkit.sdp_answer(offer, { address = "127.0.0.3", port = 5002, codecs = { "PCMA" } }))
eq(sipkit.sdp(ans4).media[1].port, 5002)
eq(select(2, sipkit.sdp_answer("v=1\r\n", { port = 5002 })).code, "SDP")
local ns, se = sipkit.sdp("v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n")
eq(ns, nil)
eq({ se.code, se.rule, se.offset, se.line, se.col }, { "SDP", "version-field", 2, 1, 3 })
local _, pe = sipkit.sdp("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n")
eq({ pe.rule, pe.offset }, { "media-field", 49 }, "port above 65535")
T.ok(T.raises(sipkit.sdp_offer, { codecs = { "G729" } }), "unknown codec raises")

-- digest helpers (credentials of bench corpus 07)
local reg = assert(sipkit.parse(T.fixture("07_register_auth.sip")))
local cr = assert(reg:credentials())
eq(cr, { username = "bob", realm = "biloxi.example.com", nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093",
  uri = "sip:registrar.biloxi.example.com", response = "245f23415f11432b3434341c022a2432",
  cnonce = "0a4f113b", opaque = "5ccc069c403ebaf9f0171e9517f40e41", nc = "00000001",
  algorithm = "MD5", qop = "auth" })
local bad, ae = reg:verify_auth{ password = "wrong" }
eq(bad, nil)
eq(ae.code, "AUTH")
local _, me = inv:credentials()
eq(me.code, "MISSING_HEADER")
eq(sipkit.auth_challenge{ realm = "r", nonce = "n", opaque = "o" },
  'Digest realm="r", nonce="n", opaque="o", algorithm=MD5, qop="auth"')
local key = "0123456789abcdef"
local nonce = sipkit.auth_nonce(key, 1000)
eq(#nonce, 96)
eq({ sipkit.auth_nonce_check(key, nonce, 1010, 30) }, { true, false })
eq({ sipkit.auth_nonce_check(key, nonce, 1100, 30) }, { true, true }, "stale after max_age")
eq(sipkit.auth_nonce_check("other-key", nonce, 1010, 30), nil)

-- a request with digest credentials verified end to end: build the
-- Authorization the way a client would, with the password
eq(sipkit.reason_phrase(486), "Busy Here")

T.done("test_build")
