#!/usr/bin/env bash
# fuzz/mkseeds.sh - (re)build fuzz/corpus/ from the test fixtures, byte-exact.
# Run from the repository root.  Needs only bash, coreutils, sed and awk.
#   fuzz/corpus/fuzz_parse/   every message as is
#   fuzz/corpus/fuzz_stream/  the same, behind fuzz_stream's control byte:
#                             0x08 = feed byte by byte, strict; 0x18 = byte by
#                             byte, lenient-LF (bare-LF corpora); plus a few
#                             pipelined and split-point seeds
#   fuzz/corpus/fuzz_uri/     the Request-URIs of those messages, JAIN-SIP's
#                             URL cases and hand-written sip/sips/tel forms
#   fuzz/corpus/fuzz_sdp/     the application/sdp bodies of those messages
#   fuzz/corpus/fuzz_auth/    selector byte + auth header values (bench
#                             corpus, hand-written RFC 7616 challenges)
#   fuzz/corpus/fuzz_roundtrip/ a subset of the fuzz_parse seeds
# Existing files are replaced; files added by -merge runs are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
P=fuzz/corpus/fuzz_parse S=fuzz/corpus/fuzz_stream U=fuzz/corpus/fuzz_uri
mkdir -p "$P" "$S" "$U"

# add NAME FILE CTL: one message seed for parse and stream
add() {
  cp "$2" "$P/$1"
  { printf "\\x$3"; cat "$2"; } > "$S/$1"
  # Request-URI: second token of a request line ("SIP/2.0 ..." is a response)
  local ruri
  ruri=$(head -n1 "$2" | tr -d '\r' | awk '$1 !~ /^SIP\// && NF >= 3 { print $2 }')
  if [ -n "$ruri" ] && [ ${#ruri} -le 2048 ]; then
    printf '%s' "$ruri" > "$U/ruri-${1%.sip}.uri"
  fi
}

for f in tests/msgs/rfc4475/*.dat; do b=$(basename "$f" .dat); add "rfc4475-$b.sip" "$f" 08; done
for f in tests/msgs/rfc5118/*; do
  b=$(basename "$f"); case "$b" in *.*|SHA256SUMS) continue;; esac
  add "rfc5118-$b.sip" "$f" 18
done
for f in tests/msgs/rfc5118-crlf/*; do
  b=$(basename "$f"); case "$b" in *.*|SHA256SUMS) continue;; esac
  add "rfc5118crlf-$b.sip" "$f" 08
done
for f in tests/msgs/jain-sip/extracted/*.msg; do b=$(basename "$f" .msg); add "jain-$b.sip" "$f" 18; done
for f in tests/msgs/jain-sip/extracted/*.url; do b=$(basename "$f" .url); cp "$f" "$U/jain-$b.uri"; done
for f in tests/msgs/jain-sip/extracted/*.hdr; do b=$(basename "$f" .hdr); cp "$f" "$P/jain-hdr-$b.txt"; done
for f in tests/bench/corpus/*.sip; do b=$(basename "$f"); add "bench-$b" "$f" 08; done
for f in tests/cli/*.sip; do b=$(basename "$f"); add "cli-$b" "$f" 08; done

# stream-only shapes: three pipelined messages fed whole (ctl 0x00), the same
# split at offsets 1, 300 and 700 (ctl 0x03 + three little-endian u16), and
# keep-alive CRLFs before a message
B=tests/bench/corpus
{ printf '\x00'; cat $B/05_ack.sip $B/06_bye.sip $B/09_options.sip; } > "$S/pipelined-ack-bye-options.sip"
{ printf '\x03\x01\x00\x2c\x01\xbc\x02'; cat $B/01_invite_sdp.sip $B/05_ack.sip; } > "$S/split-invite-sdp-ack.sip"
{ printf '\x08\r\n\r\n'; cat $B/09_options.sip; } > "$S/keepalive-crlf-options.sip"
{ printf '\x08'; cat $B/05_ack.sip; head -c 40 $B/06_bye.sip; } > "$S/ack-then-half-bye.sip"

# URIs by hand, one per file
u() { printf '%s' "$2" > "$U/$1.uri"; }
u sip-simple 'sip:alice@atlanta.example.com'
u sip-full 'sip:alice:secretword@atlanta.com;transport=tcp;user=phone;method=INVITE;maddr=239.255.255.1;ttl=15;lr?subject=project%20x&priority=urgent'
u sip-port 'sip:+1-212-555-1212:1234@gateway.com;user=phone'
u sip-ipv4-port 'sip:alice@192.0.2.4:5060'
u sip-ipv6 'sip:[2001:db8::10]:5070;transport=udp'
u sip-ipv6-mapped 'sip:user@[::ffff:192.0.2.1]'
u sip-esc 'sip:sips%3Auser%40example.com@example.net'
u sip-escnull 'sip:null-%00-null@example.com'
u sip-semiuser 'sip:user;par=u%40example.net@example.com'
u sip-nouser 'sip:example.com'
u sip-hostonly-lr 'sip:p1.example.com;lr'
u sips-simple 'sips:bob@biloxi.example.com'
u sips-headers 'sips:1cups@example.com?Call-ID=abc&From=sip:x%40y'
u tel-global 'tel:+1-201-555-0123'
u tel-local 'tel:7042;phone-context=example.com'
u tel-params 'tel:+358-555-1234567;postd=pp22;isub=1411'
u other-scheme 'nobodyknowsthisscheme:totallyopaquecontent'
u other-http 'http://a/b/c'
u other-urn 'urn:x:/y'
u bad-port-65536 'sip:a@b:65536'
u bad-ipv6-3colons 'sip:[2001:db8:::10]'
u bad-ipv6-unclosed 'sip:[::1'
u bad-pct-end 'sip:a%@b'
u bad-pct-short 'sip:a%4'
echo "seeds: $(ls "$P" | wc -l) parse, $(ls "$S" | wc -l) stream, $(ls "$U" | wc -l) uri; $(du -sb fuzz/corpus | cut -f1) bytes"

# ---------------------------------------------------------------- fuzz_sdp,
# fuzz_auth, fuzz_roundtrip
D=fuzz/corpus/fuzz_sdp A=fuzz/corpus/fuzz_auth R=fuzz/corpus/fuzz_roundtrip
mkdir -p "$D" "$A" "$R"

# fuzz_sdp: the body (everything after the first empty line, byte-exact) of
# each message that says application/sdp and whose body starts with "v=".
# Identical bodies are kept once.
sdp_body() { # NAME FILE
  grep -qai 'application/sdp' "$2" || return 0
  local off
  off=$(LC_ALL=C awk '{ n += length($0) + 1; if ($0 == "" || $0 == "\r") { print n; found = 1; exit } }
                      END { if (!found) print -1 }' "$2")
  [ "$off" -ge 0 ] || return 0
  [ "$(tail -c +$((off + 1)) "$2" | head -c 2)" = "v=" ] || return 0
  local sum
  sum=$(tail -c +$((off + 1)) "$2" | cksum | cut -d' ' -f1)
  case " $sdp_seen " in *" $sum "*) return 0;; esac
  sdp_seen="$sdp_seen $sum"
  tail -c +$((off + 1)) "$2" > "$D/$1.sdp"
}
sdp_seen=
for f in tests/bench/corpus/*.sip; do sdp_body "bench-$(basename "$f" .sip)" "$f"; done
for f in tests/msgs/rfc4475/*.dat; do sdp_body "rfc4475-$(basename "$f" .dat)" "$f"; done
for f in tests/msgs/rfc5118/* tests/msgs/rfc5118-crlf/*; do
  b=$(basename "$f"); case "$b" in *.*|SHA256SUMS) continue;; esac
  sdp_body "$(basename "$(dirname "$f")" | tr -d -)-$b" "$f"
done
for f in tests/msgs/jain-sip/extracted/*.msg; do sdp_body "jain-$(basename "$f" .msg)" "$f"; done

# fuzz_auth: selector byte (bits 0-1: 0 WWW-Authenticate, 1 Proxy-Authenticate,
# 2 Authorization, 3 Proxy-Authorization; bit 2: prefer auth-int), then the
# value: the bench corpus's auth header values (line end removed) and
# RFC 7616-style challenges by hand.
av() { { printf "\\x$2"; printf '%s' "$3"; } > "$A/$1.txt"; }
for f in tests/bench/corpus/*.sip; do
  b=$(basename "$f" .sip)
  { LC_ALL=C grep -ai '^\(WWW-Authenticate\|Proxy-Authenticate\|Authorization\|Proxy-Authorization\):' "$f" |
    tr -d '\r' || true; } | while IFS= read -r line; do
      name=${line%%:*} value=${line#*:}; value=${value# }
      case "${name,,}" in
        www-authenticate) av "bench-$b-www" 00 "$value"; av "bench-$b-proxy" 01 "$value";;
        proxy-authenticate) av "bench-$b-proxy" 01 "$value";;
        authorization) av "bench-$b-authz" 02 "$value"; av "bench-$b-proxyauthz" 03 "$value";;
        proxy-authorization) av "bench-$b-proxyauthz" 03 "$value";;
      esac
    done
done
av rfc7616-sha256 00 'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
av rfc7616-md5 00 'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
av rfc7616-sha512-sess-authint 04 'Digest realm="api@example.org", qop="auth-int", algorithm=SHA-512-256-sess, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
av rfc7616-sha256-sess-stale 01 'Digest realm="atlanta.example.com", nonce="f84f1cec41e6cbe5aea9c8e88d359", algorithm=SHA-256-sess, stale=TRUE, domain="sip:ss1.carrier.com sip:ss2.carrier.com"'
av rfc2069-noqop 00 'Digest realm="atlanta.com", nonce="84a4cc6f3082121f32b42a2187831a9e"'
av escaped-realm 00 'Digest realm="a \"quoted\\ realm", nonce="n\\o\"nce", opaque=""'
av unknown-qop 00 'Digest realm="r", nonce="n", qop="auth-conf,token"'
av rfc7616-sha256-authz 02 'Digest username="Mufasa", realm="http-auth@example.org", uri="sip:a@b", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'

# fuzz_roundtrip: a subset of the fuzz_parse seeds (strict mode parses the
# CRLF corpora; every 20th JAIN-SIP message for header variety)
for f in "$P"/bench-* "$P"/cli-* "$P"/rfc4475-* "$P"/rfc5118crlf-*; do cp "$f" "$R/"; done
i=0; for f in "$P"/jain-[0-9]*.sip; do
  [ $((i++ % 20)) = 0 ] && cp "$f" "$R/"
done
echo "seeds: $(ls "$D" | wc -l) sdp, $(ls "$A" | wc -l) auth, $(ls "$R" | wc -l) roundtrip; $(du -sb fuzz/corpus | cut -f1) bytes"

# ---------------------------------------------------------------- fuzz_multipart,
# fuzz_dtmf (this section also runs alone: sed -n '/^# @mp-dtmf/,$p')
# @mp-dtmf
MP=fuzz/corpus/fuzz_multipart DT=fuzz/corpus/fuzz_dtmf
mkdir -p "$MP" "$DT"
# body after the first empty line (CRLF or LF), byte-exact
body_of() {
  local off
  off=$(LC_ALL=C awk '{ n += length($0) + 1; if ($0 == "" || $0 == "\r") { print n; found = 1; exit } }
                      END { if (!found) print -1 }' "$1")
  [ "$off" -ge 0 ] && tail -c +$((off + 1)) "$1"
}
# fuzz_multipart: the Content-Type params on the first line, then the body
mp() { { printf -- '%s\r\n' "$2"; printf -- "$3"; } > "$MP/$1.txt"; }
{ printf 'boundary=7a9cbec02ceef655\r\n'; body_of tests/msgs/rfc4475/mpart01.dat; } > "$MP/rfc4475-mpart01.txt"
SDPB='v=0\r\no=alice 2890844526 2890842807 IN IP4 atlanta.example.com\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n'
XMLB='<?xml version="1.0" encoding="UTF-8"?>\r\n<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists">\r\n  <list>\r\n    <entry uri="sip:bill@example.com"/>\r\n  </list>\r\n</resource-lists>'
mp rfc5621-sdp-list 'boundary="boundary1"' "--boundary1\r\nContent-Type: application/sdp\r\n\r\n$SDPB\r\n--boundary1\r\nContent-Type: application/resource-lists+xml\r\nContent-Disposition: recipient-list\r\nContent-ID: <list@atlanta.example.com>\r\n\r\n$XMLB\r\n--boundary1--\r\n"
mp nested-3-levels 'boundary=outer' 'This is the preamble.\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst\r\n--outer\r\ncontent-type: multipart/alternative;\r\n\tboundary="inner b"\r\n\r\n--inner b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner b\r\nContent-Type: multipart/mixed; boundary=third\r\n\r\n--third\r\n\r\ndeep\r\n--third--\r\n--inner b--\r\n--outer--\r\nepilogue\r\n'
mp lf-only 'boundary=b' '--b\n\nbody\n--b--\n'
mp padding-empty-body ' ; Boundary = b ; x=y' '--b \t\r\n\r\n\r\n--b\r\n\r\n--bX\r\n--b-\r\n\r\n--b--  \r\n'
mp fields-no-empty-line 'boundary=b' '--b\r\nContent-Type: a/b\r\n\r\n--b--'
mp quoted-boundary-fold 'boundary="=_Part:1 (x)"' '--=_Part:1 (x)\r\nContent-Type : text/plain\r\nX-A: 1\r\n 2\r\n\r\nhi\r\n--=_Part:1 (x)--'
mp no-boundary 'charset=x' '--b\r\n\r\nx\r\n--b--'
mp unterminated-quote 'boundary="abc' '--b\r\n\r\nx\r\n--b--'
mp boundary-longer-than-body 'boundary=abcdefgh' '--abc'
mp no-close 'boundary=b' '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
mp empty-part-list 'boundary=b' '--b--\r\n'
mp zero-length-part 'boundary=b' '--b\r\n--b--'
mp content-id-open 'boundary=b' '--b\r\nContent-ID: <\r\n\r\nx\r\n--b--'
mp field-name-ctl 'boundary=b' '--b\r\nContent\001Type: a/b\r\n\r\nx\r\n--b--'
mp seventeen-parts 'boundary=b' "$(for i in $(seq 0 16); do printf -- '--b\\r\\n\\r\\n%s\\r\\n' "$i"; done)--b--\r\n"
# fuzz_dtmf: dtmf-relay and dtmf bodies
body_of tests/bench/corpus/10_info_dtmf.sip > "$DT/bench-10_info_dtmf.txt"
dt() { printf -- "$2" > "$DT/$1.txt"; }
dt relay-crlf 'Signal=5\r\nDuration=160\r\n'
dt relay-lf 'Signal=5\nDuration=160\n'
dt relay-unterminated 'Signal=5\r\nDuration=160'
dt relay-spaces-case 'signal = #\nDURATION= 250 \n'
dt relay-no-duration '\tSIGNAL\t=\t*\t\r\n'
dt relay-lower-d 'Signal=d\r\nDuration=1\r\n'
dt relay-max 'Signal=A\r\nDuration=60000\r\n'
dt relay-order-zeros 'Duration=00160\r\nSignal=0\r\n'
dt relay-extra-keys '\r\nSignal=9\r\n\r\nVolume=10\r\nDuration=40\r\n\r\n'
dt relay-bad-event 'Signal=10\r\n'
dt relay-dup 'Signal=5\r\nSignal=6\r\n'
dt relay-duration-big 'Signal=5\r\nDuration=99999999999999999999\r\n'
dt relay-bare-cr 'Signal=5\rDuration=1'
dt dtmf-one '5'
dt dtmf-crlf ' # \r\n'
dt dtmf-two '12'
echo "seeds: $(ls "$MP" | wc -l) multipart, $(ls "$DT" | wc -l) dtmf"

# fuzz_ua and fuzz_pcap seeds are made by fuzz/mkseeds_rt.py (Python 3; it
# runs build/fuzz/asan/fuzz_ua to learn the harness's deterministic tags).
