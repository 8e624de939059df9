#!/usr/bin/env bash
# tests/install/run.sh - install sipkit into a temporary prefix and use it the
# way a user would.  Run from anywhere; `make install-test` runs it.
#
#   1. README.md's "## A C example" block is exactly tests/install/example.c
#   2. make install PREFIX=<tmp>
#   3. the example compiles with pkg-config, statically and with an rpath,
#      and prints exactly the Call-ID of its message
#   4. libsipkit.so exports only sipkit_* symbols
#   5. the installed sipkit --version and pkg-config --modversion match
#      SIPKIT_VERSION
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
MAKE=${MAKE:-make}
CC=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipkit-install.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# -- 1. README example == example.c -----------------------------------------
# The first ```c block after the heading "## A C example" and before the next
# "## " heading.
awk '
  /^## / { in_sec = ($0 == "## A C example"); next }
  in_sec && !done && /^```c[ \t]*$/ { grab = 1; next }
  grab && /^```[ \t]*$/ { grab = 0; done = 1; next }
  grab { print }
  END { exit done ? 0 : 1 }
' "$root/README.md" > "$tmp/readme_example.c"
if [ $? -ne 0 ]; then
  fail "README.md has a \`\`\`c block under '## A C example'"
elif diff -u "$here/example.c" "$tmp/readme_example.c" > "$tmp/diff"; then
  pass "README example is tests/install/example.c"
else
  fail "README example differs from tests/install/example.c:"
  sed 's/^/     /' "$tmp/diff"
fi

# -- 2. install ----------------------------------------------------------------
prefix="$tmp/prefix"
if $MAKE -C "$root" --no-print-directory install PREFIX="$prefix" > "$tmp/install.log" 2>&1; then
  pass "make install PREFIX=<tmp>"
else
  fail "make install PREFIX=<tmp>:"
  tail -20 "$tmp/install.log" | sed 's/^/     /'
  echo "install-test: $fails failure(s)"
  exit 1
fi
for f in include/sipkit.h include/sipkit_hdr_ids.h lib/libsipkit.a lib/libsipkit.so.0 \
         lib/libsipkit.so bin/sipkit lib/pkgconfig/sipkit.pc; do
  [ -e "$prefix/$f" ] || fail "installed $f"
done

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
version=$(sed -n 's/^#define SIPKIT_VERSION "\(.*\)"/\1/p' "$root/src/sipkit.h")

# -- 3. compile and run the example --------------------------------------------
expected_callid='a84b4c76e66710@pc33.atlanta.example.com'
grep -qF "Call-ID: $expected_callid\\r\\n" "$here/example.c" ||
  fail "example.c carries the Call-ID $expected_callid"

if ! cflags=$(pkg-config --cflags sipkit) || ! libs=$(pkg-config --libs sipkit); then
  fail "pkg-config finds sipkit"
else
  pass "pkg-config finds sipkit ($cflags $libs)"
  # Shared, found at run time through the rpath.
  # shellcheck disable=SC2086
  if $CC -std=c99 -Wall -Wextra -Werror -o "$tmp/example_shared" "$here/example.c" \
       $cflags $libs -Wl,-rpath,"$prefix/lib" 2> "$tmp/cc.log"; then
    out=$("$tmp/example_shared" 2>&1)
    if [ "$out" = "$expected_callid" ]; then
      pass "example (shared, rpath) prints the Call-ID"
    else
      fail "example (shared, rpath): expected '$expected_callid', got '$out'"
    fi
    # ldd's whole output first: grep -q would stop reading early, and under
    # pipefail the SIGPIPE ldd may then get fails the check at random.
    deps=$(ldd "$tmp/example_shared")
    if [[ "$deps" == *"$prefix/lib/libsipkit.so.0"* ]]; then
      pass "example (shared) loads the installed libsipkit.so.0"
    else
      fail "example (shared) loads the installed libsipkit.so.0:"
      ldd "$tmp/example_shared" | sed 's/^/     /'
    fi
  else
    fail "example compiles (shared):"; sed 's/^/     /' "$tmp/cc.log"
  fi
  # Static: the archive named explicitly, so the .so is not preferred, and
  # what it needs in turn from pkg-config --static (libcrypto).
  static_deps=$(pkg-config --static --libs sipkit | tr ' ' '\n' | grep -v -e '^-lsipkit$' -e '^-L' | tr '\n' ' ')
  # shellcheck disable=SC2086
  if $CC -std=c99 -Wall -Wextra -Werror -o "$tmp/example_static" "$here/example.c" \
       $cflags "$prefix/lib/libsipkit.a" $static_deps 2> "$tmp/cc.log"; then
    out=$("$tmp/example_static" 2>&1)
    if [ "$out" = "$expected_callid" ]; then
      pass "example (static) prints the Call-ID"
    else
      fail "example (static): expected '$expected_callid', got '$out'"
    fi
  else
    fail "example compiles (static):"; sed 's/^/     /' "$tmp/cc.log"
  fi
  mv=$(pkg-config --modversion sipkit)
  if [ "$mv" = "$version" ]; then
    pass "pkg-config --modversion is $version"
  else
    fail "pkg-config --modversion: expected '$version', got '$mv'"
  fi
fi

# -- 4. exported symbols ---------------------------------------------------------
syms=$(nm -D --defined-only "$prefix/lib/libsipkit.so.0" | awk 'NF >= 3 { print $3 }')
bad=$(printf '%s\n' "$syms" | grep -v '^sipkit_' | grep -v '^$')
if [ -z "$syms" ]; then
  fail "libsipkit.so exports symbols (none found)"
elif [ -n "$bad" ]; then
  fail "libsipkit.so exports only sipkit_* symbols; also exported:"
  printf '%s\n' "$bad" | sed 's/^/     /'
else
  pass "libsipkit.so exports only sipkit_* ($(printf '%s\n' "$syms" | wc -l) symbols)"
fi
soname=$(objdump -p "$prefix/lib/libsipkit.so.0" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = "libsipkit.so.0" ] && pass "SONAME is libsipkit.so.0" ||
  fail "SONAME: expected libsipkit.so.0, got '$soname'"

# -- 5. installed CLI --------------------------------------------------------------
out=$("$prefix/bin/sipkit" --version 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "sipkit $version" ]; then
  pass "installed sipkit --version prints 'sipkit $version'"
else
  fail "installed sipkit --version: exit $rc, output '$out'"
fi

if [ $fails -ne 0 ]; then
  echo "install-test: $fails failure(s)"
  exit 1
fi
echo "install-test: all passed"
