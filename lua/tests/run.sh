#!/usr/bin/env bash
# lua/tests/run.sh BUILD - the Lua binding's tests (`make lua-tests`).
#
#   1. every lua/tests/test_*.lua under `BUILD/sipkit run` and under stock
#      lua5.4 with LUA_CPATH=BUILD/lua/?.so (same module, two hosts);
#   2. the runner: exit statuses 0 / 1 (with traceback) / 2, arg and ...,
#      --help;
#   3. loopback tests (lua/tests/loop_*.sh) that start scripts against each
#      other on 127.0.0.1 and stop them by PID.
# Each script runs under `timeout`, so a hang fails instead of blocking.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
sipkit="$build/sipkit"
lua_bin=${LUA_BIN:-lua5.4}
limit=${LUA_TEST_TIMEOUT:-60}

export LUA_PATH="$here/?.lua;;"
export LUA_CPATH="$build/lua/?.so;;"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-lua.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# -- 1. Lua test files under both hosts ---------------------------------------
for t in "$here"/test_*.lua; do
  name=$(basename "$t")
  if timeout "$limit" "$sipkit" run "$t" > "$tmp/out" 2>&1; then
    pass "sipkit run $name ($(tail -1 "$tmp/out"))"
  else
    fail "sipkit run $name:"; sed 's/^/     /' "$tmp/out"
  fi
  if timeout "$limit" "$lua_bin" "$t" > "$tmp/out" 2>&1; then
    pass "$lua_bin $name ($(tail -1 "$tmp/out"))"
  else
    fail "$lua_bin $name:"; sed 's/^/     /' "$tmp/out"
  fi
done

# -- 2. the runner --------------------------------------------------------------
# expect_run STATUS LABEL ARGS... : run `sipkit run ARGS`, check the status;
# stdout in $tmp/o, stderr in $tmp/e.
expect_run() {
  local want=$1 label=$2 got
  shift 2
  (cd "$tmp" && timeout "$limit" "$sipkit" run "$@" > "$tmp/o" 2> "$tmp/e")
  got=$?
  if [ "$got" = "$want" ]; then pass "runner: $label (exit $got)"; return 0; fi
  fail "runner: $label: exit $got, want $want"; sed 's/^/     /' "$tmp/e"
  return 1
}
# has FILE TEXT LABEL: FILE contains TEXT (fixed string)
has() {
  if grep -qF -- "$2" "$1"; then pass "runner: $3"; else
    fail "runner: $3: no '$2' in:"; sed 's/^/     /' "$1"; fi
}

cat > "$tmp/args.lua" <<'LUA'
local sipkit = require "sipkit"
print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
print(arg[-1])
sipkit.sleep(0.01)  -- the script is the main task: it may wait at top level
print("slept", sipkit.running())
LUA
expect_run 0 "script returns" args.lua one "two words" &&
  { [ "$(cat "$tmp/o")" = "$(printf 'args.lua\tone\ttwo words\t2\t2\tone\ttwo words\nsipkit run\nslept\ttrue')" ] &&
      pass "runner: arg and ... as under lua5.4" ||
      { fail "runner: arg and ...:"; sed 's/^/     /' "$tmp/o"; }; }

cat > "$tmp/boom.lua" <<'LUA'
local function inner() error("boom here") end
local function outer() inner() end
outer()
LUA
expect_run 1 "error in the script" boom.lua
has "$tmp/e" "sipkit: boom.lua:1: boom here" "error message with file:line"
has "$tmp/e" "stack traceback:" "error with a traceback"
has "$tmp/e" "in local 'outer'" "traceback names the caller"

cat > "$tmp/taskboom.lua" <<'LUA'
local sipkit = require "sipkit"
sipkit.spawn(function() sipkit.sleep(0.01) error({}) end)
sipkit.sleep(1)
print("not reached")
LUA
expect_run 1 "error in a spawned task ends the run" taskboom.lua
has "$tmp/e" "taskboom.lua:2" "task error names its line"
[ -s "$tmp/o" ] && fail "runner: nothing after a task error" || pass "runner: nothing after a task error"

cat > "$tmp/errobj.lua" <<'LUA'
local sipkit = require "sipkit"
assert(sipkit.parse("garbage"))
LUA
expect_run 1 "assert on a sipkit error" errobj.lua
has "$tmp/e" "sipkit: error HEADERS_END at 7 (1:8)" "a sipkit error prints its message"

printf 'local x = = 1\n' > "$tmp/syntax.lua"
expect_run 1 "syntax error" syntax.lua
has "$tmp/e" "syntax.lua:1:" "syntax error names the line"

printf 'os.exit(3)\n' > "$tmp/exit3.lua"
expect_run 3 "os.exit(3)" exit3.lua

cat > "$tmp/deadlock.lua" <<'LUA'
require("sipkit").mailbox():get()
LUA
expect_run 1 "deadlock is an error, not a hang" deadlock.lua
has "$tmp/e" "deadlock" "deadlock message"

expect_run 2 "no script" 
has "$tmp/e" "no script given" "no script message"
expect_run 2 "unknown option" --frobnicate x.lua
has "$tmp/e" "unknown option '--frobnicate'" "unknown option message"
expect_run 2 "missing script" does-not-exist.lua
has "$tmp/e" "does-not-exist.lua: No such file or directory" "missing script message"
expect_run 0 "--help" --help
has "$tmp/o" "usage: sipkit run [OPTIONS] SCRIPT.lua [ARGS...]" "--help shows the usage"
has "$tmp/o" "Exit status: 0" "--help documents the exit status"
"$sipkit" --help > "$tmp/o" 2>&1
has "$tmp/o" "run     [OPTIONS] SCRIPT.lua [ARGS...]" "sipkit --help lists run"

# the module never leaks globals into the script's environment
cat > "$tmp/globals.lua" <<'LUA'
local before = {}
for k in pairs(_G) do before[k] = true end
local sipkit = require "sipkit"
sipkit.sleep(0.001)
for k in pairs(_G) do if not before[k] then error("global leaked: " .. k) end end
LUA
expect_run 0 "no global leaks" globals.lua
(cd "$tmp" && timeout "$limit" "$lua_bin" globals.lua > /dev/null 2> "$tmp/e") &&
  pass "$lua_bin: no global leaks" || { fail "$lua_bin: global leak"; sed 's/^/     /' "$tmp/e"; }

# lua/lsipkit.c is the only C file that includes Lua's headers
others=$(cd "$root" && grep -lE '#[[:space:]]*include[[:space:]]*[<"](lua|lauxlib|lualib)\.h' \
  $(find src gen fuzz tests lua -name '*.[ch]' 2>/dev/null) | grep -vx 'lua/lsipkit.c')
[ -z "$others" ] && pass "only lua/lsipkit.c includes lua.h" || fail "lua.h included by: $others"

# -- 3. loopback tests ------------------------------------------------------------
for t in "$here"/loop_*.sh; do
  [ -e "$t" ] || continue
  if SIPKIT="$sipkit" LUA_BIN="$lua_bin" ROOT="$root" timeout 120 bash "$t" > "$tmp/out" 2>&1; then
    pass "$(basename "$t")"
  else
    fail "$(basename "$t"):"; sed 's/^/     /' "$tmp/out"
  fi
done

if [ "$fails" -ne 0 ]; then echo "lua-tests: $fails failure(s)"; exit 1; fi
echo "lua-tests: all passed"
