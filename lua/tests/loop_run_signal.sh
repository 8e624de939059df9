# `sipkit run --stats` stopped by SIGTERM / SIGINT still prints the
# runtime's counters (the signal path exits without the normal teardown).
. "$(dirname "$0")/loop_lib.sh"
for sig in TERM INT; do
  "$SIPKIT" run --stats "$E/uas.lua" 127.0.0.1:0 > "$T/uas$sig" 2>&1 &
  pid=$!
  PIDS+=($pid)
  ADDR=
  for _ in $(seq 50); do
    ADDR=$(sed -n 's/^.*: listening on //p' "$T/uas$sig")
    [ -n "$ADDR" ] && break
    sleep 0.1
  done
  [ -n "$ADDR" ] || { echo "uas did not start:"; cat "$T/uas$sig"; exit 1; }
  run_ok 0 "ping$sig" options_ping.lua "sip:bob@$ADDR" --count 1
  kill -"$sig" "$pid"
  wait "$pid"; rc=$?
  want=$((128 + $(kill -l "$sig")))
  [ "$rc" = "$want" ] && pass "SIG$sig: exit $rc" || fail "SIG$sig: exit $rc, want $want"
  if grep -qE '^sipkit run: stats: datagrams_in=1 datagrams_out=1 ' "$T/uas$sig"; then
    pass "SIG$sig: --stats printed"
  else
    fail "SIG$sig: no stats line in:"; sed 's/^/     /' "$T/uas$sig"
  fi
done
finish
