#!/usr/bin/env bash
# fuzz_long.sh - every libFuzzer target (BUILD_DIR/fuzz_*, built from every
# tests/fuzz/fuzz_*.c) to FUZZ_LONG_RUNS executions (10 million) or
# FUZZ_LONG_SECONDS per target (3600), whichever comes first, on a copy of its
# committed corpus with its dictionary (tests/fuzz/dict/<target>.dict). New
# inputs that found coverage are kept in FUZZ_LONG_OUT/<target>/ (not in the
# repository) so a later run continues from them. Prints one line per target
# and a markdown table (also written to FUZZ_LONG_OUT/report.md). Fails if any
# target crashed, leaked or timed out; the reproducer is kept in FUZZ_LONG_OUT.
#
#   scripts/fuzz_long.sh BUILD_DIR        (make fuzz-long)
#   FUZZ_LONG_SECONDS=300 FUZZ_LONG_JOBS=1 nice scripts/fuzz_long.sh build-fuzz
set -uo pipefail
build=${1:?usage: fuzz_long.sh BUILD_DIR}
runs=${FUZZ_LONG_RUNS:-10000000}
seconds=${FUZZ_LONG_SECONDS:-3600}
out=${FUZZ_LONG_OUT:-$build/fuzz-long}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
report=$out/report.md
printf '| target | executions | exec/s | seconds | coverage | corpus | result |\n|---|--:|--:|--:|--:|--:|---|\n' >"$report"
status=0
for f in "$build"/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    work=$out/$name
    mkdir -p "$work" "$out/artifacts-$name"
    for c in "$root/tests/fuzz/corpus/$name" "$root/tests/fuzz/corpus/${name#fuzz_}"; do
        [ -d "$c" ] && cp -rn "$c/." "$work/"
    done
    dict=()
    [ -f "$root/tests/fuzz/dict/$name.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$name.dict")
    log=$out/$name.log
    t0=$(date +%s)
    "$f" -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts-$name/" "${dict[@]}" "$work" \
        >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - t0))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    result=ok
    if [ $rc -ne 0 ]; then
        result="FAILED (see $log)"
        status=1
    fi
    line="| $name | ${execs:-?} | ${rate:-?} | $took | ${cov:-?} | $(ls "$work" | wc -l) | $result |"
    echo "$line" >>"$report"
    echo "fuzz-long: $name: ${execs:-?} executions in ${took}s (${rate:-?}/s), cov ${cov:-?}: $result"
    [ $rc -eq 0 ] || tail -n 30 "$log" >&2
done
echo
cat "$report"
exit $status
