#!/bin/sh
# callgrind.sh - instructions per message for each parser, from valgrind.
#
#   tests/bench/callgrind.sh BENCH_BIN [CORPUS_DIR] [PARSER ...]
#
# For each parser (default: sipkit sofia osip) run the bench binary twice
# under `valgrind --tool=callgrind`, with --iters 1 and --iters N+1 (one
# round each), and print
#
#     (Ir(N+1 iterations) - Ir(1 iteration)) / (N * messages)
#
# so process start-up, corpus loading, parser initialisation and the
# verification pass cancel out.  Ir counts are exact, so the figure does not
# depend on machine load.  No network is used.  Exits non-zero when valgrind
# is missing, a run fails, or a count cannot be read.
set -eu

N=${BENCH_CALLGRIND_N:-100}

if [ $# -lt 1 ]; then
  echo "usage: $0 BENCH_BIN [CORPUS_DIR] [PARSER ...]" >&2
  exit 2
fi
bin=$1
shift
corpus=tests/bench/corpus
if [ $# -gt 0 ] && [ -d "$1" ]; then
  corpus=$1
  shift
fi
parsers=${*:-sipkit sofia osip}

if ! command -v valgrind >/dev/null 2>&1; then
  echo "callgrind.sh: valgrind not found (apt-get install -y valgrind)" >&2
  exit 1
fi
[ -x "$bin" ] || { echo "callgrind.sh: $bin is not executable" >&2; exit 1; }
[ -f "$corpus/expected.tsv" ] || { echo "callgrind.sh: no $corpus/expected.tsv" >&2; exit 1; }

# Messages per iteration: data rows of expected.tsv (same rule as bench_main.c).
msgs=$(awk 'NR > 1 && $0 != "" && substr($0, 1, 1) != "#" { n++ } END { print n + 0 }' \
  "$corpus/expected.tsv")
[ "$msgs" -gt 0 ] || { echo "callgrind.sh: no messages in $corpus/expected.tsv" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# ir PARSER ITERS -> total instructions of one run
ir() {
  out="$tmp/cg.$1.$2"
  if ! valgrind --tool=callgrind --callgrind-out-file="$out" --dump-line=no \
      "$bin" --only "$1" --iters "$2" --rounds 1 "$corpus" >"$tmp/log" 2>&1; then
    echo "callgrind.sh: run failed: $bin --only $1 --iters $2" >&2
    cat "$tmp/log" >&2
    return 1
  fi
  v=$(awk '$1 == "totals:" || $1 == "summary:" { print $2; exit }' "$out")
  case $v in
    '' | *[!0-9]*)
      echo "callgrind.sh: no instruction count in $out" >&2
      return 1
      ;;
  esac
  echo "$v"
}

printf '%-10s %14s %14s %12s\n' parser "Ir(1 iter)" "Ir($((N + 1)) iters)" "instr/msg"
for p in $parsers; do
  a=$(ir "$p" 1)
  b=$(ir "$p" $((N + 1)))
  awk -v p="$p" -v a="$a" -v b="$b" -v n="$N" -v m="$msgs" 'BEGIN {
    if (b <= a) { printf "callgrind.sh: %s: Ir did not grow (%s -> %s)\n", p, a, b > "/dev/stderr"; exit 1 }
    printf "%-10s %14s %14s %12.0f\n", p, a, b, (b - a) / (n * m)
  }'
done
