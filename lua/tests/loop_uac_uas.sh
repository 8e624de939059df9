# uac.lua calls uas.lua: ring, answer, DTMF 1234# by INFO, BYE; then
# cancel.lua (CANCEL after 180 -> 487) and options_ping.lua against it.
. "$(dirname "$0")/loop_lib.sh"
start uas uas.lua 127.0.0.1:0 --ring 0.3
UAS=$ADDR
run_ok 0 uac uac.lua "sip:bob@$UAS" --dtmf 1234# --interval 0.02 --wait 0.1
for l in "uac: 180 Ringing" "uac: answered" "uac: sent DTMF 1234#" "uac: hung up"; do expect uac "$l"; done
for l in "uas: INVITE from sip:alice@127.0.0.1" "uas: answered" "uas: DTMF 1" "uas: DTMF 2" \
         "uas: DTMF 3" "uas: DTMF 4" "uas: DTMF #" "uas: BYE" "uas: call ended (bye_received)"; do
  expect uas "$l"
done
[ "$(grep -c '^uas: DTMF' "$T/uas")" = 5 ] && pass "uas: exactly 5 digits" || fail "uas: digit count"
run_ok 0 cancel cancel.lua "sip:bob@$UAS"
expect cancel "cancel: CANCEL"
expect cancel "cancel: INVITE ended: 487 Request Terminated"
expect uas "uas: cancelled"
run_ok 0 ping options_ping.lua "sip:bob@$UAS" --count 2 --interval 0.05
[ "$(grep -c '^ping [12]: 200 OK in' "$T/ping")" = 2 ] && pass "ping: two 200 OK" || fail "ping: two 200 OK"
# the UAS keeps serving: a second call works
run_ok 0 uac2 uac.lua "sip:bob@$UAS" --dtmf 9 --wait 0
expect uas "uas: DTMF 9"
# --quiet: the call and its digits are served as before, and the only line
# is the address (the uas exits once its one call has ended)
"$SIPKIT" run "$E/uas.lua" 127.0.0.1:0 --ring 0 --calls 1 --linger 0 --quiet > "$T/quiet" 2>&1 &
QPID=$!
PIDS+=($QPID)
await_addr quiet
run_ok 0 uacq uac.lua "sip:bob@$ADDR" --dtmf 12 --interval 0.02 --wait 0
for l in "uac: answered" "uac: sent DTMF 12" "uac: hung up"; do expect uacq "$l"; done
for _ in $(seq 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
wait "$QPID"; rc=$?
[ "$rc" = 0 ] && pass "quiet uas exits 0 after its call" || fail "quiet uas exits $rc"
[ "$(cat "$T/quiet")" = "uas: listening on $ADDR" ] && pass "quiet uas: one line" \
  || { fail "quiet uas printed more than its address:"; sed 's/^/     /' "$T/quiet"; }
# a rejecting UAS gives the caller the status
start busy uas.lua 127.0.0.1:0 --reject 486
run_ok 1 uac3 uac.lua "sip:bob@$ADDR" --timeout 5
expect uac3 "uac: call failed: 486 Busy Here"
# nobody listens: ICMP port unreachable gives the transport error at once
run_ok 1 uac4 uac.lua "sip:bob@127.0.0.1:9" --timeout 5
expect uac4 "uac: call failed: transport error (503): nothing listens there or no route"
# no answer in time: our timeout, the INVITE is cancelled
start slow uas.lua 127.0.0.1:0 --ring 30
run_ok 1 uac5 uac.lua "sip:bob@$ADDR" --timeout 0.5
expect uac5 "uac: call failed: invite timed out"
expect slow "uas: cancelled"
finish
