# register.lua against registrar.lua (digest auth, 403, 423), and
# redirect.lua as registrar + redirect: uas.lua registers as bob, uac.lua
# calls bob at the redirect server and follows the 302.
. "$(dirname "$0")/loop_lib.sh"
start reg registrar.lua 127.0.0.1:0 --user alice:wonderland --min-expires 60
REG=$ADDR
run_ok 0 register register.lua "sip:$REG" --user alice --password wonderland --expires 120 --hold 0.2
expect register "register: unregistered"
grep -q '^register: registered sip:alice@127.0.0.1:[0-9]* for 120 s$' "$T/register" &&
  pass "register: granted 120 s" || fail "register: granted 120 s: $(cat "$T/register")"
grep -q '^registrar: alice: sip:alice@127.0.0.1:[0-9]* for 120 s$' "$T/reg" &&
  pass "registrar: binding logged" || fail "registrar: binding logged"
grep -q '^registrar: alice: sip:alice@127.0.0.1:[0-9]* removed$' "$T/reg" &&
  pass "registrar: unregister removes" || fail "registrar: unregister removes"
run_ok 1 badpw register.lua "sip:$REG" --user alice --password nope
expect badpw "register: failed: 403 Forbidden"
run_ok 1 brief register.lua "sip:$REG" --user alice --password wonderland --expires 30
expect brief "register: failed: 423 Interval Too Brief"
run_ok 1 nobody register.lua "sip:$REG" --user mallory --password x
expect nobody "register: failed: 403 Forbidden"

start redir redirect.lua 127.0.0.1:0 --user bob:secret
R=$ADDR
start uas uas.lua 127.0.0.1:0 --register "sip:$R" --password secret
expect uas "uas: registered at sip:$R"
run_ok 0 uac uac.lua "sip:bob@$R" --dtmf 5 --wait 0
expect uac "uac: answered"
expect uas "uas: DTMF 5"
grep -q "^redirect: INVITE sip:bob@$R: 302 -> sip:bob@127.0.0.1:" "$T/redir" &&
  pass "redirect: 302 to bob's contact" || fail "redirect: 302"
run_ok 1 nocallee uac.lua "sip:carol@$R" --timeout 5
expect nocallee "uac: call failed: 404 Not Found"
finish
