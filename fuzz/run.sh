#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each one for a bounded time on a
# copy of the committed seed corpus, so the repository is never modified.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [BUILD_DIR]     (defaults: 30, build-fuzz)
#   FUZZ_TARGETS="fuzz_lap fuzz_certify" fuzz/run.sh 60
#
# Exits non-zero if any target finds a crash (contract violation, sanitizer report, timeout);
# the reproducers are copied to fuzz/crashes/ (git-ignored) and listed at the end.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-30}
build=${2:-build-fuzz}
targets=${FUZZ_TARGETS:-fuzz_lap fuzz_lap_large fuzz_certify fuzz_distance fuzz_assign}
jobs=${FUZZ_BUILD_JOBS:-2}

# FUZZ_CFLAGS: extra compile flags (e.g. -fsanitize-ignorelist=FILE while a known bug is fixed).
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DIMM_BUILD_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=${FUZZ_CFLAGS:-}" >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" -j"$jobs" --target $targets

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

work=$(mktemp -d "${TMPDIR:-/tmp}/imm-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz/crashes
failed=()
for t in $targets; do
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    cp fuzz/corpus/"$t"/* "$work/$t/corpus/" 2>/dev/null || true
    printf '\n==== %s: %ss ====\n' "$t" "$seconds"
    start=$SECONDS
    # -timeout: one input taking longer than 20 s is reported as a hang (a crash).
    if "$build/fuzz/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" \
        >"$work/$t/log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|Done)' "$work/$t/log" || true
        echo "$t: OK after $((SECONDS - start))s"
    else
        grep -A12 -E 'CONTRACT VIOLATION|ERROR: (Address|Undefined|libFuzzer)|runtime error' \
            "$work/$t/log" | grep -v '^    #' | head -40 || tail -n 40 "$work/$t/log"
        for a in "$work/$t/artifacts"/*; do
            [ -e "$a" ] || continue
            cp "$a" "fuzz/crashes/$t-$(basename "$a")"
            echo "reproducer: fuzz/crashes/$t-$(basename "$a")  (run: $build/fuzz/$t fuzz/crashes/$t-$(basename "$a"))"
        done
        echo "$t: FAILED after $((SECONDS - start))s"
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]}"
    exit 1
fi
echo "fuzzing: no crash in $targets"
