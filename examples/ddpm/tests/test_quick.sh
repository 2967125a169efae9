#!/bin/sh
# A short end-to-end run of imm-ddpm: it must succeed, print the table with every mode asked for,
# progress lines naming the assignment cost in ms, and write a CSV log and valid PNG grids.
# Usage: test_quick.sh IMM_DDPM WORK_DIR [extra imm-ddpm arguments]
set -u
prog=${1:?usage: test_quick.sh IMM_DDPM WORK_DIR [ARGS]}
work=${2:?usage: test_quick.sh IMM_DDPM WORK_DIR [ARGS]}
shift 2
rm -rf "$work" && mkdir -p "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

echo "+ $prog --quick --compare --out $work $*"
"$prog" --quick --compare --out "$work" "$@" >"$work/stdout" 2>"$work/stderr"
status=$?
cat "$work/stdout" "$work/stderr"
[ "$status" -eq 0 ] || fail "exit status $status"

grep -E -q 'assign [0-9]+\.[0-9]+ ms' "$work/stdout" || fail "no 'assign N.NN ms' progress line"
for mode in vanilla assign knn; do
    grep -E -q "^$mode( k=[0-9]+)? +[0-9]" "$work/stdout" || fail "no table row for $mode"
    png="$work/samples-$mode.png"
    [ -s "$png" ] || fail "$png not written"
    # The 8-byte PNG signature: \211 P N G \r \n \032 \n
    sig=$(od -A n -t x1 -N 8 "$png" | tr -d ' \n')
    [ "$sig" = "89504e470d0a1a0a" ] || fail "$png is not a PNG (signature $sig)"
done
grep -q '^mode,step,loss,ms_per_step,assign_ms,fd$' "$work/log.csv" || fail "log.csv header"
rows=$(grep -c -E '^(vanilla|assign|knn),' "$work/log.csv")
[ "$rows" -ge 6 ] || fail "log.csv has only $rows rows"
if grep -E -q '(nan|inf)' "$work/stdout"; then fail "non-finite value in the output"; fi
echo "quick run passed"
