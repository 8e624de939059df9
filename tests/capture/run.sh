#!/usr/bin/env bash
# tests/capture/run.sh - pcap files, text traces and ladder diagrams (issue 7).
#
#   tests/capture/run.sh [path/to/sipkit] [path/to/capgen]
#
# 1. capgen (capgen.c) writes four known calls (IPv4 and IPv6, ports
#    15060-15076, never 5060) through sipkit's pcap and trace writers.
#    tshark must decode every frame as SIP with the options a user types
#    (none: Wireshark's heuristic SIP-over-UDP dissector is on by default;
#    `tshark -d udp.port==15070,sip` forces it), with good IPv4 and UDP
#    checksums and no malformed or warning/error expert flag.
# 2. `sipkit ladder` prints the exact expected text for capgen's file and
#    for sipp-sll.pcap: two SIPp calls (sipp -sn uac against sipp -sn uas,
#    IPv4 and IPv6 on loopback) plus one non-SIP datagram, captured with
#    `dumpcap -i any -y LINUX_SLL -P`; see README.md here.
# 3. The --html page is loaded in headless Chromium; the DOM after load
#    must hold the SVG arrows and labels, every message's text, the
#    message named in the URL fragment opened (the page's script ran under
#    its Content-Security-Policy), and the hostile Subject header only as
#    text.
# Every external program runs under `timeout`; Chromium is started in its
# own process group and that group is killed by its id afterwards.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/sipkit}
capgen=${2:-$root/build/tests/capgen}
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
case $capgen in /*) ;; *) capgen="$PWD/$capgen" ;; esac
for b in "$bin" "$capgen"; do
  [ -x "$b" ] || { echo "capture-tests: $b is not an executable (run make first)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-capture.XXXXXX") || exit 2
chrome_pid=
cleanup() {
  [ -n "$chrome_pid" ] && kill -- -"$chrome_pid" 2> /dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export LC_ALL=C

fails=0
total=0
pass() { total=$((total + 1)); printf 'ok   %s\n' "$1"; }
fail() { total=$((total + 1)); fails=$((fails + 1)); printf 'FAIL %s\n' "$1"; }
# check NAME: pass when the previous command succeeded
check() { if [ $? -eq 0 ]; then pass "$1"; else fail "$1"; fi; }

# -- capgen: pcap + trace ------------------------------------------------------------
timeout 20 "$capgen" "$tmp/g.pcap" "$tmp/g.txt"
check "capgen writes a pcap and a trace"

n=$(grep -c '^UDP message ' "$tmp/g.txt")
[ "$n" -eq 24 ]; check "trace: 24 blocks (got $n)"
head -3 "$tmp/g.txt" | diff -u - <(printf '%s\n' \
  '----------------------------------------------- 2024-05-01 10:00:00.000000 UTC' \
  'UDP message sent (435 bytes) 127.0.0.1:15060 -> 127.0.0.1:15070' '')
check "trace: first block header"
! grep -q $'\r' "$tmp/g.txt"; check "trace: no CR bytes (CRLF written as LF)"

# -- tshark ---------------------------------------------------------------------------
if command -v tshark > /dev/null; then
  ts() { timeout 60 tshark -n -r "$tmp/g.pcap" "$@" 2> "$tmp/ts.err"; }
  want='1 INVITE
2 100
3 180
4 200
5 ACK
6 BYE
7 200
8 INVITE
9 100
10 180
11 200
12 ACK
13 BYE
14 200
15 INVITE
16 100
17 486
18 ACK
19 INVITE
20 180
21 CANCEL
22 200
23 487
24 ACK'
  got=$(ts -T fields -e frame.number -e sip.Method -e sip.Status-Code | tr -s '\t' ' ' | sed 's/ $//')
  if [ "$got" = "$want" ]; then pass "tshark: all 24 frames decode as SIP (plain tshark -r)"; else
    fail "tshark: all 24 frames decode as SIP (plain tshark -r)"
    diff -u <(echo "$want") <(echo "$got") | sed 's/^/     /'; cat "$tmp/ts.err"
  fi
  got=$(ts -d udp.port==15070,sip -Y sip -T fields -e frame.number | wc -l)
  [ "$got" -eq 24 ]; check "tshark -d udp.port==15070,sip: 24 SIP frames (got $got)"
  got=$(ts -T fields -e ip.src -e ipv6.src -e udp.srcport -e udp.dstport -e udp.length -e frame.len |
    sed -n '1p;8p' | tr '\t' ' ')
  [ "$got" = "127.0.0.1  15060 15070 443 477
 ::1 15062 15072 423 477" ]
  check "tshark: addresses, ports and lengths of frames 1 (IPv4) and 8 (IPv6)"
  [ "$got" = "127.0.0.1  15060 15070 443 477
 ::1 15062 15072 423 477" ] || printf '     got: %s\n' "$got"
  got=$(ts -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields \
    -e ip.checksum.status -e udp.checksum.status | sort | uniq -c | sed 's/^ *//' | tr '\t' ' ')
  [ "$got" = "7  1
17 1 1" ]; check "tshark: IPv4 header and UDP checksums verified good"
  [ "$got" = "7  1
17 1 1" ] || printf '     got: %s\n' "$got"
  got=$(ts -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -Y '_ws.malformed || _ws.expert.severity >= "Warning"' -T fields -e frame.number | wc -l)
  [ "$got" -eq 0 ]; check "tshark: no malformed frame and no warning/error expert info ($got)"
else
  fail "tshark is not installed (make deps)"
fi

# -- sipkit ladder: exact text ---------------------------------------------------------
ladder_exact() { # NAME DIR FILE EXPECTED
  local name=$1 dir=$2 file=$3 expected=$4 rc
  (cd "$dir" && timeout 20 "$bin" ladder "$file") > "$tmp/out" 2> "$tmp/err"
  rc=$?
  if [ $rc -eq 0 ] && cmp -s "$expected" "$tmp/out"; then pass "$name"; else
    fail "$name (exit $rc)"
    diff -u "$expected" "$tmp/out" | head -40 | sed 's/^/     /'
    sed 's/^/     stderr: /' "$tmp/err"
  fi
}
ladder_exact "ladder: capgen's calls (IPv4, IPv6, 486, CANCEL), exact text" "$tmp" g.pcap \
  "$here/capgen.ladder"
ladder_exact "ladder: SIPp calls captured by dumpcap (Linux cooked), exact text" "$here" \
  sipp-sll.pcap "$here/sipp-sll.ladder"
timeout 20 "$bin" ladder "$here/sipp-sll.pcap" | grep -q $'\033'
[ $? -ne 0 ]; check "ladder: no ANSI colour when standard output is not a terminal"

# -- sipkit ladder: errors ---------------------------------------------------------------
expect_rc() { # NAME RC STDERR-SUBSTRING CMD...
  local name=$1 want=$2 msg=$3 rc
  shift 3
  timeout 20 "$@" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  if [ $rc -eq "$want" ] && grep -qF -- "$msg" "$tmp/err"; then pass "$name"; else
    fail "$name (exit $rc)"; sed 's/^/     stderr: /' "$tmp/err"
  fi
}
expect_rc "ladder: missing file, exit 2" 2 "sipkit: $tmp/none.pcap: No such file or directory" \
  "$bin" ladder "$tmp/none.pcap"
expect_rc "ladder: not a capture, exit 2" 2 "sipkit: $here/capgen.c: unknown file format" \
  "$bin" ladder "$here/capgen.c"
expect_rc "ladder: no file, exit 2" 2 "no capture file" "$bin" ladder
expect_rc "ladder: unknown option, exit 2" 2 "unknown option '--bogus'" "$bin" ladder --bogus g.pcap
expect_rc "ladder: --html unwritable, exit 2" 2 "sipkit: $tmp/no/dir.html: No such file or directory" \
  "$bin" ladder --html "$tmp/no/dir.html" "$tmp/g.pcap"
timeout 20 "$bin" ladder --help > "$tmp/out" 2>&1 && grep -q -- "--html FILE" "$tmp/out" &&
  grep -q -- "--no-color" "$tmp/out"
check "ladder --help documents --html and --no-color"
timeout 20 "$bin" --help | grep -Eq "ladder +\[--html FILE\] \[--no-color\] FILE.pcap"
check "sipkit --help lists ladder"

# -- HTML in headless Chromium ------------------------------------------------------------
(cd "$tmp" && timeout 20 "$bin" ladder --no-color --html g.html g.pcap > /dev/null)
check "ladder --html writes the page"
! grep -Eq '(src|href)="(https?:)?//' "$tmp/g.html"; check "html: no network references"
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chrome" ]; then
  mkdir "$tmp/profile"
  setsid timeout 90 "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile" \
    --virtual-time-budget=3000 --dump-dom "file://$tmp/g.html#m3-1" > "$tmp/dom.html" 2> "$tmp/chrome.err" &
  chrome_pid=$!
  wait "$chrome_pid"
  rc=$?
  kill -- -"$chrome_pid" 2> /dev/null # leftover helpers of that process group
  chrome_pid=
  [ $rc -eq 0 ] && [ -s "$tmp/dom.html" ]; check "chromium --headless --dump-dom loads the page (exit $rc)"
  python3 - "$tmp/dom.html" > "$tmp/py.out" 2>&1 <<'EOF'
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tags = [], []
        self.svg_text, self.pre, self.title = [], [], ""
        self.open_details = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self.stack.append((tag, a))
        if tag == "details" and "open" in a:
            self.open_details.append(a.get("id"))
        if tag == "pre":
            self.pre.append("")
    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
    def handle_data(self, data):
        names = [t for t, _ in self.stack]
        if "svg" in names and names[-1] == "text":
            self.svg_text.append(data)
        if "pre" in names:
            self.pre[-1] += data
        if names and names[-1] == "title":
            self.title += data

p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
errors = []
def need(cond, what):
    if not cond:
        errors.append(what)
tags = [t for t, _ in p.tags]
msgs = [a for t, a in p.tags if t == "g" and "msg" in a.get("class", "")]
need(tags.count("svg") == 4, "4 svg ladders, got %d" % tags.count("svg"))
need(len(msgs) == 24, "24 message arrows, got %d" % len(msgs))
arrow_lines = [a for t, a in p.tags if t == "line" and a.get("class") != "lane"]
need(len(arrow_lines) == 24, "24 arrow lines, got %d" % len(arrow_lines))
need(tags.count("path") >= 24, "arrow heads")
links = [a.get("href") for t, a in p.tags if t == "a" and a.get("href", "").startswith("#m")]
need(len(links) == 24 and links[0] == "#m1-1" and links[-1] == "#m4-6", "arrows link to #mC-K")
for label in ["INVITE", "100 Trying", "180 Ringing", "200 OK", "ACK", "BYE", "486 Busy Here",
              "CANCEL", "487 Request Terminated", "127.0.0.1:15060", "[::1]:15072"]:
    need(label in p.svg_text, "svg label %r" % label)
need(len(p.pre) == 24, "24 message texts, got %d" % len(p.pre))
need(p.pre and p.pre[0].startswith("INVITE sip:bob@127.0.0.1:15070 SIP/2.0\nVia: "), "message 1 text")
need(p.open_details == ["m3-1"], "the message named by #m3-1 is open: %r" % p.open_details)
need(any("Subject: <script>document.title='pwned'</script></pre><img src=x onerror=alert(1)>" in t
         for t in p.pre), "hostile Subject shown as text")
need(tags.count("script") == 1 and tags.count("img") == 0, "no injected elements")
need(p.title == "g.pcap", "title untouched: %r" % p.title)
rows = [a for t, a in p.tags if t == "tr"]
need(len(rows) == 5, "summary table: header + 4 rows")
if errors:
    print("\n".join(errors))
    sys.exit(1)
EOF
  check "html in Chromium: 4 SVG ladders, 24 arrows with labels, texts, #m3-1 opened, no injection"
  sed 's/^/     /' "$tmp/py.out"
else
  fail "chromium is not installed (make deps)"
fi

if [ "$fails" -ne 0 ]; then
  echo "capture-tests: $fails of $total failed"
  exit 1
fi
echo "capture-tests: all $total passed"
