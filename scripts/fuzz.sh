#!/bin/bash
# Builds the libFuzzer targets in Fuzz/ (fuzzer and address sanitizers) and runs each for a
# bounded time, then prints a table: executions, executions per second, coverage (libFuzzer's
# cov: edges and ft: features) and crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]    # default 60 s per target, every target
#
# Seeds are Fuzz/Corpus/<target>/ and field names Fuzz/Dictionaries/<target>.dict (checked in);
# what a run learns goes to Fuzz/.build/corpus/<target>/ and is reused by the next run. A crash,
# leak, timeout or out-of-memory input is written to Fuzz/Crashers/<target>/, where the suite
# (PierFuzzReplayTests) replays it on every run: fix the bug and commit the file.
# Exits 1 when any target crashed.
set -uo pipefail
# The whole script is one block, so bash reads it all before running: editing it during a long run is safe.
{

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz="$root/Fuzz"
seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
all=$(sed -n '/^let targets = \[/,/^\]/p' "$fuzz/Package.swift" | grep -o '"[a-z0-9-]*"' | tr -d '"')
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && mapfile -t targets <<<"$all"
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$all" || { echo "fuzz: unknown target $t; targets: $(echo $all)" >&2; exit 2; }
done

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

echo "fuzz: building the targets with -sanitize=fuzzer,address (Fuzz/.build)"
flags=(-c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
(cd "$fuzz" && swift build "${flags[@]}") || { echo "fuzz: the build failed" >&2; exit 1; }
bin=$(cd "$fuzz" && swift build "${flags[@]}" --show-bin-path)

logs=$(mktemp -d /tmp/pier-fuzz.XXXXXX)
trap 'rm -rf "$logs"' EXIT
# Leak checking is off: the Swift runtime keeps its metadata caches for the life of the process.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# libFuzzer's own handler records a trap; the Swift runtime's backtracer would race it, and its
# memory reader trips AddressSanitizer. Reproducing one input by hand gives the Swift backtrace.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
failed=0
rows=()
for t in "${targets[@]}"; do
    work="$fuzz/.build/corpus/$t"
    crashers="$fuzz/Crashers/$t"
    mkdir -p "$work" "$crashers" "$fuzz/Corpus/$t"
    before=$(ls "$crashers" | wc -l)
    echo "fuzz: $t for ${seconds}s"
    dict=()
    [[ -f $fuzz/Dictionaries/$t.dict ]] && dict=(-dict="$fuzz/Dictionaries/$t.dict")
    # The first directory receives new inputs; the checked-in seeds are only read.
    "$bin/fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -detect_leaks=0 "${dict[@]}" -artifact_prefix="$crashers/" "$work" "$fuzz/Corpus/$t" >"$logs/$t.log" 2>&1
    rc=$?
    after=$(ls "$crashers" | wc -l)
    crashes=$((after - before))
    [[ $rc -ne 0 || $crashes -gt 0 ]] && failed=1
    runs=$(grep -o 'stat::number_of_executed_units:[[:space:]]*[0-9]*' "$logs/$t.log" | tail -1 | awk '{print $2}')
    speed=$(grep -o 'stat::average_exec_per_sec:[[:space:]]*[0-9]*' "$logs/$t.log" | tail -1 | awk '{print $2}')
    last=$(grep -E '^#[0-9]+' "$logs/$t.log" | grep 'cov:' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | awk '{print $2}')
    if [[ $rc -ne 0 ]]; then
        echo "fuzz: $t stopped (exit $rc):"
        grep -E 'Fatal error|==ERROR|deadly signal|libFuzzer: (timeout|out-of-memory)|^ +#[0-9] 0x|Test unit written' "$logs/$t.log" | head -16
    fi
    rows+=("$(printf '%-16s %12s %8s %7s %8s %8s' "$t" "${runs:--}" "${speed:--}" "${cov:--}" "${ft:--}" "$crashes")")
done

echo
printf '%-16s %12s %8s %7s %8s %8s\n' target executions exec/s cov ft crashes
for r in "${rows[@]}"; do echo "$r"; done
[[ $failed -eq 0 ]] || echo "fuzz: crashes were written to Fuzz/Crashers/<target>/; replay with swift test --filter PierFuzzReplayTests"
exit "$failed"
}
