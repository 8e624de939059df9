# loop_lib.sh - helpers for the loopback tests (sourced by loop_*.sh).
# Scripts listen on 127.0.0.1 port 0 and print "...: listening on ADDR";
# every background process is stopped by its PID on exit.
set -u
E="$ROOT/lua/examples"
T=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-loop.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; FAILS=$((FAILS + 1)); }

# start NAME SCRIPT ARGS...: run SCRIPT in the background, output in $T/NAME;
# sets ADDR to the address it listens on (waits up to 5 s).
start() {
  local name=$1 script=$2
  shift 2
  "$SIPKIT" run "$E/$script" "$@" > "$T/$name" 2>&1 &
  PIDS+=($!)
  await_addr "$name"
}

# await_addr NAME: ADDR from the "listening on" line of NAME's output
# (waits up to 5 s; exits the test when it never comes)
await_addr() {
  ADDR=
  for _ in $(seq 50); do
    ADDR=$(sed -n 's/^.*: listening on //p' "$T/$1")
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  echo "$1 did not start:"; cat "$T/$1"; exit 1
}

# expect NAME TEXT: the output of NAME has this exact line (waits up to 3 s)
expect() {
  for _ in $(seq 30); do
    grep -qxF -- "$2" "$T/$1" && { pass "$1: $2"; return 0; }
    sleep 0.1
  done
  fail "$1: no line '$2' in:"; sed 's/^/     /' "$T/$1"
}

# run_ok WANT NAME SCRIPT ARGS...: run a client script in the foreground
run_ok() {
  local want=$1 name=$2 script=$3 rc
  shift 3
  timeout 30 "$SIPKIT" run "$E/$script" "$@" > "$T/$name" 2>&1
  rc=$?
  if [ "$rc" = "$want" ]; then pass "$name exits $rc"; else
    fail "$name exits $rc, want $want:"; sed 's/^/     /' "$T/$name"; fi
}

finish() { [ "$FAILS" -eq 0 ]; exit $?; }
