#!/usr/bin/env bash
# tests/interop/run.sh [FLOW...] - interop flows with real SIP software on
# free loopback ports (see tests/interop/README.md). Without arguments every
# flow runs. One line per flow with what each side reported; exit status 1 if
# any flow failed. Each peer run is bounded (IA_BOUND seconds, default 20).
#
#   IA_KEEP=1   keep the temp dir with every log, SIPp trace and pcapng
#   IA_BOUND=N  per-peer bound in seconds
#
# Every flow has sipkit (build/sipkit run lua/examples/X.lua) on one side and
# a real peer on the other:
#   sipp-uac           SIPp built-in uac (20 calls, 10/s) -> uas.lua
#   sipp-uas           uac.lua x3 -> SIPp built-in uas
#   sipp-dtmf-uas      uac.lua (INFO 1234#) -> SIPp uas_dtmf (checks Signal/Duration)
#   sipp-dtmf-uac      SIPp uac_dtmf (INFO 1/160) -> uas.lua
#   sipp-registrar     register.lua (good password: register + unregister in one Call-ID; wrong one) -> SIPp uas_registrar (401, verifyauth)
#   sipp-cancel        cancel.lua -> SIPp uas_cancel
#   sipp-options       options_ping.lua -> SIPp uas_options; SIPp uac_options -> uas.lua
#   sipkit-registrar   SIPp uac_register (good, wrong password) -> registrar.lua
#   kamailio           uas.lua (bob) and register.lua (alice, mallory/wrong) register
#                      with Kamailio; uac.lua alice -> Kamailio -> bob (INFO DTMF, BYE
#                      along the Record-Route set); uac.lua -> unregistered -> 404
#   kamailio-restart   register.lua refreshing every second while Kamailio hangs
#                      (SIGSTOP), crashes (SIGKILL) and is restarted
#   baresip            baresip registers with proxy.lua and registrar.lua; uac.lua ->
#                      proxy.lua -> baresip (auto-answer, DTMF, BYE); baresip dials
#                      uas.lua and hangs up (ctrl_tcp)
#   load               SIPp built-in uac, 500 calls/s for 20 s -> uas.lua under
#                      `sipkit run --loss 0.1 --seed N` (IA_LOAD_RATE, IA_LOAD_SECS,
#                      IA_LOAD_SEED, IA_LOAD_LOSS override)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
export CI=${CI:-true}
# shellcheck source=lib.sh
source tests/interop/lib.sh

S=$IA_SIPP_DIR
PW=sipkit-test                       # the fixed test password (Kamailio, SIPp registrar, baresip)
KAM_MODULES=${KAM_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}
export SIPKIT=${SIPKIT:-$PWD/build/sipkit}
[ -x "$SIPKIT" ] || { echo "interop: $SIPKIT not built (make -j2 all)" >&2; exit 1; }

ALL_FLOWS=(sipp-uac sipp-uas sipp-dtmf-uas sipp-dtmf-uac sipp-registrar sipp-cancel sipp-options
  sipkit-registrar kamailio kamailio-restart baresip load sipkit-load)
FLOWS=("$@"); [ ${#FLOWS[@]} -gt 0 ] || FLOWS=("${ALL_FLOWS[@]}")
for fl in "${FLOWS[@]}"; do
  case " ${ALL_FLOWS[*]} " in *" $fl "*) ;; *)
    echo "usage: tests/interop/run.sh [FLOW...]; unknown flow '$fl' (known: ${ALL_FLOWS[*]})" >&2; exit 2 ;;
  esac
done
FAILED=0
ia_init

port() { local p; p=$(ia_port "${1:-1}") && [ -n "$p" ] || ia_die "port allocation failed"; echo "$p"; }

# ---------------------------------------------------------------- reporting
flow_begin() { FLOW=$1; IA_FLOW=$1; FLOW_T0=$(date +%s%N); IA_ERRORS=(); ia_subdir "$1"; }
# flow_end "FIGURES": one line per flow; details of failures below it.
flow_end() {
  local dt e
  dt=$(( ($(date +%s%N) - FLOW_T0) / 1000000 ))
  if [ ${#IA_ERRORS[@]} = 0 ]; then
    printf 'PASS %-16s %s (%d.%01ds)\n' "$FLOW" "$1" $((dt / 1000)) $((dt % 1000 / 100))
  else
    printf 'FAIL %-16s %s (%d.%01ds)\n' "$FLOW" "$1" $((dt / 1000)) $((dt % 1000 / 100))
    for e in "${IA_ERRORS[@]}"; do printf '     - %s\n' "$e"; done
    FAILED=1; IA_FAILED=1
  fi
}
# SIPp side: "name[ok=1 fail=0 rc=0 extra]"
side() { local n=$1; shift; echo "$n[$(ia_sipp_result "$n")${*:+ $*}]"; }
# sipkit side: "name.lua[rc=0 extra]"
sk() { local n=$1 s=$2; shift 2; echo "$n:$s[rc=$(ia_sipkit_rc "$n")${*:+ $*}]"; }
# expect_rc NAME RC: a finished sipkit peer exited with RC
expect_rc() { [ "$(ia_sipkit_rc "$1")" = "$2" ] || IA_ERRORS+=("$1: exit status $(ia_sipkit_rc "$1"), expected $2"); }
# expect a line in a SIPp <log> file / peer log
expect_action() { ia_actions "$1" | grep -Eq -- "$2" || IA_ERRORS+=("$1: no <log> line matching '$2'"); }
expect_log() { grep -Eq -- "$2" "$IA_TMP/$1.log" || IA_ERRORS+=("$1: log has no line matching '$2'"); }
count_log() { grep -Ec -- "$2" "$IA_TMP/$1.log"; }

# ---------------------------------------------------------------- peers
kam_start() { # NAME PORT
  ia_start "$1" kamailio -f "$IA_DIR/kamailio.cfg" -DD -E -T -S -n 2 -a no \
    -L "$KAM_MODULES" -l "udp:$IA_HOST:$2" -w "$IA_TMP" -Y "$IA_TMP" -A "TEST_PASSWORD=\"$PW\""
  ia_wait_udp "$1" "$2" 10
}

baresip_start() { # NAME SIP_PORT(2 consecutive) CTRL_PORT REGISTRAR_HOSTPORT REGISTRAR2_HOSTPORT
  local d=$IA_TMP/$1.d rtp f
  rtp=$(port 10)
  mkdir -p "$d"
  for f in config accounts contacts; do
    sed -e "s/@SIP_PORT@/$2/g; s/@CTRL_PORT@/$3/g; s/@RTP_MIN@/$rtp/; s/@RTP_MAX@/$((rtp + 9))/" \
        -e "s/@REGISTRAR@/$4/; s/@REGISTRAR2@/$5/; s/@PASSWORD@/$PW/g" "$IA_DIR/baresip/$f" > "$d/$f"
  done
  ia_start "$1" baresip -f "$d" -v
  ia_wait_udp "$1" "$2" 10
}

# baresip_cmd CTRL_PORT COMMAND [PARAMS]: one ctrl_tcp netstring (JSON)
baresip_cmd() {
  local j="{\"command\":\"$2\",\"params\":\"${3:-}\",\"token\":\"t$RANDOM\"}"
  ( exec 3<>"/dev/tcp/$IA_HOST/$1" && printf '%d:%s,' "${#j}" "$j" >&3 &&
    timeout 2 head -c 1 <&3 >/dev/null ) 2>/dev/null   # wait for the first byte of the answer
}

# ---------------------------------------------------------------- flows
# Every flow: sipkit example(s) on one side, a real peer on the other; the
# peer's own counters / logs and sipkit's exit status and output are both
# checked, and the wire (dumpcap on the flow's ports) must decode as SIP.

# count lines of a sipkit peer's output matching an ERE
nlog() { grep -Ec -- "$2" "$IA_TMP/$1.log" 2>/dev/null || true; }

# SIPp built-in uac, several calls, against uas.lua
flow_sipp_uac() {
  local a b n=20 cap
  a=$(port); b=$(port)
  ia_capture_start uac "$a" "$b"
  ia_sipkit uas uas.lua "$IA_HOST:$a" --calls $n; ia_wait_udp uas "$a"
  ia_sipp_start uac -sn uac -p "$b" -m $n -r 10 "$IA_HOST:$a"
  ia_wait uac 30; ia_wait uas 10
  ia_sipp_expect uac 0 $n 0
  expect_rc uas 0
  [ "$(nlog uas '^uas: answered$')" = $n ] || IA_ERRORS+=("uas: answered $(nlog uas '^uas: answered$') calls, expected $n")
  [ "$(nlog uas '^uas: call ended \(bye_received\)$')" = $n ] || IA_ERRORS+=("uas: $(nlog uas 'call ended \(bye_received\)') calls ended by BYE, expected $n")
  ia_capture_check uac; cap=$IA_CAP
  flow_end "$(side uac) -> $(sk uas uas.lua "invites=$(nlog uas '^uas: INVITE') answered=$(nlog uas '^uas: answered$') bye=$(nlog uas 'call ended \(bye_received\)')") pcap[$cap]"
}

# uac.lua (3 calls, no DTMF: the built-in uas scenario has no INFO) against SIPp built-in uas
flow_sipp_uas() {
  local a b n=3 i cap ok=0
  a=$(port); b=$(port)
  ia_capture_start uas "$a" "$b"
  ia_sipp_start uas -sn uas -p "$a" -m $n; ia_wait_udp uas "$a"
  for i in $(seq 1 $n); do
    ia_sipkit uac$i uac.lua "sip:bob@$IA_HOST:$a" "$IA_HOST:$b" --dtmf "" --wait 0.2 --timeout 5
    ia_wait uac$i 15
    expect_rc uac$i 0
    grep -q '^uac: hung up$' "$IA_TMP/uac$i.log" && ok=$((ok + 1))
  done
  ia_wait uas 15
  ia_sipp_expect uas 0 $n 0
  [ $ok = $n ] || IA_ERRORS+=("uac.lua: $ok of $n calls answered and hung up")
  ia_capture_check uas; cap=$IA_CAP
  flow_end "uac.lua[x$n rc=$(for i in $(seq 1 $n); do printf '%s' "${i#1}${i:+}"; done >/dev/null; r=; for i in $(seq 1 $n); do r+=${r:+,}$(ia_sipkit_rc uac$i); done; echo "$r") hung-up=$ok] -> $(side uas) pcap[$cap]"
}

# uac.lua sending INFO 1234# against uas_dtmf.xml (checks each INFO)
flow_sipp_dtmf_uas() {
  local a b cap digits
  a=$(port); b=$(port)
  ia_capture_start dtmf "$a" "$b"
  ia_sipp_start uas -sf "$S/uas_dtmf.xml" -p "$a" -m 1; ia_wait_udp uas "$a"
  ia_sipkit uac uac.lua "sip:bob@$IA_HOST:$a" "$IA_HOST:$b" --dtmf '1234#' --wait 0.2 --timeout 5
  ia_wait uac; ia_wait uas
  expect_rc uac 0
  expect_log uac '^uac: sent DTMF 1234#$'; expect_log uac '^uac: hung up$'
  ia_sipp_expect uas 0 1 0
  local d; for d in 1 2 3 4 '#'; do expect_action uas "^INFO signal=$d duration=160$"; done
  expect_action uas '^BYE infos=5(\.0+)? digits=1234#$'
  digits=$(ia_actions uas | sed -n 's/^BYE .*digits=//p')
  ia_capture_check dtmf; cap=$IA_CAP
  flow_end "$(sk uac uac.lua "sent=1234#") -> $(side uas "infos=$(ia_actions uas | grep -c '^INFO ') digits=$digits") pcap[$cap]"
}

# uac_dtmf.xml (INFO Signal=1 Duration=160) against uas.lua
flow_sipp_dtmf_uac() {
  local a b cap
  a=$(port); b=$(port)
  ia_capture_start dtmf "$a" "$b"
  ia_sipkit uas uas.lua "$IA_HOST:$a" --calls 1; ia_wait_udp uas "$a"
  ia_sipp_start uac -sf "$S/uac_dtmf.xml" -p "$b" -m 1 -s bob -key from alice "$IA_HOST:$a"
  ia_wait uac; ia_wait uas 10
  ia_sipp_expect uac 0 1 0
  expect_rc uas 0
  expect_log uas '^uas: DTMF 1$'; expect_log uas '^uas: call ended \(bye_received\)$'
  ia_capture_check dtmf; cap=$IA_CAP
  flow_end "$(side uac "sent=1") -> $(sk uas uas.lua "digits=$(sed -n 's/^uas: DTMF //p' "$IA_TMP/uas.log" | tr -d '\n')") pcap[$cap]"
}

# register.lua (alice good password: register + unregister; mallory wrong
# password) against uas_registrar.xml (401, verifyauth, 200 / 403)
flow_sipp_registrar() {
  local r g x cap
  r=$(port); g=$(port); x=$(port)
  ia_capture_start reg "$r" "$g" "$x"
  ia_sipp_start registrar -sf "$S/uas_registrar.xml" -p "$r" -m 2; ia_wait_udp registrar "$r"
  ia_sipkit good register.lua "sip:$IA_HOST:$r" "$IA_HOST:$g" --user alice --password "$PW" --expires 300 --hold 0.2 --timeout 5
  ia_wait good
  ia_sipkit wrong register.lua "sip:$IA_HOST:$r" "$IA_HOST:$x" --user mallory --password not-the-password --timeout 5
  ia_wait wrong; ia_wait registrar
  expect_rc good 0; expect_rc wrong 1
  expect_log good '^register: registered sip:alice@127\.0\.0\.1:[0-9]+ for 300 s$'
  expect_log good '^register: unregistered$'
  expect_log wrong '^register: failed: 403 Forbidden$'
  ia_sipp_expect registrar 0 2 0
  [ "$(ia_actions registrar | grep -c '^REGISTER auth=ok user=alice$')" = 2 ] || IA_ERRORS+=("registrar: expected 2 x auth=ok user=alice (register, unregister)")
  expect_action registrar '^REGISTER auth=bad user=mallory$'
  ia_capture_check reg; cap=$IA_CAP
  [ "$(ia_capture_count reg 'sip.Status-Code == 401')" = 3 ] || IA_ERRORS+=("reg: expected 3 challenges (401) on the wire")
  # one Call-ID per registrar, CSeq counting up (RFC 3261 §10.2.4): the
  # authenticated unregister is alice's fourth REGISTER in SIPp's one call
  [ "$(ia_capture_count reg "udp.srcport == $g && sip.CSeq.seq == 4 && sip.Method == \"REGISTER\"")" = 1 ] || IA_ERRORS+=("reg: expected alice's unregister retry as CSeq 4 of one Call-ID")
  flow_end "$(sk good register.lua "200+unregister") $(sk wrong register.lua 403) -> $(side registrar "auth-ok=$(ia_actions registrar | grep -c 'auth=ok') auth-bad=$(ia_actions registrar | grep -c 'auth=bad') 401x$(ia_capture_count reg 'sip.Status-Code == 401')") pcap[$cap]"
}

# cancel.lua against uas_cancel.xml
flow_sipp_cancel() {
  local a b cap
  a=$(port); b=$(port)
  ia_capture_start cancel "$a" "$b"
  ia_sipp_start uas -sf "$S/uas_cancel.xml" -p "$a" -m 1; ia_wait_udp uas "$a"
  ia_sipkit uac cancel.lua "sip:bob@$IA_HOST:$a" "$IA_HOST:$b" --timeout 5
  ia_wait uac; ia_wait uas
  expect_rc uac 0
  expect_log uac '^cancel: 180 Ringing$'; expect_log uac '^cancel: INVITE ended: 487 '
  ia_sipp_expect uas 0 1 0
  ia_capture_check cancel; cap=$IA_CAP
  # CANCEL and the ACK of the 487 carry the INVITE's branch
  [ "$(tshark -n -r "$IA_TMP/cancel.pcapng" -d "udp.port==$a,sip" -Y 'sip.Method' -T fields -e sip.Via.branch 2>/dev/null | sort -u | wc -l)" = 1 ] ||
    IA_ERRORS+=("cancel: INVITE, CANCEL and ACK do not share one branch")
  [ "$(ia_capture_count cancel 'sip.Method == "ACK"')" -ge 1 ] || IA_ERRORS+=("cancel: the 487 was not ACKed")
  flow_end "$(sk uac cancel.lua "180,CANCEL,487") -> $(side uas "200(CANCEL),487,ACK") pcap[$cap]"
}

# options_ping.lua against uas_options.xml, and uac_options.xml against uas.lua
flow_sipp_options() {
  local a b c d cap
  a=$(port); b=$(port); c=$(port); d=$(port)
  ia_capture_start options "$a" "$b" "$c" "$d"
  ia_sipp_start uas -sf "$S/uas_options.xml" -p "$a" -m 3; ia_wait_udp uas "$a"
  ia_sipkit ping options_ping.lua "sip:bob@$IA_HOST:$a" "$IA_HOST:$b" --count 3 --interval 0.1
  ia_wait ping; ia_wait uas
  expect_rc ping 0
  [ "$(nlog ping '^ping [0-9]: 200 OK')" = 3 ] || IA_ERRORS+=("ping: expected 3 x 200 OK")
  ia_sipp_expect uas 0 3 0
  # the other way: SIPp asks, sipkit's UA core answers (Allow with INFO)
  ia_sipkit skuas uas.lua "$IA_HOST:$c"; ia_wait_udp skuas "$c"
  ia_sipp_start uac -sf "$S/uac_options.xml" -p "$d" -m 1 -s bob "$IA_HOST:$c"
  ia_wait uac; ia_stop skuas
  ia_sipp_expect uac 0 1 0
  expect_action uac '^OPTIONS 200 allow=.*INFO'
  ia_capture_check options; cap=$IA_CAP
  flow_end "$(sk ping options_ping.lua "200x$(nlog ping '^ping [0-9]: 200 OK')") -> $(side uas); $(side uac "allow has INFO") -> uas.lua[answered] pcap[$cap]"
}

# SIPp uac_register.xml (good, wrong password) against registrar.lua
flow_sipkit_registrar() {
  local r g x cap
  r=$(port); g=$(port); x=$(port)
  ia_capture_start skreg "$r" "$g" "$x"
  ia_sipkit registrar registrar.lua "$IA_HOST:$r" --realm sipkit.test --user "alice:$PW" --user "mallory:$PW"
  ia_wait_udp registrar "$r"
  ia_sipp_start good -sf "$S/uac_register.xml" -p "$g" -m 1 -s alice -au alice -ap "$PW" \
    -key contact_port "$g" -key expires 300 "$IA_HOST:$r"
  ia_wait good
  ia_sipp_start wrong -sf "$S/uac_register.xml" -p "$x" -m 1 -s mallory -au mallory -ap not-the-password \
    -key contact_port "$x" -key expires 300 "$IA_HOST:$r"
  ia_wait wrong
  ia_stop registrar
  ia_sipp_expect good 0 1 0; ia_sipp_expect wrong 0 1 0
  expect_action good '^REGISTER user=alice status=200$'
  expect_action wrong '^REGISTER user=mallory status=403$'
  expect_log registrar "^registrar: alice: sip:alice@127\.0\.0\.1:$g for 300 s$"
  [ "$(nlog registrar 'mallory')" = 0 ] || IA_ERRORS+=("registrar: a binding for mallory (wrong password)")
  ia_capture_check skreg; cap=$IA_CAP
  [ "$(ia_capture_count skreg 'sip.Status-Code == 401')" = 2 ] || IA_ERRORS+=("skreg: expected 2 challenges (401)")
  flow_end "$(side good status=200) $(side wrong status=403) -> registrar.lua[bindings=$(nlog registrar ': sip:.* for [0-9]+ s$') 401x$(ia_capture_count skreg 'sip.Status-Code == 401') 403x$(ia_capture_count skreg 'sip.Status-Code == 403')] pcap[$cap]"
}

# Kamailio as registrar and record-routing proxy between sipkit UAs
flow_kamailio() {
  local k ra rx ua ub un cap fig nin
  k=$(port); ra=$(port); rx=$(port); ua=$(port); ub=$(port); un=$(port)
  ia_capture_start kamailio "$k" "$ra" "$rx" "$ua" "$ub" "$un"
  kam_start kam "$k"
  ia_sipkit bob uas.lua "$IA_HOST:$ub" --user bob --password "$PW" --register "sip:$IA_HOST:$k" --calls 1
  ia_sipkit reg-alice register.lua "sip:$IA_HOST:$k" "$IA_HOST:$ra" --user alice --password "$PW" --expires 60 --hold 0.2 --timeout 5
  ia_sipkit reg-wrong register.lua "sip:$IA_HOST:$k" "$IA_HOST:$rx" --user mallory --password not-the-password --timeout 5
  ia_wait reg-alice; ia_wait reg-wrong
  ia_wait_log bob '^uas: registered at ' 5 || IA_ERRORS+=("bob (uas.lua) did not register")
  ia_sipkit alice uac.lua "sip:bob@$IA_HOST:$k" "$IA_HOST:$ua" --user alice --dtmf '1234#' --wait 0.2 --timeout 5
  ia_wait alice; ia_wait bob 10
  ia_sipkit nobody uac.lua "sip:nobody@$IA_HOST:$k" "$IA_HOST:$un" --user alice --timeout 5
  ia_wait nobody
  ia_stop kam
  expect_rc reg-alice 0; expect_rc reg-wrong 1; expect_rc alice 0; expect_rc bob 0; expect_rc nobody 1
  expect_log reg-alice '^register: registered sip:alice@.* for 60 s$'; expect_log reg-alice '^register: unregistered$'
  expect_log reg-wrong '^register: failed: 403 Forbidden$'
  expect_log alice '^uac: answered$'; expect_log alice '^uac: sent DTMF 1234#$'; expect_log alice '^uac: hung up$'
  expect_log bob '^uas: DTMF #$'; expect_log bob '^uas: call ended \(bye_received\)$'
  expect_log nobody '^uac: call failed: 404 Not Found$'
  expect_log kam 'REGISTER alice challenge'; expect_log kam 'REGISTER alice ok'
  expect_log kam 'REGISTER bob challenge'; expect_log kam 'REGISTER bob ok'
  expect_log kam 'REGISTER mallory wrong password -> 403'
  expect_log kam "lookup bob -> sip:bob@127.0.0.1:$ub"
  expect_log kam 'lookup nobody: not registered -> 404'
  local m; for m in ACK INFO BYE; do expect_log kam "in-dialog $m loose_route -> sip:bob@127.0.0.1:$ub"; done
  ia_capture_check kamailio; cap=$IA_CAP
  # the 200 (INVITE) alice got carries Record-Route, and alice's in-dialog
  # requests are loose-routed: Request-URI = bob's Contact, Route = Kamailio
  [ "$(ia_capture_count kamailio "udp.dstport == $ua && sip.Status-Code == 200 && sip.CSeq.method == \"INVITE\" && sip.Record-Route")" -ge 1 ] ||
    IA_ERRORS+=("kamailio: 200 (INVITE) to the caller has no Record-Route")
  nin=$(ia_capture_count kamailio "udp.srcport == $ua && sip.Method && !(sip.Method == \"INVITE\")")
  [ "$nin" -ge 7 ] && [ "$(ia_capture_count kamailio "udp.srcport == $ua && sip.Method && !(sip.Method == \"INVITE\") && sip.r-uri contains \"127.0.0.1:$ub\" && sip.Route contains \"127.0.0.1:$k;lr\"")" = "$nin" ] ||
    IA_ERRORS+=("kamailio: alice's ACK/INFO/BYE are not all loose-routed (R-URI bob's contact, Route Kamailio)")
  fig="$(sk reg-alice register.lua 200) $(sk reg-wrong register.lua 403) bob:uas.lua[registered]"
  fig+=" kam[401x$(count_log kam 'challenge'),200x$(count_log kam 'REGISTER [a-z]+ ok'),403x$(count_log kam 'wrong password'),rr-in-dialog=$(count_log kam 'loose_route'),404x$(count_log kam 'not registered')]"
  fig+=" $(sk alice uac.lua "sent=1234# in-dialog=$nin loose-routed") -> $(sk bob uas.lua "digits=$(sed -n 's/^uas: DTMF //p' "$IA_TMP/bob.log" | tr -d '\n')")"
  fig+=" $(sk nobody uac.lua "$(sed -n 's/^uac: call failed: \([0-9]*\).*/\1/p' "$IA_TMP/nobody.log")") pcap[$cap]"
  flow_end "$fig"
}

# register.lua refreshing every second (expires 10) while Kamailio first
# hangs (SIGSTOP: REGISTERs time out), then crashes (SIGKILL of its process
# group: ICMP port unreachable, 503) and is restarted on the same port:
# register.lua reports each failure, retries and registers again.
flow_kamailio_restart() {
  local k r cap t_out t_dead
  k=$(port); r=$(port)
  ia_capture_start restart "$k" "$r"
  kam_start kam1 "$k"
  ia_sipkit dave register.lua "sip:$IA_HOST:$k" "$IA_HOST:$r" --user dave --password "$PW" \
    --expires 10 --refresh 1 --retry 0.5 --timeout 1.5 --hold 8
  ia_wait_log dave '^register: refreshed ' 5 || IA_ERRORS+=("restart: dave never refreshed before the outage")
  ia_kill STOP "${IA_PID[kam1]}"      # hung: no answer at all
  ia_wait_log dave '^register: registration failed: .*retrying' 5 || IA_ERRORS+=("restart: no failure reported while Kamailio hung")
  t_out=$(nlog dave 'registration failed')
  ia_kill KILL "${IA_PID[kam1]}"      # crash: SIGKILL to the group, no shutdown
  ia_stop kam1 1
  ss -H -lun "sport = :$k" | grep -q . && IA_ERRORS+=("restart: port $k still bound after kill")
  ia_wait_log dave '^register: registration failed: .*503' 3 || IA_ERRORS+=("restart: no 503 (port unreachable) reported while Kamailio was down")
  sleep 0.3
  kam_start kam2 "$k"
  ia_wait_log dave '^register: registered again ' 5 || IA_ERRORS+=("restart: dave did not register again")
  ia_wait dave 15
  ia_stop kam2
  expect_rc dave 0
  expect_log dave '^register: registration failed: .*(timeout|timed out).*retrying'
  expect_log dave '^register: registered again sip:dave@.* for 10 s after '
  expect_log dave '^register: unregistered$'
  [ "$(count_log kam1 'REGISTER dave ok')" -ge 2 ] || IA_ERRORS+=("restart: fewer than 2 registrations on the first instance")
  [ "$(count_log kam2 'REGISTER dave ok')" -ge 2 ] || IA_ERRORS+=("restart: fewer than 2 registrations (again + unregister) on the restarted instance")
  expect_log kam2 'REGISTER dave ok .*expires=0'
  ia_capture_check restart; cap=$IA_CAP
  flow_end "$(sk dave register.lua "refreshed=$(nlog dave '^register: refreshed') failed=$(nlog dave 'registration failed')(timeout=$(nlog dave 'registration failed: .*time') 503=$(nlog dave 'registration failed: .*503')) $(sed -n 's/^register: registered again .* after \([0-9.]*\) s.*/again-after=\1s/p' "$IA_TMP/dave.log") unregistered=$(nlog dave '^register: unregistered$')") kam1[200x$(count_log kam1 'REGISTER dave ok'), hung+killed] kam2[200x$(count_log kam2 'REGISTER dave ok')] pcap[$cap]"
}

# baresip registers with proxy.lua and with registrar.lua; uac.lua calls it
# through proxy.lua (auto-answer, INFO, BYE); baresip dials uas.lua.
flow_baresip() {
  local p r bp bc ua ub cap rr
  p=$(port); r=$(port); bp=$(port 2); bc=$(port); ua=$(port); ub=$(port)
  ia_capture_start baresip "$p" "$r" "$bp" "$ua" "$ub"
  ia_sipkit proxy proxy.lua "$IA_HOST:$p" --realm sipkit.test --user "carol:$PW"
  ia_sipkit registrar registrar.lua "$IA_HOST:$r" --realm sipkit.test --user "carol:$PW"
  ia_wait_udp proxy "$p"; ia_wait_udp registrar "$r"
  baresip_start carol "$bp" "$bc" "$IA_HOST:$p" "$IA_HOST:$r"
  ia_wait_log proxy '^proxy: carol: sip:carol.* for [0-9]+ s$' 10 || IA_ERRORS+=("baresip: did not register with proxy.lua")
  ia_wait_log registrar '^registrar: carol: sip:carol.* for [0-9]+ s$' 10 || IA_ERRORS+=("baresip: did not register with registrar.lua")
  # 1. uac.lua calls carol through proxy.lua; baresip auto-answers, gets INFO, BYE
  ia_sipkit alice uac.lua "sip:carol@$IA_HOST:$p" "$IA_HOST:$ua" --user alice --dtmf 1 --wait 0.5 --timeout 5
  ia_wait alice
  expect_rc alice 0
  expect_log alice '^uac: answered$'; expect_log alice '^uac: hung up$'
  ia_wait_log carol "Call with sip:alice@.* terminated|session closed|terminate call .* with sip:alice@" 5 ||
    IA_ERRORS+=("baresip: incoming call not torn down")
  expect_log carol "Call established: sip:alice@"
  expect_log carol "received DTMF: '1' \(duration=[0-9]+\)"
  # 2. baresip dials uas.lua directly and hangs up over ctrl_tcp
  ia_sipkit bob uas.lua "$IA_HOST:$ub" --calls 1; ia_wait_udp bob "$ub"
  baresip_cmd "$bc" dial "sip:bob@$IA_HOST:$ub" || IA_ERRORS+=("baresip: ctrl_tcp dial failed")
  if ia_wait_log carol "Call established: sip:bob@" 10; then
    sleep 0.3
    baresip_cmd "$bc" hangup || IA_ERRORS+=("baresip: ctrl_tcp hangup failed")
  else
    IA_ERRORS+=("baresip: outgoing call not established")
  fi
  ia_wait bob 10
  expect_rc bob 0
  expect_log bob '^uas: INVITE from sip:carol@'; expect_log bob '^uas: answered$'
  expect_log bob '^uas: call ended \(bye_received\)$'
  ia_wait_log carol "terminate call '.*' with sip:bob@|Call with sip:bob@.* terminated" 5 || IA_ERRORS+=("baresip: outgoing call not terminated")
  ia_stop carol 5          # unregisters first (registrars still up)
  ia_wait_log proxy '^proxy: carol: .* removed$' 2 || IA_ERRORS+=("proxy.lua: baresip's unregister not seen")
  ia_wait_log registrar '^registrar: carol: .* removed$' 2 || IA_ERRORS+=("registrar.lua: baresip's unregister not seen")
  ia_stop proxy; ia_stop registrar
  ia_capture_check baresip; cap=$IA_CAP
  # a stateful proxy adds Record-Route to the INVITE it forwards, a B2BUA not: report which
  rr=no; [ "$(ia_capture_count baresip "udp.dstport == $bp && sip.Method == \"INVITE\" && sip.Record-Route")" -ge 1 ] && rr=yes
  [ "$(ia_capture_count baresip "udp.dstport == $bp && sip.Method == \"BYE\"")" -ge 1 ] || IA_ERRORS+=("baresip: alice's BYE never reached baresip")
  [ "$(ia_capture_count baresip 'sip.Status-Code == 401')" -ge 2 ] || IA_ERRORS+=("baresip: expected a 401 challenge from each registrar")
  flow_end "baresip[registered x2 (401x$(ia_capture_count baresip 'sip.Status-Code == 401')), answered alice, DTMF $(sed -n "s/.*received DTMF: '\(.\)'.*/\1/p" "$IA_TMP/carol.log" | head -1), dialed bob + hangup, unregistered] proxy.lua[log=$(nlog proxy '^proxy: (INVITE|INFO|BYE|ACK) ')lines rr-to-baresip=$rr] registrar.lua[bound+removed] $(sk alice uac.lua) $(sk bob uas.lua "answered=$(nlog bob '^uas: answered$')") pcap[$cap]"
}

# sipkit load (uac.lua's flow, one coroutine per call) against SIPp's
# built-in uas: every call must complete. A reused timer handle once stopped
# other calls' timers under load (212 of 1,500 calls failed at 500/s).
flow_sipkit_load() {
  local rate=${IA_CLOAD_RATE:-500} secs=${IA_CLOAD_SECS:-3} n a cap ok failed retr
  n=$((rate * secs))
  a=$(port)
  ia_capture_start cload "$a"
  IA_SIPP_MSG=0 IA_SIPP_TIMEOUT=$((secs + 60)) ia_sipp_start uas -sn uas -p "$a" -m $n; ia_wait_udp uas "$a"
  ia_start load "$SIPKIT" load "$IA_EXAMPLES/uac.lua" --rate "$rate" --calls $n --quiet -- "sip:service@$IA_HOST:$a"
  ia_wait load $((secs + 50))
  ia_wait uas 10
  ok=$(sed -n 's/^calls succeeded: //p' "$IA_TMP/load.log")
  failed=$(sed -n 's/^calls failed: //p' "$IA_TMP/load.log")
  retr=$(sed -n 's/^retransmissions: //p' "$IA_TMP/load.log")
  expect_rc load 0
  [ "$ok" = $n ] && [ "$failed" = 0 ] || IA_ERRORS+=("sipkit load: ${ok:-?} of $n calls succeeded, ${failed:-?} failed")
  ia_sipp_expect uas 0 $n 0
  ia_capture_check cload; cap=$IA_CAP
  flow_end "$(sk load uac.lua "sipkit load rate=$rate/s calls=$n succeeded=$ok failed=$failed retrans=$retr") -> $(side uas) pcap[$cap]"
}


# SIPp built-in uac at IA_LOAD_RATE calls/s for IA_LOAD_SECS seconds against
# uas.lua with IA_LOAD_LOSS injected loss (both directions) on sipkit's side.
# Every call must complete on both sides: SIPp successful = total, failed = 0,
# its own retransmissions > 0; uas.lua saw every INVITE and every call ended
# by the BYE (a BYE that overtook a lost ACK ends the call too: uas.lua then
# says "answer failed: dialog ended (bye_received)", counted as ended by BYE).
flow_load() {
  local rate=${IA_LOAD_RATE:-500} secs=${IA_LOAD_SECS:-20} seed=${IA_LOAD_SEED:-7} loss=${IA_LOAD_LOSS:-0.1}
  local n a b cap inv ans bye early acktmo done retr stats scen
  n=$((rate * secs))
  "$SIPKIT" run --help 2>&1 | grep -q -- '--loss' || {
    IA_ERRORS+=("sipkit run has no --loss/--seed option (fault injection not exposed by the runner)")
    flow_end "not run"; return; }
  a=$(port); b=$(port)
  ia_capture_start load "$a" "$b"
  ia_sipkit uas --loss "$loss" --seed "$seed" --stats uas.lua "$IA_HOST:$a" --ring 0 --calls $n
  ia_wait_udp uas "$a"
  # IA_LOAD_SCENARIO=builtin: SIPp's built-in uac (-sn uac); default its
  # transaction-exact copy sipp/uac_load.xml (see the comment in it)
  if [ "${IA_LOAD_SCENARIO:-}" = builtin ]; then scen=(-sn uac); else scen=(-sf "$S/uac_load.xml" -default_behaviors all,-abortunexp); fi
  IA_SIPP_MSG=0 IA_SIPP_TIMEOUT=$((secs + 60)) ia_sipp_start uac "${scen[@]}" -p "$b" -m $n -r "$rate" -l $((rate * 4)) "$IA_HOST:$a"
  ia_wait uac $((secs + 70))
  # sipkit ends every call once its BYE is answered: give the last ones a moment
  ia_wait uas 8
  inv=$(nlog uas '^uas: INVITE'); ans=$(nlog uas '^uas: answered$')
  bye=$(nlog uas '^uas: call ended \(bye_received\)$')
  early=$(nlog uas '^uas: answer failed: dialog ended \(bye_received\)$')
  acktmo=$(nlog uas 'answer failed: .*timed out')
  done=$((bye + early)); retr=$(ia_sipp_stat uac 'Retransmissions(C)')
  stats=$(grep -m1 -iE 'drop|retrans' "$IA_TMP/uas.log" | grep -v '^uas:' | tr -s ' ' | cut -c1-200)
  ia_sipp_expect uac 0 $n 0
  [ "${retr:-0}" -gt 0 ] || IA_ERRORS+=("load: SIPp made no retransmission (is the loss injected?)")
  [ "$inv" = $n ] || IA_ERRORS+=("load: uas.lua saw $inv INVITEs, expected $n")
  [ "$done" = $n ] || IA_ERRORS+=("load: uas.lua ended $done calls by BYE ($bye after the ACK, $early before it), expected $n; $acktmo answers still waited for an ACK after SIPp's BYE was answered; $((n - done - acktmo)) without an end")
  expect_rc uas 0
  ia_capture_check load; cap=$IA_CAP
  flow_end "$(side uac "rate=$rate/s x ${secs}s retrans=$retr") -> $(sk uas uas.lua "loss=$loss seed=$seed invites=$inv answered=$ans bye=$bye bye-before-ack=$early ack-timeout=$acktmo${stats:+ stats: $stats}") pcap[$cap]"
}

# ---------------------------------------------------------------- main
T0=$(date +%s%N)
for fl in "${FLOWS[@]}"; do
  flow_begin "$fl"; "flow_${fl//-/_}"
  # nothing of this flow may survive it
  for n in "${!IA_PID[@]}"; do ia_log "interop: $n left running by $fl"; ia_stop "$n"; FAILED=1; done
done
dt=$(( ($(date +%s%N) - T0) / 1000000 ))
echo "interop: ${#FLOWS[@]} flow(s), $([ $FAILED = 0 ] && echo 'all passed' || echo 'FAILED') in $((dt / 1000)).$((dt % 1000 / 100))s"
IA_FAILED=$FAILED
exit $FAILED
