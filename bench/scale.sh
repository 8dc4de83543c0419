#!/bin/sh
# Scale benchmark of the manager's reconcile pass (PRODUCT.md "manager scale": 1,000 nodes /
# 30,000 tasks scheduled, p99 <= 400 ms).
#
# How it builds: without a SwiftPM target of its own (Package.swift stays as it is), this script
# compiles PierAPI and PierCluster from Sources/ with `swiftc -O -wmo` into modules in
# bench/out/scale/, then links bench/scale/main.swift against them. Only public API is used, so
# this is the code the manager runs, built as `swift build -c release` builds it.
#
# What it prints: median, p99 and max of `Reconciler.reconcile` over PIER_BENCH_RUNS runs
# (default 30) for four passes: from empty (create + schedule every task), steady state with no
# change, after one node misses its heartbeats (its tasks rescheduled), and after one service's
# image changes (first batch of its rolling update). Snapshots are built outside the timing.
# The bench checks each plan (all tasks assigned, nothing to do at steady state, …) and exits 1
# if the reconciler does something else.
#
# Usage: bench/scale.sh            (from anywhere; env PIER_BENCH_NODES, PIER_BENCH_SERVICES,
#                                   PIER_BENCH_REPLICAS, PIER_BENCH_RUNS change the shape)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/out/scale"
mkdir -p "$out"
cd "$out"
flags="-O -wmo -parse-as-library -warnings-as-errors"
swiftc $flags -module-name PierAPI -emit-module -emit-module-path PierAPI.swiftmodule \
    -emit-object -o PierAPI.o "$root"/Sources/PierAPI/*.swift
swiftc $flags -module-name PierCluster -I . -emit-module -emit-module-path PierCluster.swiftmodule \
    -emit-object -o PierCluster.o $(find "$root/Sources/PierCluster" -name '*.swift' | sort)
swiftc -O -I . -o scale-bench "$root/bench/scale/main.swift" PierCluster.o PierAPI.o
./scale-bench
