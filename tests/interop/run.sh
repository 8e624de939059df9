#!/usr/bin/env bash
# tests/interop/run.sh [FLOW...] - interop flows with real SIP software on
# free loopback ports (see tests/interop/README.md). Without arguments every
# flow runs. One line per flow with what each side reported; exit status 1 if
# any flow failed. Each peer run is bounded (IA_BOUND seconds, default 20).
#
#   IA_KEEP=1   keep the temp dir with every log, SIPp trace and pcapng
#   IA_BOUND=N  per-peer bound in seconds
#
# Flows (peer <-> peer for now; the role_* functions are where sipkit's Lua
# examples plug in):
#   sipp-dtmf          SIPp uac_dtmf    -> SIPp uas_dtmf
#   sipp-registrar     SIPp uac_register (good, wrong password) -> SIPp uas_registrar
#   sipp-cancel        SIPp uac_cancel  -> SIPp uas_cancel
#   sipp-options       SIPp uac_options -> SIPp uas_options
#   kamailio           2 SIPp REGISTER (+1 wrong password) -> Kamailio;
#                      SIPp uac_dtmf -> Kamailio -> SIPp uas_dtmf (RR, INFO, BYE);
#                      unregistered target -> 404
#   kamailio-restart   SIPp REGISTER loop while Kamailio is killed and restarted
#   baresip            baresip registers with Kamailio; SIPp uac_dtmf calls it
#                      through Kamailio (auto-answer); baresip dials SIPp uas_dtmf
#                      and hangs up (ctrl_tcp)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
export CI=${CI:-true}
# shellcheck source=lib.sh
source tests/interop/lib.sh

S=$IA_SIPP_DIR
PW=sipkit-test                       # the fixed test password (Kamailio, SIPp registrar, baresip)
KAM_MODULES=${KAM_MODULES:-/usr/lib/x86_64-linux-gnu/kamailio/modules}
SIPKIT=${SIPKIT:-$PWD/build/sipkit}       # for the role_* lines once issue 6 lands

ALL_FLOWS=(sipp-dtmf sipp-registrar sipp-cancel sipp-options kamailio kamailio-restart baresip)
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
# "name[ok=1 fail=0 rc=0 extra]"
side() { local n=$1; shift; echo "$n[$(ia_sipp_result "$n")${*:+ $*}]"; }
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

baresip_start() { # NAME SIP_PORT(2 consecutive) CTRL_PORT REGISTRAR_HOSTPORT
  local d=$IA_TMP/$1.d rtp f
  rtp=$(port 10)
  mkdir -p "$d"
  for f in config accounts contacts; do
    sed -e "s/@SIP_PORT@/$2/g; s/@CTRL_PORT@/$3/g; s/@RTP_MIN@/$rtp/; s/@RTP_MAX@/$((rtp + 9))/" \
        -e "s/@REGISTRAR@/$4/; s/@PASSWORD@/$PW/" "$IA_DIR/baresip/$f" > "$d/$f"
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

# ---------------------------------------------------------------- roles
# Each role_* starts one side of a flow. Today every side is SIPp; when
# sipkit's examples exist (issue 6), the side sipkit plays is a one-line change
# shown in the comment (and check_* reads sipkit's exit status instead of SIPp's
# counters; see README.md).

role_uas_dtmf() { # NAME PORT : answers 1 call, checks INFO dtmf-relay, answers BYE
  ia_sipp_start "$1" -sf "$S/uas_dtmf.xml" -p "$2" -m 1
  # sipkit: ia_start "$1" "$SIPKIT" run lua/examples/uas.lua "$IA_HOST:$2"
}
role_uac_dtmf() { # NAME PORT TARGET_HOSTPORT USER : INVITE, ACK, INFO 1/160, BYE
  ia_sipp_start "$1" -sf "$S/uac_dtmf.xml" -p "$2" -m 1 -s "$4" -key from alice "$3"
  # sipkit: ia_start "$1" "$SIPKIT" run lua/examples/uac.lua "sip:$4@$3" "$IA_HOST:$2"
}
role_registrar() { # NAME PORT CALLS : 401 challenge, verifyauth, 200 / 403
  ia_sipp_start "$1" -sf "$S/uas_registrar.xml" -p "$2" -m "$3"
  # sipkit: ia_start "$1" "$SIPKIT" run lua/examples/registrar.lua "$IA_HOST:$2"
}
role_register() { # NAME PORT REGISTRAR_HOSTPORT USER PASSWORD CONTACT_PORT
  ia_sipp_start "$1" -sf "$S/uac_register.xml" -p "$2" -m 1 -s "$4" -au "$4" -ap "$5" \
    -key contact_port "$6" -key expires 300 "$3"
  # sipkit: ia_start "$1" "$SIPKIT" run lua/examples/register.lua "sip:$3" "$4" "$5" "$IA_HOST:$2"
}
role_uas_cancel() { # NAME PORT : 100, 180, then 200 CANCEL + 487
  ia_sipp_start "$1" -sf "$S/uas_cancel.xml" -p "$2" -m 1
}
role_uac_cancel() { # NAME PORT TARGET_HOSTPORT
  ia_sipp_start "$1" -sf "$S/uac_cancel.xml" -p "$2" -m 1 -s bob -key from alice "$3"
  # sipkit: ia_start "$1" "$SIPKIT" run lua/examples/cancel.lua "sip:bob@$3" "$IA_HOST:$2"
}
role_uas_options() { # NAME PORT
  ia_sipp_start "$1" -sf "$S/uas_options.xml" -p "$2" -m 1
}
role_uac_options() { # NAME PORT TARGET_HOSTPORT
  ia_sipp_start "$1" -sf "$S/uac_options.xml" -p "$2" -m 1 -s bob "$3"
  # sipkit: ia_start "$1" "$SIPKIT" run lua/examples/options_ping.lua "sip:bob@$3" "$IA_HOST:$2"
}

# ---------------------------------------------------------------- flows
flow_sipp_dtmf() {
  local a b cap
  a=$(port); b=$(port)
  ia_capture_start dtmf "$a" "$b"
  role_uas_dtmf uas "$a"; ia_wait_udp uas "$a"
  role_uac_dtmf uac "$b" "$IA_HOST:$a" bob
  ia_wait uac; ia_wait uas
  ia_sipp_expect uac 0 1 0; ia_sipp_expect uas 0 1 0
  expect_action uas '^INFO signal=1 duration=160$'
  expect_action uas '^BYE infos=1(\.0+)? digits=1$'
  ia_capture_check dtmf; cap=$IA_CAP
  flow_end "$(side uac) -> $(side uas "digits=$(ia_actions uas | sed -n 's/^BYE .*digits=//p')") pcap[$cap]"
}

flow_sipp_registrar() {
  local r g x cap
  r=$(port); g=$(port); x=$(port)
  ia_capture_start reg "$r" "$g" "$x"
  role_registrar registrar "$r" 2; ia_wait_udp registrar "$r"
  role_register good "$g" "$IA_HOST:$r" alice "$PW" "$g"; ia_wait good
  role_register wrong "$x" "$IA_HOST:$r" mallory not-the-password "$x"; ia_wait wrong
  ia_wait registrar
  ia_sipp_expect good 0 1 0; ia_sipp_expect wrong 0 1 0; ia_sipp_expect registrar 0 2 0
  expect_action good '^REGISTER user=alice status=200$'
  expect_action wrong '^REGISTER user=mallory status=403$'
  expect_action registrar '^REGISTER auth=ok user=alice$'
  expect_action registrar '^REGISTER auth=bad user=mallory$'
  [ "$(ia_capture_count reg 'sip.Status-Code == 401')" = 2 ] || IA_ERRORS+=("reg: expected 2 challenges (401)")
  ia_capture_check reg; cap=$IA_CAP
  flow_end "$(side good status=200) $(side wrong status=403) -> $(side registrar "verifyauth ok=1 bad=1") pcap[$cap]"
}

flow_sipp_cancel() {
  local a b cap
  a=$(port); b=$(port)
  ia_capture_start cancel "$a" "$b"
  role_uas_cancel uas "$a"; ia_wait_udp uas "$a"
  role_uac_cancel uac "$b" "$IA_HOST:$a"
  ia_wait uac; ia_wait uas
  ia_sipp_expect uac 0 1 0; ia_sipp_expect uas 0 1 0
  # CANCEL and the ACK of the 487 carry the INVITE's branch
  [ "$(tshark -n -r "$IA_TMP/cancel.pcapng" -d "udp.port==$a,sip" -Y 'sip.Method' -T fields -e sip.Via.branch 2>/dev/null | sort -u | wc -l)" = 1 ] ||
    IA_ERRORS+=("cancel: INVITE, CANCEL and ACK do not share one branch")
  [ "$(ia_capture_count cancel 'sip.Status-Code == 487')" -ge 1 ] || IA_ERRORS+=("cancel: no 487 on the wire")
  ia_capture_check cancel; cap=$IA_CAP
  flow_end "$(side uac "180,CANCEL,200,487,ACK") -> $(side uas) pcap[$cap]"
}

flow_sipp_options() {
  local a b cap
  a=$(port); b=$(port)
  ia_capture_start options "$a" "$b"
  role_uas_options uas "$a"; ia_wait_udp uas "$a"
  role_uac_options uac "$b" "$IA_HOST:$a"
  ia_wait uac; ia_wait uas
  ia_sipp_expect uac 0 1 0; ia_sipp_expect uas 0 1 0
  expect_action uac '^OPTIONS 200 allow=.*INFO'
  expect_action uas '^OPTIONS answered$'
  ia_capture_check options; cap=$IA_CAP
  flow_end "$(side uac) -> $(side uas) pcap[$cap]"
}

flow_kamailio() {
  local k ra rb rx ua ub un cap fig
  k=$(port); ra=$(port); rb=$(port); rx=$(port); ua=$(port); ub=$(port); un=$(port)
  ia_capture_start kamailio "$k" "$ra" "$rb" "$rx" "$ua" "$ub" "$un"
  kam_start kam "$k"
  role_uas_dtmf bob "$ub"; ia_wait_udp bob "$ub"
  # alice's binding points at her calling port, bob's at his UAS
  role_register reg-alice "$ra" "$IA_HOST:$k" alice "$PW" "$ua"
  role_register reg-bob "$rb" "$IA_HOST:$k" bob "$PW" "$ub"
  role_register reg-wrong "$rx" "$IA_HOST:$k" mallory not-the-password "$rx"
  ia_wait reg-alice; ia_wait reg-bob; ia_wait reg-wrong
  role_uac_dtmf alice "$ua" "$IA_HOST:$k" bob
  ia_sipp_start nobody -sf "$S/uac_invite_refused.xml" -p "$un" -m 1 -s nobody -key from alice "$IA_HOST:$k"
  ia_wait alice; ia_wait bob; ia_wait nobody
  ia_stop kam
  ia_sipp_expect reg-alice 0 1 0; ia_sipp_expect reg-bob 0 1 0; ia_sipp_expect reg-wrong 0 1 0
  ia_sipp_expect alice 0 1 0; ia_sipp_expect bob 0 1 0; ia_sipp_expect nobody 0 1 0
  expect_action reg-alice 'status=200$'; expect_action reg-bob 'status=200$'
  expect_action reg-wrong 'status=403$'; expect_action nobody '^INVITE status=404$'
  expect_action bob '^INFO signal=1 duration=160$'
  expect_log kam 'REGISTER alice challenge'; expect_log kam 'REGISTER alice ok'
  expect_log kam 'REGISTER bob ok'; expect_log kam 'REGISTER mallory wrong password -> 403'
  expect_log kam "lookup bob -> sip:bob@127.0.0.1:$ub"
  expect_log kam 'lookup nobody: not registered -> 404'
  local m; for m in ACK INFO BYE; do expect_log kam "in-dialog $m loose_route"; done
  # Record-Route on the wire: the 200 for INVITE that alice got carries it
  [ "$(ia_capture_count kamailio "udp.dstport == $ua && sip.Status-Code == 200 && sip.CSeq.method == \"INVITE\" && sip.Record-Route")" -ge 1 ] ||
    IA_ERRORS+=("kamailio: 200 (INVITE) to the caller has no Record-Route")
  ia_capture_check kamailio; cap=$IA_CAP
  fig="register[alice=$(ia_actions reg-alice | sed 's/.*status=//') bob=$(ia_actions reg-bob | sed 's/.*status=//')"
  fig+=" wrong-pw=$(ia_actions reg-wrong | sed 's/.*status=//')] kam[401x$(count_log kam 'challenge'),200x$(count_log kam 'REGISTER [a-z]+ ok'),403x$(count_log kam 'wrong password'),rr-in-dialog=$(count_log kam 'loose_route')]"
  fig+=" $(side alice) -> $(side bob "digits=$(ia_actions bob | sed -n 's/^BYE .*digits=//p')") $(side nobody status=404) pcap[$cap]"
  flow_end "$fig"
}

# Kamailio killed (SIGKILL to its process group, as a crash) in the middle of
# a REGISTER cycle and restarted on the same port: registrations during the
# outage fail (SIPp counts them), later ones succeed against the new
# instance, and the in-memory location is gone (bob -> 404 after restart).
flow_kamailio_restart() {
  local k r b n cap c s f
  k=$(port); r=$(port); b=$(port); n=$(port)
  ia_capture_start restart "$k" "$r" "$b" "$n"
  kam_start kam1 "$k"
  role_register reg-bob "$b" "$IA_HOST:$k" bob "$PW" "$b"; ia_wait reg-bob
  # 10 registrations of dave, 2 per second, each bounded to 1.2 s without answer
  ia_sipp_start dave -sf "$S/uac_register.xml" -p "$r" -m 10 -r 2 -rp 1000 -recv_timeout 1200 \
    -s dave -au dave -ap "$PW" -key contact_port "$r" -key expires 60 "$IA_HOST:$k"
  ia_wait_log dave 'status=200' 10 "$IA_TMP/dave.actions" || IA_ERRORS+=("restart: dave never registered before the kill")
  ia_kill KILL "${IA_PID[kam1]}"   # a crash: SIGKILL to its process group, no shutdown
  ia_stop kam1 1
  ss -H -lun "sport = :$k" | grep -q . && IA_ERRORS+=("restart: port $k still bound after kill")
  sleep 1                 # the outage (plus Kamailio's start-up time)
  kam_start kam2 "$k"
  ia_wait dave 30
  ia_sipp_start nobody -sf "$S/uac_invite_refused.xml" -p "$n" -m 1 -s bob -key from alice "$IA_HOST:$k"
  ia_wait nobody
  ia_stop kam2
  c=$(ia_sipp_counters dave); s=${c% *}; f=${c#* }
  ia_sipp_expect dave 1 '>=3' '>=1'
  [ "$((s + f))" = 10 ] 2>/dev/null || IA_ERRORS+=("restart: dave ok+fail=$s+$f, expected 10")
  ia_sipp_expect nobody 0 1 0; expect_action nobody '^INVITE status=404$'
  [ "$(count_log kam1 'REGISTER dave ok')" -ge 1 ] || IA_ERRORS+=("restart: no registration on the first instance")
  [ "$(count_log kam2 'REGISTER dave ok')" -ge 1 ] || IA_ERRORS+=("restart: no registration on the restarted instance")
  ia_capture_check restart; cap=$IA_CAP
  flow_end "$(side dave) kam1[200x$(count_log kam1 'REGISTER dave ok'), killed] kam2[200x$(count_log kam2 'REGISTER dave ok')] bob-after-restart[$(ia_actions nobody | sed 's/^INVITE //')] pcap[$cap]"
}

flow_baresip() {
  local k bp bc ua ub cap
  k=$(port); bp=$(port 2); bc=$(port); ua=$(port); ub=$(port)
  ia_capture_start baresip "$k" "$bp" "$ua" "$ub"
  kam_start kam "$k"
  baresip_start carol "$bp" "$bc" "$IA_HOST:$k"
  ia_wait_log kam 'REGISTER carol ok' 10 || IA_ERRORS+=("baresip: did not register with Kamailio")
  # 1. SIPp calls carol through Kamailio; baresip auto-answers, gets INFO, BYE
  role_uac_dtmf alice "$ua" "$IA_HOST:$k" carol
  ia_wait alice
  ia_sipp_expect alice 0 1 0
  ia_wait_log carol "Call with sip:alice@.* terminated|session closed" 5 ||
    IA_ERRORS+=("baresip: incoming call not torn down")
  expect_log carol "Call established: sip:alice@"
  expect_log carol "received DTMF: '1' \(duration=160\)"
  # 2. baresip dials a SIPp UAS directly and hangs up
  role_uas_dtmf bob "$ub"; ia_wait_udp bob "$ub"
  baresip_cmd "$bc" dial "sip:bob@$IA_HOST:$ub" || IA_ERRORS+=("baresip: ctrl_tcp dial failed")
  if ia_wait_log carol "Call established: sip:bob@" 10; then
    sleep 0.3
    baresip_cmd "$bc" hangup || IA_ERRORS+=("baresip: ctrl_tcp hangup failed")
  else
    IA_ERRORS+=("baresip: outgoing call not established")
  fi
  ia_wait bob
  ia_sipp_expect bob 0 1 0
  expect_action bob '^BYE infos=0?(\.0+)? digits=$'
  ia_wait_log carol "terminate call '.*' with sip:bob@|Call with sip:bob@.* terminated" 5 || IA_ERRORS+=("baresip: outgoing call not terminated")
  ia_stop carol 5          # unregisters first (Kamailio still up)
  ia_stop kam
  expect_log kam 'REGISTER carol ok contact=.*expires=0'
  ia_capture_check baresip; cap=$IA_CAP
  flow_end "baresip[registered, answered alice + DTMF 1/160, dialed bob + hangup, unregistered] $(side alice) $(side bob) pcap[$cap]"
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
