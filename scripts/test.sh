#!/bin/bash
# Runs the whole test suite: installs the Debian packages (no release build), builds every product in
# debug (pier and pier-shim, which the integration tests start), then `swift test`.
# Extra arguments go to `swift test`, e.g. `scripts/test.sh --filter PierOCITests`.
# `--long` also runs every fuzz target for 60 s after the suite (scripts/fuzz.sh 60); not in CI.
# Exits with swift test's exit code. Integration tests start runc, mounts and network namespaces: run as root.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

long=0
args=()
for a in "$@"; do
    if [[ $a == --long ]]; then long=1; else args+=("$a"); fi
done
set -- "${args[@]}"

"$root/scripts/setup.sh" --no-build || exit $?

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi
command -v swift >/dev/null 2>&1 || { echo "test: swift not found on PATH nor at /opt/swift/usr/bin" >&2; exit 1; }

echo "test: scripts/check-openapi.py (docs/openapi.yaml against the manager's routes)"
python3 "$root/scripts/check-openapi.py" || exit $?

# The benchmarks' own parsing and statistics (no root, no daemons): bench/test_*.py. Only with the whole
# suite, not when a --filter picks some Swift tests.
if [[ $# -eq 0 ]]; then
    echo "test: python3 -m unittest bench/test_*.py"
    python3 -m unittest discover -s "$root/bench" -p 'test_*.py' || exit $?
fi

echo "test: swift build (debug, all products)"
swift build || exit $?

# Tests that need root or a tool fail here when it is missing (a plain `swift test` skips them).
export PIER_REQUIRE_ALL=1

log=$(mktemp /tmp/pier-swift-test.XXXXXX)
trap 'rm -f "$log"' EXIT
# One test at a time: many tests start daemons, runc and CoAP peers and wait on them with
# deadlines, and several block a thread while they do. Run side by side on 2 cores they starve
# Swift's cooperative pool (as wide as the core count) and miss those deadlines. Serially the
# suite takes about 4 minutes here, against 3 in parallel.
echo "test: swift test --no-parallel $*"
swift test --no-parallel "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# Repeat the runners' closing lines so they end the output: XCTest's totals, then Swift Testing's.
echo
echo "== swift test summary (exit code $rc) =="
grep -E 'Executed [1-9][0-9]* tests?, with' "$log" | tail -n 1
grep -E 'Test run with [0-9]+ tests?' "$log" | tail -n 1

if [[ $long -eq 1 ]]; then
    echo
    echo "test: --long: scripts/fuzz.sh 60 (every fuzz target for 60 s)"
    "$root/scripts/fuzz.sh" 60 || rc=1
fi
exit "$rc"
