#!/usr/bin/env bash
# lua/demo.sh BUILD - `make demo`: on loopback, proxy.lua (registrar and
# router), uas.lua registering as bob, and uac.lua (alice) calling bob
# through the proxy, sending DTMF 1234# by INFO, waiting and hanging up,
# with every message alice sends and receives traced (sipkit run --trace).
# Every process is stopped by its PID at the end.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
sipkit="$(cd "${1:-$root/build}" && pwd)/sipkit"
ex="$root/lua/examples"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-demo.XXXXXX") || exit 2
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$tmp"' EXIT

# start NAME SCRIPT ARGS: background, output shown as it comes; sets ADDR
start() {
  local name=$1 script=$2
  shift 2
  "$sipkit" run "$ex/$script" "$@" > "$tmp/$name" 2>&1 &
  pids+=($!)
  tail -n +1 -f "$tmp/$name" --pid=$! 2>/dev/null &
  pids+=($!)
  for _ in $(seq 50); do
    ADDR=$(sed -n 's/^.*: listening on //p' "$tmp/$name")
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  echo "demo: $script did not start" >&2
  exit 1
}

start proxy proxy.lua 127.0.0.1:0 --user bob:secret
proxy=$ADDR
start uas uas.lua 127.0.0.1:0 --register "sip:$proxy" --password secret
for _ in $(seq 50); do grep -q "registered" "$tmp/uas" && break; sleep 0.1; done
# alice's side in full: every message sent and received, as a block with
# its time, direction and addresses (sipkit run --trace), between the event
# lines of the three scripts
echo "demo: alice calls bob through the proxy; alice's messages are traced"
"$sipkit" run --trace --trace-prefix "  alice| " "$ex/uac.lua" "sip:bob@$proxy" \
  --dtmf 1234# --interval 0.2 --wait 1
status=$?
sleep 0.3
echo "demo: uac.lua exited with $status"
exit $status
