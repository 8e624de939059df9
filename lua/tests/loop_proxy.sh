# proxy.lua as registrar and router: uas.lua registers as bob through it,
# uac.lua calls bob at the proxy; DTMF and BYE pass through to the UAS.
. "$(dirname "$0")/loop_lib.sh"
start proxy proxy.lua 127.0.0.1:0 --user bob:secret
P=$ADDR
start uas uas.lua 127.0.0.1:0 --register "sip:$P" --password secret
expect uas "uas: registered at sip:$P"
run_ok 0 uac uac.lua "sip:bob@$P" --dtmf 42 --wait 0.1
for l in "uac: 180 Ringing" "uac: answered" "uac: sent DTMF 42" "uac: hung up"; do expect uac "$l"; done
for l in "uas: INVITE from sip:alice@127.0.0.1" "uas: DTMF 4" "uas: DTMF 2" "uas: BYE"; do expect uas "$l"; done
expect proxy "proxy: call bridged"
expect proxy "proxy: INFO from caller -> 200"
expect proxy "proxy: BYE from caller"
run_ok 1 nobody uac.lua "sip:carol@$P" --timeout 5
expect nobody "uac: call failed: 404 Not Found"
finish
