#!/bin/sh
# Command-line tests of imm-ddpm: bad arguments and a missing or corrupt dataset must give a
# clear message and a non-zero exit status (2 for usage, 1 for data), never a crash.
# Usage: test_cli.sh IMM_DDPM WORK_DIR
set -u
prog=${1:?usage: test_cli.sh IMM_DDPM WORK_DIR}
work=${2:?usage: test_cli.sh IMM_DDPM WORK_DIR}
rm -rf "$work" && mkdir -p "$work" || exit 1
failures=0

# expect STATUS PATTERN ARGS...: runs the program, checks its exit status and that stderr
# matches PATTERN (a grep -E expression).
expect() {
    want=$1 pattern=$2
    shift 2
    "$prog" "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: imm-ddpm $*: exit $got, expected $want"
        cat "$work/err"
        failures=$((failures + 1))
    elif ! grep -E -q -e "$pattern" "$work/err"; then
        echo "FAIL: imm-ddpm $*: stderr does not match /$pattern/:"
        cat "$work/err"
        failures=$((failures + 1))
    else
        echo "ok: imm-ddpm $* -> exit $got: $(head -n 1 "$work/err")"
    fi
}

expect 2 "unrecognized option" --no-such-option
expect 2 "--noise: 'gaussian' is not one of" --noise gaussian
expect 2 "--solver: 'hungarian' is not one of" --solver hungarian
expect 2 "--precision: 'fp64' is not one of" --precision fp64
expect 2 "--steps: 'ten' is not an integer" --steps ten
expect 2 "--batch: '0' is not an integer in 1" --batch 0
expect 2 "--k: '-3' is not an integer" --noise knn --k -3
expect 2 "--lr: 'nan' is not a number" --lr nan
expect 2 "requires an argument" --steps
expect 2 "unexpected argument 'extra'" --quick extra
expect 2 "exclude each other" --synthetic --data /tmp
expect 2 "--seeds: '0' is not an integer in 1..100" --compare --seeds 0
expect 2 "--seeds: '101' is not an integer in 1..100" --seeds 101
expect 2 "must not exceed 2147483647" --seed 2147483647 --seeds 2

# Missing and corrupt datasets.
expect 1 "cannot load Fashion-MNIST: .*cannot open" --quick --data "$work/no-such-dir" \
    --out "$work/o"
mkdir -p "$work/corrupt"
printf 'this is not an IDX file, nor gzip' >"$work/corrupt/train-images-idx3-ubyte.gz"
expect 1 "cannot load Fashion-MNIST: .*not an IDX image file" --quick --data "$work/corrupt" \
    --out "$work/o"
expect 1 "exceeds the 100 training images" --quick --synthetic --train-limit 100 --batch 128 \
    --out "$work/o"

# --report on a missing, a malformed and an incomplete CSV.
expect 1 "cannot open .*no-such.csv" --report "$work/no-such.csv" --out "$work/o"
printf 'mode,k,seed,step,fd,final_loss,ms_per_step,assign_ms\nvanilla,1,1,10,x,1,1,1\n' \
    >"$work/bad.csv"
expect 1 "bad.csv:2: not a row of mode,k,seed" --report "$work/bad.csv" --out "$work/o"
{
    echo 'mode,k,seed,step,fd,final_loss,ms_per_step,assign_ms'
    echo 'vanilla,1,1,10,5,1,1,0'
    echo 'assign,1,1,10,5,1,1,1'
    echo 'assign,1,2,10,5,1,1,1'
} >"$work/part.csv"
expect 1 "no row for vanilla seed 2 step 10" --report "$work/part.csv" --out "$work/o"

# --help succeeds and documents the options.
if "$prog" --help | grep -q -- "--compare" && "$prog" --help | grep -q -- "--seeds N"; then
    echo "ok: --help"
else
    echo "FAIL: --help"
    failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "CLI tests passed"
