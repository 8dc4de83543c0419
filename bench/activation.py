#!/usr/bin/env python3
"""Activation time, image present: how long until a container has run `/bin/true` and is gone.

Cases (all on the same busybox-static root filesystem, timed interleaved, one case after the other in
each round, so drift of the machine hits every case alike):
  runc        `runc run` of a prepared bundle (`runc spec` defaults, args /bin/true, own --root);
              `runc spec` gives a new network namespace with only loopback, i.e. like --network none
  pier none   `pier run --rm --network none IMG /bin/true`
  pier        `pier run --rm IMG /bin/true` (default bridge network)
  docker none `docker run --rm --network none IMG /bin/true`
  docker      `docker run --rm IMG /bin/true` (default bridge network)
against a dockerd and a pier agent started here with their own data roots. Target: pier ≤ 1.5× runc.
Raw samples go to bench/out/activation.json.

Every run starts after the machine was left alone for --gap seconds (default 0.1), as an activation on a
gateway does: no case inherits the previous one's teardown (Docker's leaves kernel work behind that
slows whatever runs next), and each pays what a start after a quiet spell costs (runc's move into its
cgroup then waits for an RCU grace period, see CgroupMigrationPrimer). --gap 0 times the cases back to
back instead.

--sched N: afterwards, N more rounds of `pier none` and `runc` under `perf record` with the scheduler's
exec and exit tracepoints (system-wide; no syscall tracepoints, which would slow every system call), to
show where a `pier run` spends its time: client start to the shim's start (client and agent), shim to
runc, runc itself (against runc alone, in the same rounds), runc's exit to the shim's and to the
client's. Needs `perf` (linux-perf).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_RATIO = 1.5


def prepare_runc_bundle(workdir: Path, rootfs: Path) -> tuple[Path, Path]:
    bundle = workdir / "bundle"
    bundle.mkdir()
    h.run(["runc", "spec", "--bundle", str(bundle)])
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["root"]["path"] = str(rootfs)
    config_path.write_text(json.dumps(config, indent=2))
    state = workdir / "runc-state"
    state.mkdir()
    return bundle, state


class Case:
    def __init__(self, name: str, describe: str, command):
        self.name = name
        self.describe = describe
        self.command = command  # i -> (argv, env)
        self.samples: list[float] = []
        self.error: str | None = None

    def row(self) -> dict:
        out = {"name": self.name, "command": self.describe, "samples_ms": [round(s * 1000, 3) for s in self.samples],
               "error": self.error}
        if self.samples and not self.error:
            out.update(median_ms=h.median(self.samples) * 1000, p90_ms=h.percentile(self.samples, 90) * 1000,
                       min_ms=min(self.samples) * 1000, max_ms=max(self.samples) * 1000)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="measured runs per case (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs per case first (default 3)")
    parser.add_argument("--no-docker", action="store_true", help="skip the Docker cases")
    parser.add_argument("--no-pier", action="store_true", help="skip the Pier cases")
    parser.add_argument("--no-bridge", action="store_true", help="skip the bridge-network cases")
    parser.add_argument("--gap", type=float, default=0.1, metavar="SECONDS",
                        help="idle time before every timed run (default 0.1; 0: back to back)")
    parser.add_argument("--sched", type=int, default=0, metavar="N",
                        help="then N rounds under perf's scheduler tracepoints: where a pier run's time goes")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.gap < 0:
        parser.error("--runs must be ≥ 1, --warmup ≥ 0 and --gap ≥ 0")
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=not args.no_docker)

    cleanups = []
    cases: list[Case] = []
    info = h.host_info()
    try:
        work = h.new_workdir("act")
        cleanups.append(lambda: h.rmtree(work))
        rootfs = h.make_busybox_rootfs(work / "rootfs")
        layer = h.write_layer_tar(rootfs, work / "layer.tar")
        archive = work / "image.oci.tar"
        h.write_oci_archive(layer, archive, h.IMAGE_REF, ["sh"])

        bundle, runc_root = prepare_runc_bundle(work, rootfs)
        cases.append(Case("runc", "runc --root R run --bundle B ID (/bin/true)",
                          lambda i: (["runc", "--root", str(runc_root), "run", "--bundle", str(bundle),
                                      f"pb-act-{i}"], None)))

        if not args.no_pier:
            pier_cases = [Case("pier none", "pier run --rm --network none IMG /bin/true", None),
                          Case("pier", "pier run --rm IMG /bin/true", None)]
            cases += pier_cases
            try:
                pier = h.pier_binary()
                agent = h.PierAgent(h.new_workdir("pier"), pier)
                cleanups.append(agent.cleanup)
                agent.start()
                agent.load_image(archive, rootfs, h.IMAGE_REF)
                info["pier"] = agent.version()
                pier_cases[0].command = lambda i: (agent.pier_cmd("run", "--rm", "--network", "none", h.IMAGE_REF,
                                                                  "/bin/true"), agent.env)
                pier_cases[1].command = lambda i: (agent.pier_cmd("run", "--rm", h.IMAGE_REF, "/bin/true"), agent.env)
            except h.BenchError as e:
                for c in pier_cases:
                    c.error = str(e)
                h.warn(f"pier cases fail: {e}")

        if not args.no_docker:
            docker_cases = [Case("docker none", "docker run --rm --network none IMG /bin/true", None),
                            Case("docker", "docker run --rm IMG /bin/true", None)]
            cases += docker_cases
            try:
                dockerd = h.Dockerd(h.new_workdir("dock"))
                cleanups.append(dockerd.cleanup)
                dockerd.start()
                dockerd.load_rootfs(layer, h.IMAGE_REF)
                info["docker"] = dockerd.server_version()
                docker_cases[0].command = lambda i: (dockerd.cmd("run", "--rm", "--network", "none", h.IMAGE_REF,
                                                                 "/bin/true"), dockerd.env)
                docker_cases[1].command = lambda i: (dockerd.cmd("run", "--rm", h.IMAGE_REF, "/bin/true"), dockerd.env)
            except h.BenchError as e:
                for c in docker_cases:
                    c.error = str(e)
                h.warn(f"docker cases fail: {e}")

        if args.sched > 0:
            none = next((c for c in cases if c.name == "pier none" and c.command and not c.error), None)
            if none is None:
                h.warn("--sched: no working `pier none` case, no timeline")
            else:
                try:
                    info["sched"] = sched_timeline(work, none.command, cases[0].command, args.sched, args.gap)
                except h.BenchError as e:
                    h.warn(f"--sched: {e}")

        if args.no_bridge:
            cases = [c for c in cases if c.name in ("runc", "pier none", "docker none")]
        total = args.warmup + args.runs
        h.log(f"timing {len(cases)} cases, {args.warmup} warm-up + {args.runs} measured runs each, interleaved")
        for i in range(total):
            for case in cases:
                if case.error:
                    continue
                argv, env = case.command(i)
                time.sleep(args.gap)
                try:
                    elapsed = h.timed(argv, env=env)
                except h.BenchError as e:
                    case.error = f"run {i + 1}: {e}"
                    h.warn(f"{case.name}: {case.error}")
                    continue
                if i >= args.warmup:
                    case.samples.append(elapsed)
            if i == args.warmup - 1 and any(c.name == "pier" and not c.error for c in cases):
                # The agent fills its network pool a second after its first bridge start: measure
                # a gateway that has been running, not the first second of one.
                time.sleep(1.5)
    finally:
        h.with_cleanup(cleanups)

    report(cases, info, args)
    return 0 if all(c.error is None for c in cases) else 1


SCHED_EVENTS = ["sched:sched_process_exec", "sched:sched_process_exit"]
SCHED_LINE = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+(\S+):\s?(.*)$")


def sched_timeline(work: Path, pier_command, runc_command, rounds: int, gap: float) -> dict:
    """Runs `rounds` of pier (none) and runc alone under `perf record`; medians of each step, ms."""
    if not shutil.which("perf"):
        raise h.BenchError("--sched needs perf (apt-get install linux-perf)")
    data = work / "sched.data"
    perf = subprocess.Popen(["perf", "record", "-q", "-k", "mono", "-a", "-o", str(data)]
                            + [a for e in SCHED_EVENTS for a in ("-e", e)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(1)  # perf is recording
        for i in range(rounds):
            for command in (pier_command, runc_command):
                argv, env = command(10_000 + i)
                time.sleep(gap)
                h.timed(argv, env=env)
    finally:
        perf.send_signal(signal.SIGINT)
        _, err = perf.communicate(timeout=60)
    if perf.returncode not in (0, -signal.SIGINT) or not data.exists():
        raise h.BenchError(f"perf record failed: {h.tail(err)}")
    text = h.run(["perf", "script", "-i", str(data), "-F", "comm,pid,tid,time,event,trace", "--ns"], timeout=300).stdout
    events = []
    for line in text.decode(errors="replace").splitlines():
        m = SCHED_LINE.match(line)
        if m:
            events.append((float(m.group(4)), int(m.group(2)), m.group(5), m.group(6)))
    steps: dict[str, list[float]] = {}
    alone: list[float] = []
    pier_path = str(h.pier_binary())
    i = 0
    while i < len(events):
        t, pid, event, rest = events[i]
        i += 1
        if not event.endswith("sched_process_exec"):
            continue
        name = rest.split(" ")[0].removeprefix("filename=")
        if Path(name).name == "runc":  # runc alone: its exec to its exit
            end = next((e[0] for e in events[i:] if e[2].endswith("sched_process_exit") and e[1] == pid
                        and "group_dead=true" in e[3]), None)
            if end:
                alone.append((end - t) * 1000)
            continue
        if name != pier_path:
            continue
        marks: dict[str, float] = {}
        j = i
        while j < len(events):
            t2, pid2, event2, rest2 = events[j]
            j += 1
            name2 = rest2.split(" ")[0].removeprefix("filename=")
            if event2.endswith("sched_process_exec") and Path(name2).name == "pier-shim":
                marks.setdefault("shim", t2)
            elif event2.endswith("sched_process_exec") and Path(name2).name == "runc" and "runc exec" not in marks:
                marks["runc exec"] = t2
                marks["runc pid"] = pid2
            elif event2.endswith("sched_process_exit") and "runc pid" in marks and pid2 == marks["runc pid"] \
                    and "group_dead=true" in rest2:
                marks.setdefault("runc exit", t2)
            elif event2.endswith("sched_process_exit") and "comm=pier-shim" in rest2 and "group_dead=true" in rest2:
                marks.setdefault("shim exit", t2)
            elif event2.endswith("sched_process_exit") and pid2 == pid and "group_dead=true" in rest2:
                marks["client exit"] = t2
                break
        order = ["shim", "runc exec", "runc exit", "shim exit", "client exit"]
        if all(k in marks for k in order):
            points = [t] + [marks[k] for k in order]
            labels = ["client start → agent starts the shim", "shim → runc started",
                      "runc (under pier)", "runc's exit → shim's exit", "shim's exit → client gone"]
            for label, a, b in zip(labels, points, points[1:]):
                steps.setdefault(label, []).append((b - a) * 1000)
            steps.setdefault("total", []).append((marks["client exit"] - t) * 1000)
        i = j
    if not steps:
        raise h.BenchError("perf recorded no complete pier run (are the sched tracepoints available?)")
    return {"rounds": rounds, "gap_s": gap, "steps_ms": steps, "runc_alone_ms": alone}


def print_timeline(sched: dict) -> None:
    rows = [[label, len(v), f"{h.median(v):.1f}"] for label, v in sched["steps_ms"].items()]
    if sched["runc_alone_ms"]:
        rows.append(["runc alone (same rounds)", len(sched["runc_alone_ms"]), f"{h.median(sched['runc_alone_ms']):.1f}"])
    print()
    print(f"Where `pier run --rm --network none IMG /bin/true` spends its time ({sched['rounds']} rounds under perf "
          f"sched tracepoints, each run after {sched['gap_s'] * 1000:.0f} ms idle, medians):")
    print(h.table(["step", "n", "ms"], rows))


def report(cases: list[Case], info: dict, args) -> None:
    rows = [c.row() for c in cases]
    base = next((r for r in rows if r["name"] == "runc" and "median_ms" in r), None)
    table_rows = []
    failures = []
    for r in rows:
        if "median_ms" not in r:
            table_rows.append([r["name"], "-", "-", "-", "-", "FAILED"])
            failures.append(f"{r['name']} FAILED: {r['error'] or 'no samples'}")
            continue
        ratio = r["median_ms"] / base["median_ms"] if base else None
        r["ratio_vs_runc"] = ratio
        table_rows.append([r["name"], len(r["samples_ms"]), f"{r['median_ms']:.1f}", f"{r['p90_ms']:.1f}",
                           f"{r['min_ms']:.1f}", f"{ratio:.2f}x" if ratio else "-"])
    print()
    print(f"Activation, image present: /bin/true in busybox, {args.runs} runs per case after {args.warmup} warm-ups, "
          + (f"each after {args.gap * 1000:.0f} ms idle" if args.gap else "back to back"))
    print(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; {info.get('runc') or 'runc ?'}; "
          f"docker {info.get('docker', '-')}; pier {info.get('pier', '-')} (git {info.get('git') or '?'})")
    print()
    print(h.table(["case", "n", "median ms", "p90 ms", "min ms", "vs runc"], table_rows))
    print()
    if "sched" in info:
        print_timeline(info["sched"])
        print()
    for line in failures:
        print(line)
    for r in rows:
        if r["name"].startswith("pier"):
            if "ratio_vs_runc" in r and r["ratio_vs_runc"] is not None:
                verdict = "meets" if r["ratio_vs_runc"] <= TARGET_RATIO else "MISSES"
                print(f"{r['name']}: {r['ratio_vs_runc']:.2f}x runc, {verdict} the target ≤ {TARGET_RATIO}x")
            else:
                print(f"{r['name']}: no result, target ≤ {TARGET_RATIO}x runc not checked")
    path = h.write_json("activation", {"benchmark": "activation", "host": info, "runs": args.runs,
                                       "warmup": args.warmup, "gap_s": args.gap, "target_ratio_vs_runc": TARGET_RATIO, "cases": rows})
    print(f"raw samples: {path}")


if __name__ == "__main__":
    sys.exit(main())
