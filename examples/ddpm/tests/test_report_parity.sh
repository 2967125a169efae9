#!/bin/sh
# The report of a finished `imm-ddpm --compare` run (ddpm_quick's output) and the report that
# examples/pytorch/seedstats.py prints from its compare.csv must be the same text: the C and the
# Python statistics agree, and the CSV holds everything the report is made of.
# Usage: test_report_parity.sh PYTHON SEEDSTATS_PY QUICK_WORK_DIR
set -u
python=${1:?usage: test_report_parity.sh PYTHON SEEDSTATS_PY QUICK_WORK_DIR}
seedstats=${2:?usage}
work=${3:?usage}
if [ ! -s "$work/stdout" ] || [ ! -s "$work/compare.csv" ]; then
    echo "FAIL: no quick run in $work"
    exit 1
fi
# C: from the blank line before "== Comparison" to the line before the footer's "FD: Frechet".
awk '/^== Comparison/ { on = 1; print "" } /^FD: Frechet/ { on = 0 } on' "$work/stdout" |
    sed '$ { /^$/d; }' >"$work/report-c.txt"
if ! "$python" "$seedstats" "$work/compare.csv" >"$work/report-py.txt"; then
    echo "FAIL: seedstats.py"
    exit 1
fi
if ! diff -u "$work/report-c.txt" "$work/report-py.txt"; then
    echo "FAIL: the C and Python reports differ"
    exit 1
fi
echo "C and Python reports agree ($(wc -l <"$work/report-c.txt") lines)"
