#!/usr/bin/env python3
"""Resident memory of the container engine with 10 idle containers (`sleep 3600` in busybox).

Pier:   the `pier agent` started here + every `pier-shim` of its containers.
Docker: the dockerd started here + its containerd + every containerd-shim* of its containers.
The containers' own processes are not counted on either side. Each stack is measured alone (the other
is not running), after the containers have been up for --settle seconds; RSS from /proc/PID/status,
PSS from /proc/PID/smaps_rollup (shared pages split between the processes that map them).
Target: Pier ≤ 0.2× Docker. With PIER_BASELINE=/path/to/an/earlier/pier, that build is measured the
same way after the current one (a change's cost, in one run). Raw numbers go to bench/out/memory.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_RATIO = 0.2
MiB = 1024 * 1024


def sample(named_pids: list[tuple[str, int]]) -> dict:
    procs = []
    for name, pid in named_pids:
        try:
            rss, pss = h.memory_of(pid)
        except OSError:
            continue
        procs.append({"name": name, "pid": pid, "rss": rss, "pss": pss})
    pss_known = all(p["pss"] is not None for p in procs)
    return {"processes": procs, "rss": sum(p["rss"] for p in procs),
            "pss": sum(p["pss"] for p in procs) if pss_known else None}


def measure(stack: str, pids_fn, settle: float, samples: int) -> dict:
    """Wait `settle` s, then take `samples` one second apart; keep the one with the median RSS."""
    time.sleep(settle)
    taken = []
    for i in range(samples):
        if i:
            time.sleep(1)
        taken.append(sample(pids_fn()))
    taken.sort(key=lambda s: s["rss"])
    chosen = taken[len(taken) // 2]
    chosen["stack"] = stack
    chosen["rss_samples"] = [s["rss"] for s in taken]
    return chosen


def count_running(lines: str) -> int:
    return len([x for x in lines.split() if x])


def run_pier(args, work_cleanups, rootfs, archive, binary=None) -> dict:
    pier = binary or h.pier_binary()
    agent = h.PierAgent(h.new_workdir("pier"), pier)
    work_cleanups.append(agent.cleanup)
    agent.start()
    agent.load_image(archive, rootfs, h.IMAGE_REF)
    network = [] if args.network == "default" else ["--network", args.network]
    for i in range(args.containers):
        agent.cli("run", "-d", "--name", f"pbmem-{i}", *network, h.IMAGE_REF, "sleep", "3600")
    running = count_running(agent.cli("ps", "-q").stdout.decode())
    if running != args.containers:
        raise h.BenchError(f"pier ps shows {running} running containers, expected {args.containers}")

    def pids():
        found = [("pier agent", agent.proc.pid)] if agent.proc else []
        return found + [("pier-shim", pid) for pid in agent.shim_pids()]

    result = measure("pier", pids, args.settle, args.samples)
    result["version"] = agent.version()
    shims = sum(1 for p in result["processes"] if p["name"] == "pier-shim")
    if shims != args.containers:
        h.warn(f"found {shims} pier-shim processes for {args.containers} containers")
    agent.cleanup()
    work_cleanups.remove(agent.cleanup)
    return result


def run_docker(args, work_cleanups, layer) -> dict:
    dockerd = h.Dockerd(h.new_workdir("dock"))
    work_cleanups.append(dockerd.cleanup)
    dockerd.start()
    dockerd.load_rootfs(layer, h.IMAGE_REF)
    network = [] if args.network == "default" else ["--network", args.network]
    for i in range(args.containers):
        dockerd.docker("run", "-d", "--name", f"pbmem-{i}", *network, h.IMAGE_REF, "sleep", "3600")
    running = count_running(dockerd.docker("ps", "-q").stdout.decode())
    if running != args.containers:
        raise h.BenchError(f"docker ps shows {running} running containers, expected {args.containers}")

    def pids():
        found = [("dockerd", dockerd.proc.pid)] if dockerd.proc else []
        found += [("containerd", pid) for pid in sorted(dockerd.containerd_pids) if h.pid_alive(pid)]
        return found + [("containerd-shim", pid) for pid in dockerd.shim_pids()]

    result = measure("docker", pids, args.settle, args.samples)
    result["version"] = dockerd.server_version()
    dockerd.cleanup()
    work_cleanups.remove(dockerd.cleanup)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--containers", type=int, default=10, help="idle containers per stack (default 10)")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait before measuring (default 5)")
    parser.add_argument("--samples", type=int, default=3, help="samples, one second apart (default 3)")
    parser.add_argument("--network", default="default", choices=["default", "bridge", "none", "host"],
                        help="network of the containers (default: each engine's default, bridge)")
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--no-pier", action="store_true")
    args = parser.parse_args()
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=not args.no_docker)

    info = h.host_info()
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    cleanups = []
    try:
        work = h.new_workdir("mem")
        cleanups.append(lambda: h.rmtree(work))
        rootfs = h.make_busybox_rootfs(work / "rootfs")
        layer = h.write_layer_tar(rootfs, work / "layer.tar")
        archive = work / "image.oci.tar"
        h.write_oci_archive(layer, archive, h.IMAGE_REF, ["sh"])
        if not args.no_docker:
            try:
                results["docker"] = run_docker(args, cleanups, layer)
            except h.BenchError as e:
                errors["docker"] = str(e)
                h.warn(f"docker: {e}")
        if not args.no_pier:
            try:
                results["pier"] = run_pier(args, cleanups, rootfs, archive)
            except h.BenchError as e:
                errors["pier"] = str(e)
                h.warn(f"pier: {e}")
            baseline = h.baseline_pier_binary()
            if baseline is not None:
                try:
                    results["pier (baseline)"] = run_pier(args, cleanups, rootfs, archive, binary=baseline)
                except h.BenchError as e:
                    errors["pier (baseline)"] = str(e)
                    h.warn(f"pier (baseline): {e}")
    finally:
        h.with_cleanup(cleanups)

    report(results, errors, info, args)
    return 0 if not errors else 1


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / MiB:.1f}"


def report(results: dict, errors: dict, info: dict, args) -> None:
    print()
    print(f"Resident memory, {args.containers} idle containers (busybox sleep 3600), network {args.network}")
    print(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; docker "
          f"{results.get('docker', {}).get('version', '-')}; pier {results.get('pier', {}).get('version', '-')} "
          f"(git {info.get('git') or '?'})")
    print()
    rows = []
    for stack in ("pier", "pier (baseline)", "docker"):
        if stack in errors:
            rows.append([stack, "-", "-", "-", "FAILED"])
            continue
        if stack not in results:
            continue
        r = results[stack]
        groups: dict[str, list] = {}
        for p in r["processes"]:
            groups.setdefault(p["name"], []).append(p)
        parts = ", ".join(f"{name} {len(ps)}×{mib(sum(p['rss'] for p in ps) // len(ps))}"
                          for name, ps in groups.items())
        rows.append([stack, len(r["processes"]), mib(r["rss"]), mib(r["pss"]), parts])
    print(h.table(["stack", "processes", "RSS MiB", "PSS MiB", "per process (count × mean RSS MiB)"], rows, left=(0, 4)))
    print()
    for stack, message in errors.items():
        print(f"{stack} FAILED: {message}")
    if "pier" in results and "docker" in results:
        p, d = results["pier"], results["docker"]
        ratio_rss = p["rss"] / d["rss"]
        line = f"pier / docker: RSS {ratio_rss:.3f}x"
        ratio_pss = None
        if p["pss"] is not None and d["pss"]:
            ratio_pss = p["pss"] / d["pss"]
            line += f", PSS {ratio_pss:.3f}x"
        verdict = "meets" if ratio_rss <= TARGET_RATIO else "MISSES"
        print(f"{line}; {verdict} the target ≤ {TARGET_RATIO}x (RSS)")
        results["ratio_rss"], results["ratio_pss"] = ratio_rss, ratio_pss
    path = h.write_json("memory", {"benchmark": "memory", "host": info, "containers": args.containers,
                                   "network": args.network, "target_ratio": TARGET_RATIO,
                                   "results": results, "errors": errors})
    print(f"raw numbers: {path}")


if __name__ == "__main__":
    sys.exit(main())
