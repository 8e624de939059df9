#!/usr/bin/env python3
"""fuzz/mkseeds_rt.py - (re)build fuzz/corpus/fuzz_ua/ and fuzz/corpus/fuzz_pcap/.

Run from the repository root after `make build/fuzz/asan/fuzz_ua` (the UA
seeds that continue a dialog or answer our requests need the tags and
branches the harness's deterministic generator gives; they are read from
FUZZ_UA_DUMP=1 output).  Files it makes are replaced, others kept.

fuzz_ua seeds: control byte + datagrams separated by "%%%%" (fuzz/fuzz_ua.c).
fuzz_pcap seeds: tests/capture/*.pcap and hand-made pcaps of every link
type the reader takes (Ethernet with VLAN tags and sipkit's MACs, Linux
SLL / SLL2, NULL in both byte orders, LOOP, raw IPv4 / IPv6 with extension
headers, IPv4 fragments, ICMP, truncated records, nanosecond and
swapped-byte-order files, an unsupported link type).
"""
import os, re, shutil, struct, subprocess, sys

UA = "fuzz/corpus/fuzz_ua"
PC = "fuzz/corpus/fuzz_pcap"
SEP = b"%%%%"
os.makedirs(UA, exist_ok=True)
os.makedirs(PC, exist_ok=True)


def crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def ua(name, ctl, *dgrams):
    with open(os.path.join(UA, name + ".bin"), "wb") as f:
        f.write(bytes([ctl]) + SEP.join(dgrams))


def sent(ctl, *dgrams):
    """The datagrams the harness sends for this input."""
    path = "/tmp/mkseeds_rt.in"
    with open(path, "wb") as f:
        f.write(bytes([ctl]) + SEP.join(dgrams))
    out = subprocess.run(["build/fuzz/asan/fuzz_ua", path], env=dict(os.environ, FUZZ_UA_DUMP="1"),
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL).stderr.decode("latin-1")
    return [m.split("\n", 1)[1] for m in out.split("---- sent ")[1:]]


def field(msg, name):
    m = re.search(r"^" + name + r": (.*?)\r?$", msg, re.M)
    return m.group(1) if m else ""


def tag_of(v):
    m = re.search(r";tag=([^;>\s]+)", v)
    return m.group(1) if m else ""


def branch_of(v):
    m = re.search(r";branch=([^;\s]+)", v)
    return m.group(1) if m else ""


SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"


def req(method, ruri, cseq, branch="z9hG4bKfz1", to_tag="", extra="", body="", ctype="application/sdp",
        call_id="fz-call-1", from_tag="ft1", cseq_method=None):
    h = [f"{method} {ruri} SIP/2.0",
         f"Via: SIP/2.0/UDP 127.0.0.1:9;branch={branch};rport",
         "Max-Forwards: 70",
         f"From: <sip:bob@127.0.0.1:9>;tag={from_tag}",
         "To: <sip:alice@127.0.0.1:5060>" + (f";tag={to_tag}" if to_tag else ""),
         f"Call-ID: {call_id}",
         f"CSeq: {cseq} {cseq_method or method}",
         "Contact: <sip:bob@127.0.0.1:9>"]
    if extra:
        h += extra.strip("\n").split("\n")
    if body:
        h.append(f"Content-Type: {ctype}")
    h.append(f"Content-Length: {len(body)}")
    return crlf("\n".join(h) + "\n\n") + body.encode()


def resp_to(ours, status, reason, to_tag="", extra="", body=""):
    """A response to a request we sent (its Via, From, To, Call-ID, CSeq)."""
    h = [f"SIP/2.0 {status} {reason}",
         "Via: " + field(ours, "Via"),
         "From: " + field(ours, "From"),
         "To: " + field(ours, "To") + (f";tag={to_tag}" if to_tag else ""),
         "Call-ID: " + field(ours, "Call-ID"),
         "CSeq: " + field(ours, "CSeq")]
    if extra:
        h += extra.strip("\n").split("\n")
    if body:
        h.append("Content-Type: application/sdp")
    h.append(f"Content-Length: {len(body)}")
    return crlf("\n".join(h) + "\n\n") + body.encode()


# ---------------------------------------------------------------- single requests
for d in ("tests/bench/corpus", "tests/cli"):
    for f in sorted(os.listdir(d)):
        if not f.endswith(".sip"):
            continue
        b = open(os.path.join(d, f), "rb").read()
        n = ("bench-" if "bench" in d else "cli-") + f[:-4]
        ua(n + "-core", 0x00, b)
        ua(n + "-proxy", 0x01, b)
        ua(n + "-taken", 0x04, b)
for f in sorted(os.listdir("tests/msgs/rfc4475")):
    if f.endswith(".dat"):
        ua("rfc4475-" + f[:-4], 0x00, open(os.path.join("tests/msgs/rfc4475", f), "rb").read())

# automatic answers
ua("auto-483-max-forwards", 0, req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
ua("auto-420-require", 0, req("INVITE", "sip:alice@127.0.0.1:5060", 1, extra="Require: foo, 100rel, bar"))
ua("auto-415-content-type", 0, req("MESSAGE", "sip:alice@127.0.0.1:5060", 1, body="hello", ctype="foo/bar"))
ua("auto-501-unknown", 0, req("FROB", "sip:alice@127.0.0.1:5060", 1))
ua("auto-405-publish", 0, req("PUBLISH", "sip:alice@127.0.0.1:5060", 1))
ua("auto-481-bye", 0, req("BYE", "sip:alice@127.0.0.1:5060", 2, to_tag="nosuch"))
ua("auto-481-cancel", 0, req("CANCEL", "sip:alice@127.0.0.1:5060", 1))
ua("auto-400-bad-via", 0, req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b";branch=z9hG4bKfz1", b";branch="))
ua("auto-400-malformed-cseq", 0, req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"))
ua("auto-400-malformed-line", 0, req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b"OPTIONS sip:", b"OPTIONS  sip:"))
ua("auto-400-folded", 0, req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b"\r\nCall-ID", b"\r\n X-Junk\r\nCall-ID"))
ua("keepalive-crlf", 0, b"\r\n\r\n", b"\r\n")
ua("auto-503-dialogs", 0x04, *[req("INVITE", "sip:alice@127.0.0.1:5060", 100, branch=f"z9hG4bKd{i}",
                                   call_id=f"c{i}", body=SDP) for i in range(5)])
ua("auto-503-transactions", 0x04, *[req("OPTIONS", "sip:alice@127.0.0.1:5060", 1, branch=f"z9hG4bKt{i}")
                                    for i in range(14)])
ua("rfc2543-no-branch", 0x04, req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b";branch=z9hG4bKfz1", b""),
   req("OPTIONS", "sip:alice@127.0.0.1:5060", 1).replace(b";branch=z9hG4bKfz1", b""))

# ---------------------------------------------------------------- UAS flows (ua[0], taken, status by CSeq)
inv = req("INVITE", "sip:alice@127.0.0.1:5060", 100, body=SDP)
s = sent(0x04, inv)
tt = tag_of(field(s[-1], "To")) if s else ""
ack = req("ACK", "sip:alice@127.0.0.1:5060", 100, branch="z9hG4bKfz2", to_tag=tt)
bye = req("BYE", "sip:alice@127.0.0.1:5060", 101, branch="z9hG4bKfz3", to_tag=tt)
ua("uas-invite-200-ack-bye", 0x04, inv, ack, bye)
ua("uas-invite-200-retransmit-noack", 0xc4, inv, inv)
ua("uas-invite-200-reinvite", 0x04, inv, ack,
   req("INVITE", "sip:alice@127.0.0.1:5060", 102, branch="z9hG4bKfz4", to_tag=tt, body=SDP))
ua("uas-invite-200-info-notify", 0x00, inv, ack,
   req("INFO", "sip:alice@127.0.0.1:5060", 101, branch="z9hG4bKfz5", to_tag=tt, body="Signal=1\r\nDuration=100\r\n",
       ctype="application/dtmf-relay"))
inv1 = req("INVITE", "sip:alice@127.0.0.1:5060", 1, body=SDP)
s = sent(0x02, inv1)
tt1 = tag_of(field(s[-1], "To")) if s else ""
ua("uas-invite-pending-cancel", 0x04, inv1, req("CANCEL", "sip:alice@127.0.0.1:5060", 1, cseq_method="CANCEL"),
   req("ACK", "sip:alice@127.0.0.1:5060", 1))
ua("uas-invite-100rel-prack", 0x02, inv1.replace(b"Contact:", b"Supported: 100rel\r\nContact:"),
   req("PRACK", "sip:alice@127.0.0.1:5060", 2, branch="z9hG4bKfz6", to_tag=tt1, extra="RAck: 1 1 INVITE"))
ua("uas-invite-100rel-noprack", 0xc2, inv1.replace(b"Contact:", b"Require: 100rel\r\nContact:"))
ua("uas-invite-486", 0x04, req("INVITE", "sip:alice@127.0.0.1:5060", 386, body=SDP),
   req("ACK", "sip:alice@127.0.0.1:5060", 386))
sub = req("SUBSCRIBE", "sip:alice@127.0.0.1:5060", 100, extra="Event: presence")
s = sent(0x04, sub)
ts = tag_of(field(s[-1], "To")) if s else ""
ua("uas-subscribe-notify", 0x04, sub,
   req("NOTIFY", "sip:alice@127.0.0.1:5060", 101, branch="z9hG4bKfz7", to_tag=ts,
       extra="Event: presence\nSubscription-State: terminated;reason=timeout"))

# ---------------------------------------------------------------- UAC flows (our INVITE / SUBSCRIBE / REGISTER)
ours = sent(0x18, b"")
by = {field(m, "CSeq").split(" ")[-1]: m for m in ours}
if "INVITE" in by:
    i = by["INVITE"]
    c = "Contact: <sip:bob@127.0.0.1:9>"
    r100 = resp_to(i, 100, "Trying")
    r180 = resp_to(i, 180, "Ringing", "bt1", c + "\nRequire: 100rel\nRSeq: 7")
    r200 = resp_to(i, 200, "OK", "bt1", c + "\nRecord-Route: <sip:127.0.0.1:9;lr>", SDP)
    ua("uac-invite-100-180rel-200", 0x08, r100, r180, r200, r200)
    ua("uac-invite-200-bye-in", 0x08, r200,
       req("BYE", "sip:alice@127.0.0.1:5060", 5, to_tag=tag_of(field(i, "From")), from_tag="bt1",
           call_id=field(i, "Call-ID")).replace(b"To: <sip:alice@127.0.0.1:5060>", b"To: <sip:alice@127.0.0.1>"))
    ua("uac-invite-cancel-on-180", 0x28, r180, resp_to(i, 487, "Request Terminated", "bt1"))
    ua("uac-invite-200-info", 0x28, r200)
    ua("uac-invite-forked-200s", 0x08, r200, resp_to(i, 200, "OK", "bt2", c, SDP))
    ua("uac-invite-486", 0x08, resp_to(i, 486, "Busy Here", "bt1"))
    ua("uac-invite-timeout", 0x48, b"")
    ua("uac-invite-407", 0x08, resp_to(i, 407, "Proxy Authentication Required", "bt1",
                                       'Proxy-Authenticate: Digest realm="r", nonce="n1", qop="auth"'))
if "REGISTER" in by:
    r = by["REGISTER"]
    ua("uac-register-401-200", 0x10, resp_to(r, 401, "Unauthorized", "rt1",
       'WWW-Authenticate: Digest realm="atlanta.com", nonce="84a4cc6f3082121f32b42a2187831a9e", qop="auth,auth-int", algorithm=SHA-256'))
if "SUBSCRIBE" in by:
    q = by["SUBSCRIBE"]
    ua("uac-subscribe-notify-first", 0x10,
       req("NOTIFY", "sip:alice@127.0.0.1:5060", 1, to_tag=tag_of(field(q, "From")), from_tag="ct1",
           call_id=field(q, "Call-ID"), extra="Event: presence\nSubscription-State: active")
       .replace(b"To: <sip:alice@127.0.0.1:5060>", b"To: <sip:alice@127.0.0.1>"),
       resp_to(q, 200, "OK", "ct1", "Contact: <sip:carol@127.0.0.1:9>\nExpires: 600"))

# ---------------------------------------------------------------- proxy (ua[1], port 5070)
route = "Route: <sip:127.0.0.1:5070;lr>"
pinv = req("INVITE", "sip:bob@127.0.0.1:9", 1, extra=route, body=SDP)
ps = sent(0x07, pinv)
fwd = [m for m in ps if m.startswith("INVITE")]
if fwd:
    f = fwd[0]
    via2 = re.findall(r"^Via: (.*?)\r?$", f, re.M)
    def presp(status, reason, tag="", extra="", body=""):
        h = [f"SIP/2.0 {status} {reason}"] + ["Via: " + v for v in via2] + [
            "From: " + field(f, "From"), "To: " + field(f, "To") + (f";tag={tag}" if tag else ""),
            "Call-ID: " + field(f, "Call-ID"), "CSeq: " + field(f, "CSeq")]
        if extra:
            h += extra.split("\n")
        if body:
            h.append("Content-Type: application/sdp")
        h.append(f"Content-Length: {len(body)}")
        return crlf("\n".join(h) + "\n\n") + body.encode()
    ua("proxy-forward-180-200", 0x07, pinv, presp(100, "Trying"), presp(180, "Ringing", "dt1"),
       presp(200, "OK", "dt1", "Contact: <sip:carol@127.0.0.1:9>\nRecord-Route: <sip:127.0.0.1:5070;lr>", SDP))
    ua("proxy-forward-cancel-487", 0x07, pinv, presp(180, "Ringing", "dt1"),
       req("CANCEL", "sip:bob@127.0.0.1:9", 1, extra=route, cseq_method="CANCEL"), presp(487, "Request Terminated", "dt1"))
    ua("proxy-forward-timeout", 0x47, pinv)
    ua("proxy-stray-200", 0x01, presp(200, "OK", "dt1", "Contact: <sip:carol@127.0.0.1:9>", SDP))
ua("proxy-core-forward-bye", 0x01, req("BYE", "sip:bob@127.0.0.1:9", 2, to_tag="x1", extra=route))
ua("proxy-core-ack", 0x01, req("ACK", "sip:bob@127.0.0.1:9", 1, to_tag="x1", extra=route))
ua("proxy-strict-route", 0x01, req("BYE", "sip:127.0.0.1:5070", 2, to_tag="x1",
                                   extra="Route: <sip:10.0.0.1:5060>\nRoute: <sip:bob@127.0.0.1:9>"))
ua("proxy-forward-names", 0x07, req("MESSAGE", "sip:bob@example.invalid", 2, extra="Route: <sip:127.0.0.1:5070;lr>\nRoute: <sip:proxy2.example;lr>",
                                    body="hi", ctype="text/plain"))

# ---------------------------------------------------------------- pcap
for f in sorted(os.listdir("tests/capture")):
    if f.endswith(".pcap"):
        shutil.copyfile(os.path.join("tests/capture", f), os.path.join(PC, f))

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def udp(sp, dp, payload):
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload

def ip4(payload, src=b"\x7f\0\0\1", dst=b"\x7f\0\0\2", proto=17, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def ip6(payload, nh=17, ext=b""):
    src = b"\0" * 15 + b"\1"
    return struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(payload), nh, 64, src, src) + ext + payload

def pcap(name, linktype, frames, magic=0xa1b2c3d4, endian="<", snap=65535):
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snap, linktype)
    for i, fr in enumerate(frames):
        cap = fr if isinstance(fr, bytes) else fr[0]
        orig = len(cap) if isinstance(fr, bytes) else fr[1]
        out += struct.pack(endian + "IIII", 1700000000 + i, 1000 * i, len(cap), orig) + cap
    with open(os.path.join(PC, name + ".pcap"), "wb") as f:
        f.write(out)

opt = open("tests/bench/corpus/09_options.sip", "rb").read()
ok200 = crlf("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\n"
             "To: <sip:b@c>;tag=2\nCall-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
u1, u2 = udp(5060, 5070, opt), udp(5070, 5060, ok200)
LMAC, RMAC = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"
eth = lambda d, s, t, p: d + s + struct.pack("!H", t) + p
pcap("en10mb-sipkit-macs", 1, [eth(RMAC, LMAC, 0x800, ip4(u1)), eth(LMAC, RMAC, 0x800, ip4(u2))])
pcap("en10mb-vlan-qinq", 1, [eth(b"\1" * 6, b"\2" * 6, 0x88a8, b"\0\1\x81\0" + b"\0\2\x08\0" + ip4(u1)),
                             eth(b"\1" * 6, b"\2" * 6, 0x8100, b"\0\1\x86\xdd" + ip6(u2))])
pcap("en10mb-arp-icmp-frag", 1, [eth(b"\xff" * 6, b"\2" * 6, 0x806, b"\0" * 28),
                                 eth(b"\1" * 6, b"\2" * 6, 0x800, ip4(b"\x08\0\0\0\0\0\0\0", proto=1)),
                                 eth(b"\1" * 6, b"\2" * 6, 0x800, ip4(u1, frag=0x2000)),
                                 eth(b"\1" * 6, b"\2" * 6, 0x800, ip4(u1))])
pcap("en10mb-truncated-snaplen", 1, [(eth(b"\1" * 6, b"\2" * 6, 0x800, ip4(u1))[:80], 14 + 20 + len(u1)),
                                     eth(b"\1" * 6, b"\2" * 6, 0x800, ip4(u2))], snap=80)
pcap("sll-v4-v6", 113, [struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, 0x800) + ip4(u1),
                        struct.pack("!HHH8sH", 4, 772, 6, b"\0" * 8, 0x86dd) + ip6(u2)])
pcap("sll2", 276, [struct.pack("!HHIHBB8s", 0x800, 0, 1, 772, 0, 6, b"\0" * 8) + ip4(u1)])
pcap("null-host-order", 0, [struct.pack("<I", 2) + ip4(u1), struct.pack("<I", 30) + ip6(u2)])
pcap("null-other-order", 0, [struct.pack(">I", 2) + ip4(u1), struct.pack(">I", 24) + ip6(u2)])
pcap("loop", 108, [struct.pack(">I", 2) + ip4(u1), struct.pack(">I", 28) + ip6(u2)])
EXT = bytes([43, 0]) + b"\0" * 6 + bytes([60, 0]) + b"\0" * 6 + bytes([17, 0]) + b"\0" * 6
pcap("raw-ip6-ext-headers", 101, [ip6(u1, nh=0, ext=EXT), ip6(u2, nh=44), ip4(u2)])
pcap("ipv4-ipv6-dlt", 228, [ip4(u1)])
pcap("ipv6-dlt", 229, [ip6(u2)])
pcap("nanosecond-big-endian", 1, [eth(b"\1" * 6, b"\2" * 6, 0x800, ip4(u1))], magic=0xa1b23c4d, endian=">")
pcap("unsupported-linktype", 105, [b"\0" * 40])
pcap("udp-len-lies", 101, [ip4(udp(1, 2, b"x"))[:28] + b"xyz", ip4(struct.pack("!HHHH", 1, 2, 4, 0))])
print(f"seeds: {len(os.listdir(UA))} ua, {len(os.listdir(PC))} pcap")
