# proxy.lua as registrar and stateful proxy: uas.lua registers as bob
# through it, uac.lua calls bob at the proxy; the INVITE is forwarded with
# Record-Route, so DTMF INFOs and the BYE come back through the proxy and
# are forwarded along their Route; responses are relayed each way.
. "$(dirname "$0")/loop_lib.sh"
start proxy proxy.lua 127.0.0.1:0 --user bob:secret --user dave:pw2
P=$ADDR
start uas uas.lua 127.0.0.1:0 --register "sip:$P" --password secret
U=$ADDR
expect uas "uas: registered at sip:$P"
run_ok 0 uac uac.lua "sip:bob@$P" --dtmf 42 --wait 0.1
for l in "uac: 180 Ringing" "uac: answered" "uac: sent DTMF 42" "uac: hung up"; do expect uac "$l"; done
for l in "uas: INVITE from sip:alice@127.0.0.1" "uas: DTMF 4" "uas: DTMF 2" "uas: BYE"; do expect uas "$l"; done
expect proxy "proxy: INVITE sip:bob@$P -> sip:bob@$U"
expect proxy "proxy: INVITE sip:bob@$P <- 180 Ringing"
expect proxy "proxy: INVITE sip:bob@$P <- 200 OK"
expect proxy "proxy: INFO sip:bob@$U -> (route)"
expect proxy "proxy: INFO sip:bob@$U <- 200 OK"
expect proxy "proxy: BYE sip:bob@$U -> (route)"
expect proxy "proxy: BYE sip:bob@$U <- 200 OK"
n=$(grep -c "^proxy: INFO sip:bob@$U <- 200 OK$" "$T/proxy")
if [ "$n" = 2 ]; then pass "proxy relayed 2 INFOs"; else fail "proxy relayed $n INFOs, want 2"; fi
run_ok 1 nobody uac.lua "sip:carol@$P" --timeout 5
expect nobody "uac: call failed: 404 Not Found"
expect proxy "proxy: INVITE sip:carol@$P: 404"
# CANCEL after 180: passed downstream, the UAS's 487 relayed back
start slow uas.lua 127.0.0.1:0 --user dave --password pw2 --register "sip:$P" --ring 30
D=$ADDR
expect slow "uas: registered at sip:$P"
run_ok 0 cancel cancel.lua "sip:dave@$P"
for l in "cancel: 180 Ringing" "cancel: CANCEL" "cancel: INVITE ended: 487 Request Terminated"; do
  expect cancel "$l"
done
expect proxy "proxy: INVITE sip:dave@$P -> sip:dave@$D"
expect proxy "proxy: INVITE sip:dave@$P: CANCEL passed on"
expect proxy "proxy: INVITE sip:dave@$P <- 487 Request Terminated"
finish
