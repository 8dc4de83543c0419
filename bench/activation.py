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
"""

from __future__ import annotations

import argparse
import json
import sys
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
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be ≥ 1 and --warmup ≥ 0")
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

        if args.no_bridge:
            cases = [c for c in cases if c.name in ("runc", "pier none", "docker none")]
        total = args.warmup + args.runs
        h.log(f"timing {len(cases)} cases, {args.warmup} warm-up + {args.runs} measured runs each, interleaved")
        for i in range(total):
            for case in cases:
                if case.error:
                    continue
                argv, env = case.command(i)
                try:
                    elapsed = h.timed(argv, env=env)
                except h.BenchError as e:
                    case.error = f"run {i + 1}: {e}"
                    h.warn(f"{case.name}: {case.error}")
                    continue
                if i >= args.warmup:
                    case.samples.append(elapsed)
    finally:
        h.with_cleanup(cleanups)

    report(cases, info, args)
    return 0 if all(c.error is None for c in cases) else 1


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
    print(f"Activation, image present: /bin/true in busybox, {args.runs} runs per case after {args.warmup} warm-ups")
    print(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; {info.get('runc') or 'runc ?'}; "
          f"docker {info.get('docker', '-')}; pier {info.get('pier', '-')} (git {info.get('git') or '?'})")
    print()
    print(h.table(["case", "n", "median ms", "p90 ms", "min ms", "vs runc"], table_rows))
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
                                       "warmup": args.warmup, "target_ratio_vs_runc": TARGET_RATIO, "cases": rows})
    print(f"raw samples: {path}")


if __name__ == "__main__":
    sys.exit(main())
