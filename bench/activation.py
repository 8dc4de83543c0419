#!/usr/bin/env python3
"""Activation time, image present: how long until a container has run `/bin/true` and is gone.

Cases (all on the same busybox-static root filesystem, timed interleaved, one case after the other in
each round, so drift of the machine hits every case alike):
  runc              `runc run` of a prepared bundle (`runc spec` defaults, args /bin/true, own --root);
                    `runc spec` gives a new network namespace with only loopback, i.e. like --network none
  runc pier-spec    `runc run` of the very config.json Pier writes for `pier run --network none` (its seccomp
                    policy, private cgroup namespace, pids limit, masked paths, etc files), args /bin/true
  runc pier-spec -seccomp -cgroupns
                    the same without the seccomp filter and the cgroup namespace: the difference to the
                    line above is what the policy and the namespace cost a start (target ≤ 2 ms)
  pier none         `pier run --rm --network none IMG /bin/true` (seccomp and cgroupns: Pier's defaults)
  pier none userns  the same with `--userns remap` (idmapped layers): the difference is what the user
                    namespace costs a start (target ≤ 5 ms)
  pier              `pier run --rm IMG /bin/true` (default bridge network)
  docker none       `docker run --rm --network none IMG /bin/true` (Docker's defaults)
  docker            `docker run --rm IMG /bin/true` (default bridge network)
against a dockerd and a pier agent started here with their own data roots (the agent's is 0700, as
mkdtemp makes it). Target: pier ≤ 1.5× runc.

Then (unless --no-disk) the disk two images sharing a base take when their containers run in user
namespaces: Pier (idmapped layers, stored once for remapped and host containers alike) against Docker,
whose --userns-remap keeps a separate, chowned store beside its default one. Docker's remapped daemon
is started with "userns-remap": "default", which adds the `dockremap` user and its subordinate ranges;
they are removed afterwards when this run added them.
With PIER_BASELINE=/path/to/an/earlier/pier, that build's agent runs beside the current one and its
`pier none` and `pier` cases are timed in the same rounds (a change's cost, measured in one run).
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
import os
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


def pier_spec_bundles(agent: "h.PierAgent", workdir: Path, rootfs: Path) -> tuple[Path, Path]:
    """Two runc bundles with the spec Pier writes for `pier run --network none IMG`: as it is, and without
    the seccomp filter and the cgroup namespace. Root is the bench rootfs, args /bin/true, the etc files
    copied out of the container's bundle."""
    agent.cli("run", "-d", "--name", "pb-spec", "--network", "none", h.IMAGE_REF, "sleep", "600")
    try:
        details = json.loads(agent.cli("inspect", "--type", "container", "pb-spec").stdout)[0]
        source = Path(details["bundlePath"])
        config = json.loads((source / "config.json").read_text())
        bundles = []
        for name in ("bundle-pier-spec", "bundle-pier-spec-bare"):
            bundle = workdir / name
            (bundle / "etc").mkdir(parents=True)
            c = json.loads(json.dumps(config))
            c["root"] = {"path": str(rootfs), "readonly": False}
            c["process"]["args"] = ["/bin/true"]
            c["process"]["terminal"] = False
            c["linux"]["cgroupsPath"] = f"/pier/pb-{name}"
            for m in c.get("mounts", []):
                if m.get("type") == "bind" and m.get("source", "").startswith(str(source) + "/"):
                    target = bundle / Path(m["source"]).relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(m["source"], target)
                    m["source"] = str(target)
            if name.endswith("-bare"):
                c["linux"].pop("seccomp", None)
                c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]
            elif "seccomp" not in c["linux"]:
                raise h.BenchError("Pier's spec has no seccomp filter: is runc built without libseccomp?")
            (bundle / "config.json").write_text(json.dumps(c, indent=2))
            bundles.append(bundle)
        return bundles[0], bundles[1]
    finally:
        agent.cli("rm", "-f", "pb-spec")


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
    parser.add_argument("--no-disk", action="store_true",
                        help="skip the disk comparison of two images under user namespaces (Pier vs Docker's userns-remap)")
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
            spec_cases = [Case("runc pier-spec", "runc run of Pier's config.json (/bin/true)", None),
                          Case("runc pier-spec -seccomp -cgroupns", "the same without seccomp and cgroupns", None)]
            pier_cases = [Case("pier none", "pier run --rm --network none IMG /bin/true", None),
                          Case("pier none userns", "pier run --rm --network none --userns remap IMG /bin/true", None),
                          Case("pier", "pier run --rm IMG /bin/true", None)]
            cases += spec_cases + pier_cases
            try:
                pier = h.pier_binary()
                agent = h.PierAgent(h.new_workdir("pier"), pier)
                cleanups.append(agent.cleanup)
                agent.start()
                agent.load_image(archive, rootfs, h.IMAGE_REF)
                info["pier"] = agent.version()
                info["pier_info"] = agent.cli("info").stdout.decode()
                pier_cases[0].command = lambda i: (agent.pier_cmd("run", "--rm", "--network", "none", h.IMAGE_REF,
                                                                  "/bin/true"), agent.env)
                pier_cases[1].command = lambda i: (agent.pier_cmd("run", "--rm", "--network", "none", "--userns", "remap",
                                                                  h.IMAGE_REF, "/bin/true"), agent.env)
                pier_cases[2].command = lambda i: (agent.pier_cmd("run", "--rm", h.IMAGE_REF, "/bin/true"), agent.env)
                spec, bare = pier_spec_bundles(agent, work, rootfs)
                spec_cases[0].command = lambda i: (["runc", "--root", str(runc_root), "run", "--bundle", str(spec),
                                                    f"pb-spec-{i}"], None)
                spec_cases[1].command = lambda i: (["runc", "--root", str(runc_root), "run", "--bundle", str(bare),
                                                    f"pb-bare-{i}"], None)
            except h.BenchError as e:
                for c in spec_cases + pier_cases:
                    if c.command is None:
                        c.error = str(e)
                h.warn(f"pier cases fail: {e}")

        baseline = None if args.no_pier else h.baseline_pier_binary()
        if baseline is not None:
            # An earlier build, timed in the same rounds as the current one: what a change cost.
            base_cases = [Case("pier none (baseline)", f"{baseline} run --rm --network none IMG /bin/true", None),
                          Case("pier (baseline)", f"{baseline} run --rm IMG /bin/true", None)]
            cases += base_cases
            try:
                base = h.PierAgent(h.new_workdir("pier-base"), baseline, bridge="pbpier1", subnet="10.252.0.0/24")
                cleanups.append(base.cleanup)
                base.start()
                base.load_image(archive, rootfs, h.IMAGE_REF)
                info["pier_baseline"] = base.version()
                base_cases[0].command = lambda i: (base.pier_cmd("run", "--rm", "--network", "none", h.IMAGE_REF,
                                                                 "/bin/true"), base.env)
                base_cases[1].command = lambda i: (base.pier_cmd("run", "--rm", h.IMAGE_REF, "/bin/true"), base.env)
            except h.BenchError as e:
                for c in base_cases:
                    c.error = str(e)
                h.warn(f"baseline cases fail: {e}")

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
            cases = [c for c in cases if c.name not in ("pier", "docker", "pier (baseline)")]
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
            if i == args.warmup - 1 and any(c.name in ("pier", "pier (baseline)") and not c.error for c in cases):
                # The agent fills its network pool a second after its first bridge start: measure
                # a gateway that has been running, not the first second of one.
                time.sleep(1.5)
    finally:
        h.with_cleanup(cleanups)

    if not args.no_disk:
        # After the timed cases' agent and dockerd are gone: this phase starts its own.
        try:
            info["disk"] = disk_comparison(with_docker=not args.no_docker, with_pier=not args.no_pier)
        except h.BenchError as e:
            h.warn(f"disk comparison failed: {e}")
            info["disk"] = {"error": str(e)}

    report(cases, info, args)
    return 0 if all(c.error is None for c in cases) else 1


PAYLOAD_MIB = 32
APP_MIB = 1


def disk_comparison(with_docker: bool, with_pier: bool) -> dict:
    """Bytes on disk (allocated, hard links once) of a base image of busybox and a 32 MiB payload and two
    images of a 1 MiB layer on it, with a container of each running in a user namespace."""
    work = h.new_workdir("disk")
    cleanups = [lambda: h.rmtree(work)]
    result: dict = {"payload_mib": PAYLOAD_MIB, "app_mib": APP_MIB}
    try:
        base = h.make_busybox_rootfs(work / "base")
        (base / "opt").mkdir()
        (base / "opt" / "payload.bin").write_bytes(os.urandom(PAYLOAD_MIB << 20))
        base_tar = h.write_layer_tar(base, work / "base.tar")
        apps = {}
        for name in ("a", "b"):
            ctx = work / f"app-{name}"
            (ctx / "app").mkdir(parents=True)
            (ctx / "app" / "data.bin").write_bytes(os.urandom(APP_MIB << 20))
            (ctx / "Dockerfile").write_text("FROM pb/base:1\nCOPY app /app\n")
            apps[name] = ctx

        if with_pier:
            agent = h.PierAgent(h.new_workdir("pdsk"), h.pier_binary())
            cleanups.append(agent.cleanup)
            agent.start()
            agent.cli("image", "build", "--tag", "pb/base:1", "--from", "scratch", "--add", f"{base}:/", "--cmd", '["sh"]')
            for name, ctx in apps.items():
                agent.cli("image", "build", "--tag", f"pb/app-{name}:1", "--from", "pb/base:1", "--add", f"{ctx / 'app'}:/app")
                agent.cli("run", "-d", "--network", "none", "--userns", "remap", f"pb/app-{name}:1", "sleep", "600")
            agent.cli("run", "-d", "--network", "none", "--userns", "host", "pb/app-a:1", "sleep", "600")
            root = agent.data_root
            result["pier_layers"] = h.tree_bytes(root / "layers", one_filesystem=True)[1]
            result["pier_userns_copies"] = h.tree_bytes(root / "userns-layers")[1] if (root / "userns-layers").exists() else 0
            userns_line = next((line for line in agent.cli("info").stdout.decode().splitlines() if line.startswith("User ns:")), "")
            result["pier_layer_mapping"] = "idmapped" if "layers idmapped" in userns_line else "chowned copies"
            agent.cleanup()
            cleanups.remove(agent.cleanup)

        if with_docker:
            dockerd = h.Dockerd(h.new_workdir("ddsk"))
            cleanups.append(dockerd.cleanup)
            env = dict(dockerd.env, DOCKER_BUILDKIT="0")

            def load_and_run():
                dockerd.docker("import", "--change", 'CMD ["sh"]', str(base_tar), "pb/base:1")
                for name, ctx in apps.items():
                    h.run([dockerd.client, "build", "-q", "-t", f"pb/app-{name}:1", str(ctx)], env=env, timeout=300)
                    dockerd.docker("run", "-d", "--network", "none", f"pb/app-{name}:1", "sleep", "600")

            dockerd.start()
            load_and_run()
            result["docker_overlay2"] = h.tree_bytes(dockerd.data_root / "overlay2", one_filesystem=True)[1]
            ids = dockerd.docker("ps", "-aq").stdout.decode().split()
            if ids:
                dockerd.docker("rm", "-f", *ids)
            dockerd.stop()

            passwd_before = Path("/etc/passwd").read_text()
            subid_before = {f: Path(f).read_text() if Path(f).exists() else None for f in ("/etc/subuid", "/etc/subgid")}
            added_user = "\ndockremap:" not in "\n" + passwd_before
            try:
                dockerd.config = {"userns-remap": "default"}
                # dockerd refuses to remap under a directory the remapped root cannot search (mkdtemp
                # makes it 0700); Pier's agent binds what runc needs below /run/pier/userns instead.
                dockerd.workdir.chmod(0o711)
                dockerd.data_root.chmod(0o711)
                dockerd.start()
                load_and_run()
                remapped = [d for d in dockerd.data_root.iterdir() if re.fullmatch(r"\d+\.\d+", d.name)]
                if not remapped:
                    raise h.BenchError(f"dockerd with userns-remap made no <uid>.<gid> store in {dockerd.data_root}")
                result["docker_remap_store"] = remapped[0].name
                result["docker_remap_overlay2"] = h.tree_bytes(remapped[0] / "overlay2", one_filesystem=True)[1]
                result["docker_default_overlay2_kept"] = h.tree_bytes(dockerd.data_root / "overlay2", one_filesystem=True)[1]
            finally:
                dockerd.cleanup()
                cleanups.remove(dockerd.cleanup)
                if added_user and "\ndockremap:" in "\n" + Path("/etc/passwd").read_text():
                    h.run(["userdel", "dockremap"], check=False)
                    h.run(["groupdel", "dockremap"], check=False)
                for f, text in subid_before.items():
                    if text is None:
                        Path(f).unlink(missing_ok=True)
                    else:
                        Path(f).write_text(text)
    finally:
        h.with_cleanup(cleanups)
    return result


def print_disk(disk: dict) -> None:
    if "error" in disk:
        print(f"disk comparison FAILED: {disk['error']}")
        return
    mib = lambda b: f"{b / (1 << 20):.1f}"  # noqa: E731
    rows = []
    if "pier_layers" in disk:
        rows.append(["pier: layers (containers with --userns remap and host)", mib(disk["pier_layers"])])
        rows.append([f"pier: per-range layer copies ({disk.get('pier_layer_mapping', '?')})", mib(disk["pier_userns_copies"])])
    if "docker_overlay2" in disk:
        rows.append(["docker: overlay2 (default store)", mib(disk["docker_overlay2"])])
        rows.append([f"docker --userns-remap: {disk['docker_remap_store']}/overlay2", mib(disk["docker_remap_overlay2"])])
        rows.append(["docker: a node with both stores", mib(disk["docker_overlay2"] + disk["docker_remap_overlay2"])])
    print(f"Disk, two images sharing a base (busybox + {disk['payload_mib']} MiB) with a {disk['app_mib']} MiB layer each, "
          "a container of each running (allocated bytes, hard links once):")
    print(h.table(["store", "MiB"], rows))


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


SECCOMP_CGROUPNS_BUDGET_MS = 2.0
USERNS_BUDGET_MS = 5.0


def report(cases: list[Case], info: dict, args) -> None:
    rows = [c.row() for c in cases]
    by_name = {r["name"]: r for r in rows if "median_ms" in r}
    base = by_name.get("runc")
    same_spec = by_name.get("runc pier-spec")
    table_rows = []
    failures = []
    for r in rows:
        if "median_ms" not in r:
            table_rows.append([r["name"], "-", "-", "-", "-", "-", "FAILED"])
            failures.append(f"{r['name']} FAILED: {r['error'] or 'no samples'}")
            continue
        ratio = r["median_ms"] / base["median_ms"] if base else None
        r["ratio_vs_runc"] = ratio
        spec_ratio = None
        if same_spec and r["name"].startswith("pier"):
            spec_ratio = r["median_ms"] / same_spec["median_ms"]
            r["ratio_vs_runc_same_spec"] = spec_ratio
        table_rows.append([r["name"], len(r["samples_ms"]), f"{r['median_ms']:.1f}", f"{r['p90_ms']:.1f}",
                           f"{r['min_ms']:.1f}", f"{ratio:.2f}x" if ratio else "-", f"{spec_ratio:.2f}x" if spec_ratio else ""])
    print()
    print(f"Activation, image present: /bin/true in busybox, {args.runs} runs per case after {args.warmup} warm-ups, "
          + (f"each after {args.gap * 1000:.0f} ms idle" if args.gap else "back to back"))
    print(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; {info.get('runc') or 'runc ?'}; "
          f"docker {info.get('docker', '-')}; pier {info.get('pier', '-')} (git {info.get('git') or '?'})")
    print()
    print(h.table(["case", "n", "median ms", "p90 ms", "min ms", "vs runc", "vs runc, Pier's spec"], table_rows))
    print()
    if "sched" in info:
        print_timeline(info["sched"])
        print()
    for line in failures:
        print(line)
    costs = {}
    bare = by_name.get("runc pier-spec -seccomp -cgroupns")
    if same_spec and bare:
        costs["seccomp_cgroupns_ms"] = same_spec["median_ms"] - bare["median_ms"]
        verdict = "meets" if costs["seccomp_cgroupns_ms"] <= SECCOMP_CGROUPNS_BUDGET_MS else "MISSES"
        print(f"seccomp policy + cgroup namespace (runc, Pier's spec with − without): {costs['seccomp_cgroupns_ms']:+.1f} ms, "
              f"{verdict} the target ≤ {SECCOMP_CGROUPNS_BUDGET_MS:.0f} ms")
    plain, userns = by_name.get("pier none"), by_name.get("pier none userns")
    if plain and userns:
        costs["userns_ms"] = userns["median_ms"] - plain["median_ms"]
        verdict = "meets" if costs["userns_ms"] <= USERNS_BUDGET_MS else "MISSES"
        print(f"user namespace, idmapped layers (pier none userns − pier none): {costs['userns_ms']:+.1f} ms, "
              f"{verdict} the target ≤ {USERNS_BUDGET_MS:.0f} ms")
    for r in rows:
        if r["name"].startswith("pier"):
            if "ratio_vs_runc" in r and r["ratio_vs_runc"] is not None:
                verdict = "meets" if r["ratio_vs_runc"] <= TARGET_RATIO else "MISSES"
                print(f"{r['name']}: {r['ratio_vs_runc']:.2f}x runc, {verdict} the target ≤ {TARGET_RATIO}x")
            else:
                print(f"{r['name']}: no result, target ≤ {TARGET_RATIO}x runc not checked")
    if "disk" in info:
        print()
        print_disk(info["disk"])
    path = h.write_json("activation", {"benchmark": "activation", "host": info, "runs": args.runs,
                                       "warmup": args.warmup, "gap_s": args.gap, "target_ratio_vs_runc": TARGET_RATIO,
                                       "costs_ms": costs, "cases": rows})
    print(f"raw samples: {path}")


if __name__ == "__main__":
    sys.exit(main())
