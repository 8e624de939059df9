#!/bin/sh
# gen/tests/run.sh -- tests of gen/abnf2rl: error cases (exit status and exact message),
# golden outputs (byte for byte), determinism, and (if ragel is installed) that the
# golden Ragel output compiles.  Run from anywhere; uses repo-relative paths so the
# command lines stamped into the outputs match the golden files.
#   sh gen/tests/run.sh            run the tests
#   sh gen/tests/run.sh --update   rewrite the golden files from the current generator
set -u
cd "$(dirname "$0")/../.." || exit 1
G=${ABNF2RL:-gen/abnf2rl}   # e.g. ABNF2RL=build/abnf2rl sh gen/tests/run.sh
[ -x "$G" ] || [ ! -x build/abnf2rl ] || G=build/abnf2rl
T=gen/tests
OUT=$(mktemp -d "${TMPDIR:-/tmp}/abnf2rl-test.XXXXXX") || exit 1
trap 'rm -rf "$OUT"' EXIT
pass=0
fail=0

if [ ! -x "$G" ]; then
    echo "run.sh: $G not built (gcc -std=c99 -O2 -Wall -Wextra -Werror -o gen/abnf2rl gen/abnf2rl.c, or set ABNF2RL)" >&2
    exit 1
fi

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_err NAME "expected stderr substring" -- command...
expect_err() {
    name=$1 msg=$2
    shift 2
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    rc=$?
    if [ "$rc" -ne 1 ]; then
        bad "$name: exit status $rc, expected 1"
    elif ! grep -qF -- "$msg" "$OUT/$name.err"; then
        bad "$name: message not found: $msg"
        sed 's/^/    | /' "$OUT/$name.err"
    elif [ -e "$OUT/$name.rl" ] || [ -e "$OUT/$name.rl.tmp" ]; then
        bad "$name: output written despite the error"
    else
        ok
    fi
}

R="$G rules -o"
expect_err undefined   "gen/tests/err_undefined.abnf:2: undefined rule 'b' referenced in rule 'a'" \
    $R "$OUT/undefined.rl" grammar/core.abnf $T/err_undefined.abnf
expect_err duplicate   "gen/tests/err_duplicate.abnf:4: duplicate definition of rule 'FOO' (first defined at gen/tests/err_duplicate.abnf:2)" \
    $R "$OUT/duplicate.rl" $T/err_duplicate.abnf
expect_err unbalanced  "gen/tests/err_unbalanced.abnf:2: unbalanced '(' in rule 'a' (not closed before the rule ends)" \
    $R "$OUT/unbalanced.rl" $T/err_unbalanced.abnf
expect_err mismatched  "gen/tests/err_mismatched.abnf:2: unbalanced brackets in rule 'a': '[' opened at line 2 closed by ')'" \
    $R "$OUT/mismatched.rl" $T/err_mismatched.abnf
expect_err prose       "gen/tests/err_prose.abnf:2: prose value <some prose text> in rule 'a' cannot be translated; replace the rule in the overlay" \
    $R "$OUT/prose.rl" $T/err_prose.abnf
expect_err cycle       "gen/tests/err_cycle.abnf:2: cycle between rules: a -> b -> a (only self-recursion can be unrolled)" \
    $R "$OUT/cycle.rl" $T/err_cycle.abnf
expect_err selfrec     "gen/tests/err_selfrec.abnf:2: recursive rule 'c' (cycle: c -> c); use --unroll c=N or replace it in the overlay" \
    $R "$OUT/selfrec.rl" $T/err_selfrec.abnf
expect_err syntax      "gen/tests/err_syntax.abnf:2: bad syntax: '=' or '=/' expected after rule name 'a'" \
    $R "$OUT/syntax.rl" $T/err_syntax.abnf
expect_err incremental "gen/tests/err_incremental.abnf:2: incremental alternative 'a =/' for a rule that is not defined before" \
    $R "$OUT/incremental.rl" $T/err_incremental.abnf
expect_err unroll_nonrec "--unroll ALPHA=2: rule 'ALPHA' is not self-recursive" \
    $R "$OUT/unroll_nonrec.rl" --unroll ALPHA=2 grammar/core.abnf

H="$G headers -t"
expect_err dup_compact "gen/tests/err_dup_compact.tsv:3: duplicate compact form 'v' of 'Version' (already the compact form of 'Via', line 2)" \
    $H $T/err_dup_compact.tsv --ids "$OUT/dup_compact.h"
expect_err compact_is_name "gen/tests/err_compact_is_name.tsv:4: compact form 'y' of 'Session-Expires' equals the name of header 'Y' (line 3)" \
    $H $T/err_compact_is_name.tsv --ids "$OUT/compact_is_name.h"
expect_err dup_name    "gen/tests/err_dup_name.tsv:3: duplicate header name 'call-id' (first at line 2)" \
    $H $T/err_dup_name.tsv --ids "$OUT/dup_name.h"
expect_err malformed   "gen/tests/err_malformed.tsv:2: malformed row: 5 tab-separated columns, expected 6" \
    $H $T/err_malformed.tsv --ids "$OUT/malformed.h"
expect_err mode        "gen/tests/err_mode.tsv:2: malformed row: mode 'sometimes' must be eager or lazy" \
    $H $T/err_mode.tsv --ids "$OUT/mode.h"

printf 'digraph x {\n}\n' >"$OUT/empty.dot"
expect_err skips_empty "$OUT/empty.dot: no transitions" \
    $G skips --dot "$OUT/empty.dot" --name x --action skip -o "$OUT/skips_empty.rl"

# ---- golden outputs (the command lines below are stamped into the files) ----
gen_golden() { # $1 = output directory
    $G rules -o "$1/golden.rl" --unroll nest=2 --overlay $T/golden_overlay.rl grammar/core.abnf $T/golden.abnf &&
    $G headers -t $T/golden.hdr.tsv --ids "$1/golden_ids.h" --table "$1/golden_table.c" \
        --names "$1/golden_hnames.rl" --dict "$1/golden.dict" &&
    $G skips --dot $T/golden_skips.dot --name golden --action skip -o "$1/golden_skip.h"
}
FILES="golden.rl golden_ids.h golden_table.h golden_table.c golden_hnames.rl golden.dict golden_skip.h"
if [ "${1:-}" = "--update" ]; then
    mkdir -p $T/expected && gen_golden $T/expected || exit 1
    for f in $FILES; do sed -i "s|Command: $G |Command: gen/abnf2rl |" "$T/expected/$f"; done
    echo "golden files updated in $T/expected"
    exit 0
fi
# Generate into a temp dir; the stamped command then names that dir, so map it back
# to gen/tests/expected before comparing.
mkdir -p "$OUT/g"
if gen_golden "$OUT/g"; then
    for f in $FILES; do
        sed -e "s|$OUT/g/|$T/expected/|g" -e "s|Command: $G |Command: gen/abnf2rl |" "$OUT/g/$f" >"$OUT/g/$f.cmp"
        if cmp -s "$T/expected/$f" "$OUT/g/$f.cmp"; then ok; else
            bad "golden $f differs:"; diff -u "$T/expected/$f" "$OUT/g/$f.cmp" | head -20
        fi
    done
    # determinism: a second run gives the same bytes, and no .tmp files are left
    mkdir -p "$OUT/g2"
    gen_golden "$OUT/g2"
    for f in $FILES; do
        sed -e "s|$OUT/g2/|$T/expected/|g" -e "s|Command: $G |Command: gen/abnf2rl |" "$OUT/g2/$f" | cmp -s - "$OUT/g/$f.cmp" || bad "non-deterministic $f"
    done
    if ls "$OUT/g" "$OUT/g2" | grep -q '\.tmp$'; then bad "temporary files left"; else ok; fi
else
    bad "golden generation failed"
fi

# ---- the golden Ragel output compiles ----
if command -v ragel >/dev/null 2>&1; then
    cat >"$OUT/gold_main.rl" <<RL
%%{
  machine gold;
  alphtype unsigned char;
  action mark { }
  action done { }
  include sip_rules "$PWD/$T/expected/golden.rl";
  main := greeting | digits | caps | high | From | nest | prosaic | uses_ovl;
}%%
%% write data;
RL
    if ragel -C "$OUT/gold_main.rl" -o "$OUT/gold_main.c" 2>"$OUT/ragel.err"; then ok; else
        bad "ragel rejects golden.rl"; cat "$OUT/ragel.err"; fi
    cat >"$OUT/hn_main.rl" <<RL
%%{
  machine hn;
  alphtype unsigned char;
  include sip_hnames "$PWD/$T/expected/golden_hnames.rl";
  token = ( alnum | [\-.!%*_+\`'~] )+;
  main := known_header_name ":" | ( token - known_header_name_plain ) ":";
}%%
%% write data;
RL
    if ragel -C "$OUT/hn_main.rl" -o "$OUT/hn_main.c" 2>"$OUT/ragel2.err"; then ok; else
        bad "ragel rejects golden_hnames.rl"; cat "$OUT/ragel2.err"; fi
else
    echo "note: ragel not installed, compile checks skipped"
fi

echo "abnf2rl tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
