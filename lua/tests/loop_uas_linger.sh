# uas.lua --calls N must not exit while its last answers may still be
# needed (RFC 3261 §17.2.2: a non-INVITE server transaction stays Completed
# for 64*T1 and resends its final response to each retransmission).  Under
# --loss 0.3 --seed 22 the uas's send stream is "180 ok, 200 (INVITE) ok,
# 200 (BYE) DROPPED, next ok" and its receive stream loses nothing: its
# dialog ends with the BYE, its 200 is lost, the caller retransmits the
# BYE.  A uas that exits with its last call makes that retransmission hit
# a closed port (the caller: "BYE failed: transport error"); one that
# lingers answers it from the server transaction.  (The interop `load`
# flow lost 3-16 calls in 10,000 this way.)
. "$(dirname "$0")/loop_lib.sh"
"$SIPKIT" run --loss 0.3 --seed 22 --stats "$E/uas.lua" 127.0.0.1:0 --ring 0 --calls 1 \
  > "$T/uas" 2>&1 &
UPID=$!
PIDS+=($UPID)
await_addr uas
run_ok 0 uac uac.lua "sip:bob@$ADDR" --dtmf "" --wait 0 --timeout 5
expect uac "uac: hung up"
expect uas "uas: call ended (bye_received)"
# it exits by itself once the caller is quiet (linger 5 s by default)
for _ in $(seq 150); do kill -0 "$UPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$UPID" 2>/dev/null; then fail "uas still running 15 s after its last call"; else
  wait "$UPID"; rc=$?
  [ "$rc" = 0 ] && pass "uas exits 0 after lingering" || fail "uas exits $rc"
fi
# exactly one datagram was dropped (our first 200 to the BYE) and resent
drops=$(sed -n 's/.* injected_drops=\([0-9]*\) .*/\1/p' "$T/uas")
[ "$drops" = 1 ] && pass "uas: one injected drop" || fail "uas: injected drops '$drops' (want 1):
$(cat "$T/uas")"
finish
