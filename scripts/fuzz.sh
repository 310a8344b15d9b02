#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each on a copy of its
# committed seed corpus (tests/fuzz/corpus/<target>/), so CI runs do not grow
# the repository. Fails on the first crash, leak or timeout, leaving the
# reproducer in the working directory.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: fuzz.sh BUILD_DIR SECONDS}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for f in "$build"/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    work=$(mktemp -d)
    for c in "$root/tests/fuzz/corpus/$name" "$root/tests/fuzz/corpus/${name#fuzz_}"; do
        [ -d "$c" ] && cp -r "$c/." "$work/"
    done
    echo "fuzz: $name for ${seconds}s ($(ls "$work" | wc -l) seeds)"
    dict=()
    [ -f "$root/tests/fuzz/dict/$name.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$name.dict")
    if ! "$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            "${dict[@]}" "$work" >"$work.log" 2>&1; then
        echo "fuzz: $name FAILED" >&2
        tail -n 40 "$work.log" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|cov:" "$work.log" | tail -n 2 || true
    fi
    rm -rf "$work" "$work.log"
done
exit $status
