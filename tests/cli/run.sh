#!/usr/bin/env bash
# tests/cli/run.sh - tests of the sipkit program with exact expected output.
#
#   tests/cli/run.sh [path/to/sipkit]      (default: build/sipkit)
#
# Inputs are the *.sip files beside this script.  They must keep their CRLF
# line ends byte for byte (.gitattributes marks them -text); the first test
# checks that, so a checkout that converted them fails loudly instead of
# testing the wrong bytes.  bare-lf.sip is the one file with LF line ends.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/sipkit}
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
  echo "cli-tests: $bin is not an executable (run make first)" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-cli.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
cd "$here" || exit 2
export LC_ALL=C

fails=0
total=0
pass() { total=$((total + 1)); printf 'ok   %s\n' "$1"; }
fail() { total=$((total + 1)); fails=$((fails + 1)); printf 'FAIL %s\n' "$1"; }

# run CMD...: sets rc, out (stdout) and err (stderr).
run() {
  "$@" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# expect NAME RC STDOUT CMD...: exact exit status and stdout.
expect() {
  local name=$1 want_rc=$2 want_out=$3
  shift 3
  run "$@"
  if [ "$rc" -eq "$want_rc" ] && [ "$out" = "$want_out" ]; then
    pass "$name"
  else
    fail "$name"
    printf '     command: %s\n' "$*"
    printf '     exit:    expected %s, got %s\n' "$want_rc" "$rc"
    if [ "$out" != "$want_out" ]; then
      diff -u <(printf '%s\n' "$want_out") <(printf '%s\n' "$out") |
        tail -n +3 | sed 's/^/     /'
    fi
    [ -n "$err" ] && printf '     stderr:  %s\n' "$err"
  fi
}

# expect_err NAME TEXT: the last run's stderr contains TEXT.
expect_err() {
  if [[ "$err" == *"$2"* ]]; then
    pass "$1"
  else
    fail "$1"
    printf '     stderr should contain: %s\n     stderr was: %s\n' "$2" "$err"
  fi
}

# -- fixtures keep their line ends ----------------------------------------------
for f in *.sip; do
  lf=$(tr -cd '\n' < "$f" | wc -c)
  cr=$(tr -cd '\r' < "$f" | wc -c)
  crlf=$(grep -c $'\r$' "$f")
  if [ "$f" = bare-lf.sip ]; then
    [ "$cr" -eq 0 ] && [ "$lf" -gt 0 ] && pass "fixture $f has bare LF line ends" ||
      fail "fixture $f has bare LF line ends ($cr CR bytes)"
  else
    [ "$lf" -gt 0 ] && [ "$lf" -eq "$crlf" ] && [ "$cr" -eq "$crlf" ] &&
      pass "fixture $f has CRLF line ends" ||
      fail "fixture $f has CRLF line ends ($lf LF, $crlf CRLF): check .gitattributes (-text)"
  fi
done

# -- top level -------------------------------------------------------------------
version=$(sed -n 's/^#define SIPKIT_VERSION "\(.*\)"/\1/p' "$root/src/sipkit.h")
expect "--version" 0 "sipkit $version" "$bin" --version
run "$bin" --help
[ "$rc" -eq 0 ] && [[ "$out" == usage:*"parse"* ]] && pass "--help: usage on stdout, exit 0" ||
  fail "--help: usage on stdout, exit 0 (exit $rc)"
run "$bin" parse --help
[ "$rc" -eq 0 ] && [[ "$out" == *"--stream"*"--lenient-lf"*"--json"* ]] &&
  pass "parse --help lists the options" || fail "parse --help lists the options (exit $rc)"
expect "no arguments: exit 2" 2 "" "$bin"
expect_err "no arguments: usage on stderr" "usage:"
expect "unknown command: exit 2" 2 "" "$bin" frobnicate
expect_err "unknown command: named on stderr" "unknown command 'frobnicate'"
expect "unknown top-level option: exit 2" 2 "" "$bin" --bogus
expect "parse without files: exit 2" 2 "" "$bin" parse
expect_err "parse without files: says so" "no input files"
expect "parse unknown option: exit 2, nothing parsed" 2 "" "$bin" parse --bogus ok.sip
expect_err "parse unknown option: named on stderr" "unknown option '--bogus'"

# -- datagram mode -----------------------------------------------------------------
bad_line='bad-version.sip: error VERSION at 34 (1:35): unsupported SIP version (only SIP/2.0) [SIP-Version] near "SIP/3.0\r\nVia: SI"'

expect "ok file" 0 "ok.sip: ok" "$bin" parse ok.sip
expect "error file: exact error line" 1 "$bad_line" "$bin" parse bad-version.sip
expect "ok + error: one line each, exit 1" 1 "ok.sip: ok
$bad_line" "$bin" parse ok.sip bad-version.sip
expect "stdin '-'" 0 "-: ok" "$bin" parse - < ok.sip
expect "options after files" 0 "small.sip: ok" "$bin" parse small.sip --lenient-lf
expect "'--' ends the options" 2 "" "$bin" parse -- --json
expect_err "'--' ends the options: --json is a file" "sipkit: --json: No such file or directory"

# Strict by default, lenient on request.
run "$bin" parse bare-lf.sip
[ "$rc" -eq 1 ] && [[ "$out" == "bare-lf.sip: error BARE_LF at "* ]] &&
  pass "bare LF rejected in strict mode" || fail "bare LF rejected in strict mode: exit $rc, '$out'"
expect "--lenient-lf accepts bare LF" 0 "bare-lf.sip: ok" "$bin" parse --lenient-lf bare-lf.sip

# -- I/O errors: exit 2, other files still parsed --------------------------------------
expect "nonexistent file: exit 2" 2 "" "$bin" parse nonexistent.sip
expect_err "nonexistent file: stderr names file and strerror" \
  "sipkit: nonexistent.sip: No such file or directory"
expect "nonexistent + ok: ok still reported, exit 2" 2 "ok.sip: ok" "$bin" parse nonexistent.sip ok.sip
expect "nonexistent + rejected: exit 2 wins" 2 "$bad_line" "$bin" parse bad-version.sip nonexistent.sip
expect "directory: exit 2" 2 "" "$bin" parse "$tmp"
expect_err "directory: strerror" "Is a directory"
if [ "$(id -u)" -ne 0 ]; then
  cp ok.sip "$tmp/noread.sip" && chmod 000 "$tmp/noread.sip"
  expect "unreadable file: exit 2" 2 "" "$bin" parse "$tmp/noread.sip"
  expect_err "unreadable file: strerror" "Permission denied"
fi
truncate -s $((64 * 1024 * 1024 + 1)) "$tmp/huge.sip"
expect "file over 64 MiB: exit 2" 2 "" "$bin" parse "$tmp/huge.sip"
expect_err "file over 64 MiB: reason" "file too large"
: > "$tmp/empty.sip"
run "$bin" parse "$tmp/empty.sip"
[ "$rc" -eq 1 ] && [[ "$out" == "$tmp/empty.sip: error EMPTY at 0 (1:1): "* ]] &&
  pass "empty file: EMPTY, exit 1" || fail "empty file: EMPTY, exit 1 (exit $rc, '$out')"
# Larger than SIPKIT_MAX_MSG_SIZE but far below the CLI's file limit.
{ cat ok.sip; head -c 70000 /dev/zero | tr '\0' 'x'; } > "$tmp/big.sip"
run "$bin" parse "$tmp/big.sip"
[ "$rc" -eq 1 ] && [[ "$out" == "$tmp/big.sip: error MSG_TOO_LARGE at "* ]] &&
  pass "70 kB message: MSG_TOO_LARGE, exit 1" ||
  fail "70 kB message: MSG_TOO_LARGE, exit 1 (exit $rc, '${out:0:200}')"

# -- stream mode --------------------------------------------------------------------
expect "--stream: two pipelined messages" 0 "stream2.sip#1: ok
stream2.sip#2: ok" "$bin" parse --stream stream2.sip
expect "--stream from stdin" 0 "-#1: ok
-#2: ok" "$bin" parse --stream - < stream2.sip
expect "--stream: incomplete tail is an error" 1 "stream-tail.sip#1: ok
stream-tail.sip#2: error INCOMPLETE at 40 (2:25): incomplete message at end of input" \
  "$bin" parse --stream stream-tail.sip
expect "--stream: single message" 0 "ok.sip#1: ok" "$bin" parse --stream ok.sip
expect "--stream: error stops the stream" 1 "$(sed 's/^bad-version.sip:/bad-version.sip#1:/' <<< "$bad_line")" \
  "$bin" parse --stream bad-version.sip
printf '\r\n\r\n' > "$tmp/keepalive.sip"
expect "--stream: only keep-alives is EMPTY" 1 "keepalive.sip#1: error EMPTY at 4 (3:1): no message: input is empty or only CRLF keep-alives" \
  bash -c "cd '$tmp' && '$bin' parse --stream keepalive.sip"

# -- JSON --------------------------------------------------------------------------------
run "$bin" parse --json small.sip
if [ "$rc" -eq 0 ] && [ "$out" = "$(cat small.json)" ]; then
  pass "--json: small.sip matches small.json"
else
  fail "--json: small.sip matches small.json (exit $rc)"
  diff -u small.json "$tmp/out" | sed 's/^/     /' | head -60
fi
# The SDP body of the bench corpus's 200 OK, structured (issue: bodies in --json).
run "$bin" parse --json "$root/tests/bench/corpus/04_200_ok_sdp.sip"
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))[0]["body"]
sdp = b["sdp"]
m = sdp["media"][0]
assert (b["offset"], b["length"]) == (696, 209), b
assert sdp["origin"]["username"] == "bob" and sdp["origin"]["address"] == "192.0.2.4", sdp["origin"]
assert sdp["connection"] == {"nettype": "IN", "addrtype": "IP4", "address": "192.0.2.4"}
assert (m["media"], m["port"], m["proto"], m["direction"]) == ("audio", 3456, "RTP/AVP", "sendrecv"), m
assert m["formats"] == [{"fmt": "0", "encoding": "PCMU", "clock_rate": 8000, "channels": 1},
                        {"fmt": "101", "encoding": "telephone-event", "clock_rate": 8000,
                         "channels": 1, "fmtp": "0-16"}], m["formats"]
PY
then
  pass "--json: an application/sdp body is shown parsed (origin, connection, media, formats)"
else
  fail "--json: an application/sdp body is shown parsed (exit $rc)"
fi
run "$bin" parse --json "$root/tests/bench/corpus/10_info_dtmf.sip"
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))[0]["body"]
assert b == {"offset": 561, "length": 24, "dtmf_relay": {"signal": "1", "duration": 100}}, b
PY
then
  pass "--json: an application/dtmf-relay body is shown parsed (Signal 1, Duration 100)"
else
  fail "--json: an application/dtmf-relay body is shown parsed (exit $rc)"
fi
run "$bin" parse --json "$root/tests/msgs/rfc4475/mpart01.dat"
if [ "$rc" -eq 0 ] && python3 - "$tmp/out" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))[0]["body"]
assert b == {"offset": 737, "length": 553, "multipart": {"parts": [
    {"type": "text", "subtype": "plain", "offset": 820, "length": 5},
    {"type": "application", "subtype": "octet-stream", "offset": 924, "length": 342}]}}, b
PY
then
  pass "--json: a multipart body is shown split into its parts (RFC 4475 mpart01)"
else
  fail "--json: a multipart body is shown split into its parts (exit $rc)"
fi
run "$bin" parse --json small.sip
if python3 -m json.tool "$tmp/out" > /dev/null 2> "$tmp/jerr"; then
  pass "--json: output is valid JSON (python3 -m json.tool)"
else
  fail "--json: output is valid JSON: $(cat "$tmp/jerr")"
fi
# Same layout as Python's json.dumps(indent=2) for ASCII input.
python3 -m json.tool --indent 2 "$tmp/out" > "$tmp/re" 2> /dev/null
cmp -s "$tmp/re" "$tmp/out" && pass "--json: layout is json.dumps(indent=2)" ||
  fail "--json: layout is json.dumps(indent=2)"

# json_check NAME PYTHON-EXPR CMD...: output is valid JSON and EXPR (over `d`) holds.
json_check() {
  local name=$1 expr=$2
  shift 2
  run "$@"
  if python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if ('"$expr"') else 1)' "$tmp/out" 2> "$tmp/jerr"; then
    pass "$name"
  else
    fail "$name (exit $rc) $(cat "$tmp/jerr")"
    head -c 2000 "$tmp/out" | sed 's/^/     /'
  fi
}
json_check "--json: results of several files in one array" \
  '[(r["file"], r["ok"]) for r in d] == [("ok.sip", True), ("bad-version.sip", False), ("small.sip", True)] and d[1]["error"]["name"] == "VERSION" and "message" not in d[0]' \
  "$bin" parse --json ok.sip bad-version.sip small.sip
json_check "--json --stream: results of several streams in one array" \
  '[(r["file"], r["message"], r["ok"]) for r in d] == [("ok.sip", 1, True), ("bad-version.sip", 1, False), ("stream-tail.sip", 1, True), ("stream-tail.sip", 2, False)] and d[3]["error"]["name"] == "INCOMPLETE" and d[3]["error"]["reason"] == "incomplete message at end of input"' \
  "$bin" parse --json --stream ok.sip bad-version.sip stream-tail.sip
json_check "--json --stream: message numbers" \
  '[(r["file"], r["message"], r["ok"]) for r in d] == [("stream2.sip", 1, True), ("stream2.sip", 2, True)] and d[1]["start_line"] == {"type": "response", "version": "SIP/2.0", "status": 200, "reason": "OK"} and d[1]["body"]["length"] == 6' \
  "$bin" parse --json --stream stream2.sip
json_check "--json: error object" \
  'd[0]["error"]["code"] == 4 and d[0]["error"]["line"] == 1 and d[0]["error"]["text"].startswith("error VERSION at ")' \
  "$bin" parse --json bad-version.sip
json_check "--json: no files readable gives []" 'd == []' "$bin" parse --json nonexistent.sip
# Escaping: the file name goes into the JSON, so use one with a control byte,
# an invalid UTF-8 byte, valid UTF-8, a quote and a backslash.
weird=$'w\x01\xff\xc3\xa9"\\.sip'
cp small.sip "$tmp/$weird"
(cd "$tmp" && "$bin" parse --json "$weird") > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -qF '"file": "w\u0001\u00ffé\"\\.sip"' "$tmp/out" &&
   python3 -m json.tool "$tmp/out" > /dev/null 2>&1; then
  pass "--json: control bytes and invalid UTF-8 escaped as \\u00XX"
else
  fail "--json: control bytes and invalid UTF-8 escaped as \\u00XX (exit $rc)"
  grep '"file"' "$tmp/out" | sed 's/^/     /'
fi

# -- hostile input: never crash, always a verdict ------------------------------------------
# Seeded, so a failure reproduces.  Pure random bytes must be rejected (exit
# 1); mutated messages may parse, so they must exit 0 or 1.  Exit >= 128
# means a signal (crash).
python3 - "$tmp" <<'EOF'
import random, sys
tmp = sys.argv[1]
base = [open(f, "rb").read() for f in ("ok.sip", "small.sip", "stream2.sip")]
r = random.Random(4475)
for i in range(50):
    n = r.choice([1, 2, 16, 300, 4096, 70000])
    open("%s/rand%02d.bin" % (tmp, i), "wb").write(bytes(r.getrandbits(8) for _ in range(n)))
for i in range(300):
    m = bytearray(r.choice(base))
    for _ in range(r.randint(1, 8)):
        op = r.randrange(4)
        p = r.randrange(len(m))
        if op == 0:
            m[p] = r.getrandbits(8)
        elif op == 1:
            del m[p:p + r.randint(1, 20)]
        elif op == 2:
            m[p:p] = r.choice([b"\r\n", b"\n", b"\r", b" ", b",", b";", b":", b"\0", b"9" * 12, b"\r\n "])
        elif len(m) > 1:
            m = m[:p] + m[p:] * 2
    open("%s/mut%03d.sip" % (tmp, i), "wb").write(bytes(m))
EOF
# The first byte of every random file is forced to a non-letter so that no
# random file can be a valid message by chance.
for f in "$tmp"/rand*.bin; do printf '\x00' | dd of="$f" bs=1 count=1 conv=notrunc status=none; done

verdicts() { # MODE-ARGS... : run each input alone, report statuses outside 0/1
  local f bad=""
  for f in "$tmp"/rand*.bin "$tmp"/mut*.sip; do
    "$bin" parse "$@" "$f" > /dev/null 2>&1
    local s=$?
    case $f in
      *.bin) [ $s -eq 1 ] || bad="$bad ${f##*/}=$s" ;;
      *) [ $s -le 1 ] || bad="$bad ${f##*/}=$s" ;;
    esac
  done
  printf '%s' "$bad"
}
for mode in "" "--stream" "--json" "--json --stream" "--lenient-lf --stream"; do
  # shellcheck disable=SC2086
  bad=$(verdicts $mode)
  [ -z "$bad" ] && pass "350 random/mutated inputs${mode:+ ($mode)}: no crash, exit 1 for noise" ||
    fail "350 random/mutated inputs${mode:+ ($mode)}: unexpected exit statuses:$bad"
done
run "$bin" parse --json --stream "$tmp"/rand*.bin "$tmp"/mut*.sip
python3 -m json.tool "$tmp/out" > /dev/null 2>&1 && pass "--json on hostile input is valid JSON" ||
  fail "--json on hostile input is valid JSON"

# -- memory errors (when valgrind is installed) -----------------------------------------------
if command -v valgrind > /dev/null; then
  vg() {
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all "$@" \
      > /dev/null 2> "$tmp/vg"
  }
  vg "$bin" parse --json ok.sip small.sip bad-version.sip nonexistent.sip "$tmp"/rand0*.bin "$tmp"/mut00*.sip
  [ $? -ne 99 ] && pass "valgrind: parse --json, clean" ||
    { fail "valgrind: parse --json"; head -30 "$tmp/vg" | sed 's/^/     /'; }
  vg "$bin" parse --stream --json stream2.sip stream-tail.sip "$tmp"/mut01*.sip
  [ $? -ne 99 ] && pass "valgrind: parse --stream --json, clean" ||
    { fail "valgrind: parse --stream --json"; head -30 "$tmp/vg" | sed 's/^/     /'; }
else
  echo "skip valgrind checks (valgrind not installed)"
fi

if [ "$fails" -ne 0 ]; then
  echo "cli-tests: $fails of $total failed"
  exit 1
fi
echo "cli-tests: all $total passed"
