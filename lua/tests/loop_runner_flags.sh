# `sipkit run` evidence and fault flags: uac.lua calls uas.lua with
# --trace FILE, --pcap FILE, --ladder, --ladder-html FILE; the trace has
# each block with its addresses, tshark decodes every pcap frame as SIP
# (none malformed), the ladder has the arrows and the outcome, the HTML
# has the SVG.  Then a call under --loss 0.2 --seed 7 still completes and
# --stats shows the injected drops.
. "$(dirname "$0")/loop_lib.sh"
start uas uas.lua 127.0.0.1:0 --ring 0
UAS=$ADDR

# check LABEL COMMAND...: pass when COMMAND succeeds
check() { local l=$1; shift; if "$@"; then pass "$l"; else fail "$l"; fi; }
# count FILE REGEX -> number of matching lines
count() { grep -cE -- "$2" "$1"; }

(cd "$T" && timeout 30 "$SIPKIT" run --trace t.txt --pcap c.pcap --ladder --ladder-html l.html \
  "$E/uac.lua" "sip:bob@$UAS" --dtmf 1 --wait 0 > "$T/uac" 2> "$T/uac.err")
rc=$?
check "traced uac exits 0 (got $rc)" [ "$rc" = 0 ]
UAC=$(sed -n 's/^uac: calling .* from //p' "$T/uac")
check "uac address known ($UAC)" [ -n "$UAC" ]

# trace: 4 sent (INVITE ACK INFO BYE), 4 received (180 200 200 200)
tr="$T/t.txt"
check "trace: 4 blocks sent" [ "$(count "$tr" "^UDP message sent \([0-9]+ bytes\) $UAC -> $UAS\$")" = 4 ]
check "trace: 4 blocks received" [ "$(count "$tr" "^UDP message received \([0-9]+ bytes\) $UAS -> $UAC\$")" = 4 ]
check "trace: block separators with UTC time" \
  [ "$(count "$tr" '^-{47} [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{15} UTC$')" = 8 ]
check "trace: INVITE request line" grep -qxF "INVITE sip:bob@$UAS SIP/2.0" "$tr"
check "trace: 180 Ringing" grep -qxF "SIP/2.0 180 Ringing" "$tr"
check "trace: three 200 OK" [ "$(count "$tr" '^SIP/2.0 200 OK$')" = 3 ]
check "trace: ACK and BYE" [ "$(count "$tr" "^(ACK|BYE) sip:")" = 2 ]

# pcap read back by tshark: 8 frames, all SIP, none malformed
if command -v tshark > /dev/null; then
  tshark -r "$T/c.pcap" -T fields -e frame.protocols > "$T/protos" 2> "$T/tshark.err"
  check "pcap: tshark reads 8 frames" [ "$(wc -l < "$T/protos")" = 8 ]
  check "pcap: every frame is eth:ethertype:ip:udp:sip" \
    [ "$(grep -cE '^eth:ethertype:ip:udp:sip(:sdp|:[a-z-]+)*$' "$T/protos")" = 8 ]
  check "pcap: nothing malformed" [ "$(tshark -r "$T/c.pcap" -Y _ws.malformed 2>/dev/null | wc -l)" = 0 ]
  tshark -r "$T/c.pcap" -T fields -e sip.Method -e sip.Status-Code > "$T/sipf" 2>/dev/null
  check "pcap: methods and statuses in order" \
    [ "$(awk '{print $1}' "$T/sipf" | paste -sd,)" = "INVITE,180,200,ACK,INFO,200,BYE,200" ]
else
  fail "tshark not installed (make deps)"
fi

# ladder: one call, arrows with labels, outcome
u="$T/uac"
check "ladder: the call's outcome" grep -qF "completed: 200 OK, BYE (8 messages" "$u"
check "ladder: INVITE arrow" grep -qE '\|-+ INVITE -+>\|' "$u"
check "ladder: 180 arrow" grep -qE '\|<-+ 180 Ringing -+\|' "$u"
check "ladder: three 200 arrows" [ "$(count "$u" '\|<-+ 200 OK -+\|')" = 3 ]
check "ladder: columns named" grep -qE "^ +$UAC +$UAS\$" "$u"
check "ladder: no colour off a terminal" [ "$(grep -c $'\033' "$u")" = 0 ]
check "html: written with an inline svg" grep -q '<svg' "$T/l.html"
check "html: INVITE label" grep -q 'INVITE' "$T/l.html"

# --trace without a file goes to stderr; the prefix starts every line
(cd "$T" && timeout 30 "$SIPKIT" run --trace --trace-prefix "A| " "$E/uac.lua" "sip:bob@$UAS" \
  --dtmf "" --wait 0 > "$T/uac2" 2> "$T/uac2.err")
check "trace on stderr: 3 sent, 3 received" \
  [ "$(count "$T/uac2.err" '^A\| UDP message (sent|received) ')" = 6 ]
check "trace prefix on every line" [ "$(grep -vc '^A| ' "$T/uac2.err")" = 0 ]

# fault injection: 20% loss both ways, seeded; the call still completes
(cd "$T" && timeout 60 "$SIPKIT" run --loss 0.2 --seed 7 --t1 100 --stats "$E/uac.lua" "sip:bob@$UAS" \
  --dtmf 12 --interval 0 --wait 0 > "$T/lossy" 2> "$T/lossy.err")
rc=$?
check "lossy call exits 0 (got $rc)" [ "$rc" = 0 ]
check "lossy call hung up" grep -qxF "uac: hung up" "$T/lossy"
drops=$(sed -n 's/.* injected_drops=\([0-9]*\) .*/\1/p' "$T/lossy.err")
check "stats show injected drops ($drops)" [ "${drops:-0}" -gt 0 ]

# socket buffers: sipkit's default asks 4 MiB (Linux grants twice what
# is asked, capped at net.core.rmem_max / wmem_max), --buffer 0 leaves the
# system's default (not doubled), --buffer 64K asks 64 KiB
skmem() { # PORT -> "rb tb" of the UDP socket bound there
  ss -Huln -m "sport = :$1" | tr -d '\n' |
    sed -n 's/.*skmem:(r[0-9]*,rb\([0-9]*\),t[0-9]*,tb\([0-9]*\),.*/\1 \2/p'
}
granted() { local max; max=$(cat "/proc/sys/net/core/$1"); echo $(( 2 * ($2 < max ? $2 : max) )); }
want_default="$(granted rmem_max 4194304) $(granted wmem_max 4194304)"
check "default buffers: uas.lua's socket has $want_default ($(skmem "${UAS##*:}"))" \
  [ "$(skmem "${UAS##*:}")" = "$want_default" ]
for b in 0 64K; do
  "$SIPKIT" run --buffer "$b" "$E/uas.lua" 127.0.0.1:0 --ring 0 > "$T/uas-buf$b" 2>&1 &
  PIDS+=($!)
  await_addr "uas-buf$b"
  addr=$ADDR
  case $b in
    0) want="$(cat /proc/sys/net/core/rmem_default) $(cat /proc/sys/net/core/wmem_default)" ;;
    64K) want="$(granted rmem_max 65536) $(granted wmem_max 65536)" ;;
  esac
  check "--buffer $b: the socket has $want ($(skmem "${addr##*:}"))" [ "$(skmem "${addr##*:}")" = "$want" ]
  kill "${PIDS[-1]}" 2> /dev/null
done

# usage
"$SIPKIT" run --help > "$T/help"
for o in "--trace[=FILE]" "--pcap FILE" "--ladder " "--ladder-html FILE" "--loss P" "--seed N" \
         "--dup P" "--delay P[:MS]" "--buffer BYTES" "--t1 MS" "--stats"; do
  check "run --help documents $o" grep -qF -- "  $o" "$T/help"
done
"$SIPKIT" run --loss 1.5 "$E/uac.lua" > /dev/null 2> "$T/e"; rc=$?
check "--loss 1.5 is a usage error (exit $rc)" [ "$rc" = 2 ]
check "--loss message" grep -qF "sipkit: --loss: '1.5' is not a probability between 0 and 1" "$T/e"
"$SIPKIT" run --loss 0.6 --dup 0.6 "$E/uac.lua" > /dev/null 2> "$T/e"; rc=$?
check "--loss + --dup > 1 is a usage error (exit $rc)" [ "$rc" = 2 ]
"$SIPKIT" run --pcap /nonexistent/dir/x.pcap "$E/uac.lua" > /dev/null 2> "$T/e"; rc=$?
check "unwritable pcap is an error (exit $rc)" [ "$rc" = 2 ]
finish
