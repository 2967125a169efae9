#!/bin/sh
# A short end-to-end run of imm-ddpm --compare over 3 seeds: it must succeed, print progress lines
# naming the assignment cost in ms, the per-run table with every mode and seed, the summary with
# 95 % intervals, the paired differences, one verdict line per checkpoint and the steps-to-reach
# verdict, and write the CSV log, the per-seed CSV, the plot and valid PNG grids.
# Usage: test_quick.sh IMM_DDPM WORK_DIR [extra imm-ddpm arguments]
set -u
prog=${1:?usage: test_quick.sh IMM_DDPM WORK_DIR [ARGS]}
work=${2:?usage: test_quick.sh IMM_DDPM WORK_DIR [ARGS]}
shift 2
rm -rf "$work" && mkdir -p "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
is_png() { # the 8-byte PNG signature: \211 P N G \r \n \032 \n
    [ -s "$1" ] && [ "$(od -A n -t x1 -N 8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ]
}

echo "+ $prog --quick --compare --seeds 3 --out $work $*"
start=$(date +%s)
"$prog" --quick --compare --seeds 3 --out "$work" "$@" >"$work/stdout" 2>"$work/stderr"
status=$?
cat "$work/stdout" "$work/stderr"
echo "(ran in $(($(date +%s) - start)) s)"
[ "$status" -eq 0 ] || fail "exit status $status"

out="$work/stdout"
grep -E -q 'assign [0-9]+\.[0-9]+ ms' "$out" || fail "no 'assign N.NN ms' progress line"
for mode in vanilla assign knn; do
    for seed in 1 2 3; do
        grep -E -q "^$mode( k=[0-9]+)? +$seed +[0-9]" "$out" || fail "no per-run row: $mode $seed"
    done
    grep -E -q "^$mode( k=[0-9]+)? +[0-9.]+ \+- [0-9.]+ +[0-9.]+ \+- " "$out" ||
        fail "no time row for $mode"
    is_png "$work/samples-$mode.png" || fail "samples-$mode.png missing or not a PNG"
done
grep -q 't(0.975, df = 2) = 4.3027' "$out" || fail "no t quantile line"
grep -E -q '^ +[0-9]+ +[0-9.]+ \+- [0-9.]+ \[[0-9.]+, [0-9.]+\]' "$out" || fail "no FD interval row"
grep -E -q '^ +[0-9]+ +[-+][0-9.]+ \+- [0-9.]+ \[[-+][0-9.]+, [-+][0-9.]+\]' "$out" ||
    fail "no paired-difference row"
verdict='(faster|slower|no detectable difference at this budget)'
verdicts=$(grep -c -E "^verdict FD@[0-9]+: assign $verdict; knn k=4 $verdict\$" "$out")
[ "$verdicts" -eq 4 ] || fail "$verdicts verdict lines, expected 4 (one per checkpoint)"
grep -E -q "^verdict steps to reach vanilla's final FD: assign (faster|slower|no detec|not dec)" \
    "$out" || fail "no steps-to-reach verdict"
grep -E -q '^knn k=4 +[0-3]/3 ' "$out" || fail "no steps-to-reach row"

grep -q '^mode,seed,step,loss,ms_per_step,assign_ms,fd$' "$work/log.csv" || fail "log.csv header"
grep -q '^mode,k,seed,step,fd,final_loss,ms_per_step,assign_ms$' "$work/compare.csv" ||
    fail "compare.csv header"
rows=$(grep -c -E '^(vanilla|assign|knn),[0-9]+,[1-3],[0-9]+,[0-9.]+,' "$work/compare.csv")
[ "$rows" -eq 36 ] || fail "compare.csv has $rows rows, expected 3 modes x 3 seeds x 4 checkpoints"
is_png "$work/compare-fd.png" || fail "compare-fd.png missing or not a PNG"
is_png "$work/compare-fd-paired.png" || fail "compare-fd-paired.png missing or not a PNG"
if grep -E -q '(nan|inf)' "$out"; then fail "non-finite value in the output"; fi

# --report: the same report and plots again from compare.csv alone (numbers stored exactly).
"$prog" --report "$work/compare.csv" --out "$work/report" >"$work/report.stdout" 2>&1 ||
    fail "--report exit status $?"
report_of() { sed -n '/^== Comparison/,/^$/p; /^Per run/,/share of the step/p' "$1"; }
report_of "$out" >"$work/report-a.txt"
report_of "$work/report.stdout" >"$work/report-b.txt"
diff -u "$work/report-a.txt" "$work/report-b.txt" || fail "--report prints another report"
is_png "$work/report/compare-fd-paired.png" || fail "--report wrote no paired plot"
echo "quick run passed"
