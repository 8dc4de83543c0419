#!/usr/bin/env python3
"""Seed 001 (Dolui & Kiraly): image sizes (Table I) and download cost (Figs. 5–6) on Pier, with delta updates.

1. examples/images/build.sh brings the hierarchy's Debian, JRE and Node.js images up to date;
   examples/images/seed001.sh builds the stand-ins of the paper's three components (core: a Java
   service; ble: a second Java service built against core's jar; nodered: a Node.js service) in the
   paper's forms (self-contained, multi-stage, squashed), with the hierarchy (on jre:17 / node:18,
   which share the base) and without (each on a flattened base of its own), --versions versions each,
   version N a small code change from N-1 in every component.
2. A `pier manager` listens on the host end of a veth pair into a namespace of this run, shaped with
   tc tbf to --rate each way (bench/slowlink.py's link, without loss or cuts); the images are pushed
   to its registry by buildah with a push credential.
3. In the namespace, `pier agent`s of this run pull with `pier image pull --creds` (pull credential):
     absolute     version N on an empty node (every version, a fresh node each)
     incremental  version N on the node that holds N-1, --no-delta: changed layers whole (Docker's way)
     delta        the same step with Pier's delta updates (the node got N-1 over the unshaped link)
   Bytes are the pulls' "bytes fetched"; seconds are each `pier image pull`'s wall time.
Table I: each image's compressed bytes (what a pull downloads) and unpacked bytes (buildah), beside
the paper's. Fig. 5: core's pulls, the three forms with the hierarchy. Fig. 6: the stack (all three
images) per set. `pier image du` on the manager gives the same install/update bytes without pulling;
they are checked against the pulls. Raw numbers: bench/out/seed001.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon  # noqa: E402
from slowlink import HOST_IP, NamespacedAgent, SlowLink  # noqa: E402

REPO = h.REPO
BUILD = REPO / "examples" / "images" / "build.sh"
SEED = REPO / "examples" / "images" / "seed001.sh"
SEED_DIR = Path(os.environ.get("PIER_SEED001_DIR", "/var/lib/pier-seed001"))
MANAGER_BRIDGE = ("pbs1m0", "10.251.45.0/24")
AGENT_BRIDGES = [("pbs1a0", "10.251.46.0/24"), ("pbs1b0", "10.251.47.0/24")]
COMPONENTS = ("core", "ble", "nodered")
FORMS = ("self", "multi", "squash")
FETCHED = re.compile(r"\((\d+) blobs?, (\d+) bytes fetched(?:, (\d+) as delta)?")

# Seed 001, Table I: image sizes obtained by in-container optimization (Docker's sizes, unpacked).
PAPER_TABLE1 = {
    "ble": {"self": "801MB", "multi": "372MB", "squash": "361MB"},
    "nodered": {"self": "613MB", "multi": "294MB", "squash": "291MB"},
    "core": {"self": "789MB", "multi": "348MB", "squash": "342MB"},
}
PAPER_NAMES = {"core": "agile-core", "ble": "agile-ble", "nodered": "agile-nodered"}


# --------------------------------------------------------------------------------------------
# Pure parts (bench/test_seed001.py)


def sets_for(forms: list[str]) -> list[str]:
    """The image sets (form and hierarchy) seed001.sh builds for these forms, in its order:
    self-h, self-n, multi-h, multi-n, squash (one squash set: it flattens the base, hierarchy or not)."""
    out = []
    for form in FORMS:
        if form in forms:
            out += ["squash"] if form == "squash" else [f"{form}-h", f"{form}-n"]
    return out


def image_name(set_: str, component: str, version: int) -> str:
    return f"seed001/{set_}/{component}:v{version}"


def parse_pull(output: str) -> tuple[int, int, int]:
    """(blobs, bytes, deltas) from `pier image pull`'s line "REF DIGEST (N blobs, M bytes fetched[, K as delta])"."""
    found = FETCHED.findall(output)
    if not found:
        raise ValueError(f"no '(N blobs, M bytes fetched)' in pier image pull's output: {output.strip()[-200:]!r}")
    blobs, size, deltas = found[-1]
    return int(blobs), int(size), int(deltas or 0)


def parse_size(text: str) -> int:
    """buildah's human size ("362 MB", "4.1 kB", "1.2 GB", "512 B") in bytes (decimal units, as buildah prints)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kMGT]?B)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    return round(float(m.group(1)) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m.group(2)])


def paper_bytes(text: str) -> int:
    """The paper's "801MB" in bytes."""
    return parse_size(text.replace("MB", " MB"))


def steps(versions: int) -> list[tuple[int, int]]:
    """The update steps measured: (1, 2), (2, 3), … (versions-1, versions)."""
    return [(v, v + 1) for v in range(1, versions)]


def summarize(pulls: list[dict], set_: str, kind: str, version: int, components: tuple[str, ...] = COMPONENTS) -> tuple[int, float] | None:
    """Total (bytes, seconds) of the pulls of `kind` (absolute, incremental, delta) of these components
    of a set at a version; None when one is missing."""
    mine = [p for p in pulls if p["set"] == set_ and p["kind"] == kind and p["version"] == version
            and p["component"] in components]
    if len(mine) != len(components):
        return None
    return sum(p["bytes"] for p in mine), sum(p["seconds"] for p in mine)


def mb(n: int | float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} kB"


# --------------------------------------------------------------------------------------------


class Agent(NamespacedAgent):
    """bench/slowlink.py's agent in the link's namespace, with a bridge of its own, and its pulls timed."""

    def __init__(self, link: SlowLink, pier: Path, bridge: tuple[str, str]):
        super().__init__(link, pier, h.new_workdir("s1a"), bridge)

    def cli(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        return h.run(self.pier_cmd(*args), timeout=timeout)

    def pull(self, ref: str, certs: Path, creds: str, delta: bool) -> tuple[int, int, float]:
        """(bytes, deltas, seconds) of one `pier image pull`."""
        start = time.perf_counter()
        proc = self.cli("image", "pull", "--cert-dir", str(certs), "--creds", creds,
                        *([] if delta else ["--no-delta"]), ref)
        seconds = time.perf_counter() - start
        _, fetched, deltas = parse_pull(proc.stdout.decode() + proc.stderr.decode())
        return fetched, deltas, seconds


def shape(link: SlowLink, rate: str | None) -> None:
    """The tbf on both ends of the link: `rate`, or none (unshaped)."""
    for cmd in (["tc", "qdisc", "del", "dev", link.host_if, "root"],):
        h.run(cmd, check=False)
    link.exec(["tc", "qdisc", "del", "dev", link.ns_if, "root"], check=False)
    if rate:
        shaper = ["tbf", "rate", rate, "burst", "64kbit", "latency", "500ms"]
        h.run(["tc", "qdisc", "add", "dev", link.host_if, "root", *shaper])
        link.exec(["tc", "qdisc", "add", "dev", link.ns_if, "root", *shaper])


def buildah_sizes(names: list[str]) -> dict[str, int]:
    """Unpacked size of each image, as buildah reports it."""
    driver = (Path(os.environ.get("PIER_EXAMPLES_DIR", "/var/lib/pier-examples")) / "driver")
    driver_name = driver.read_text().strip() if driver.exists() else "vfs"
    import hashlib
    runroot = "/run/pier-seed001-" + hashlib.sha256(str(SEED_DIR).encode()).hexdigest()[:12]
    out = {}
    for name in names:
        proc = h.run(["buildah", "--root", str(SEED_DIR / "storage"), "--runroot", runroot, "--storage-driver", driver_name,
                      "images", "--noheading", "--format", "{{.Size}}", f"localhost/{name}"])
        out[name] = parse_size(proc.stdout.decode().splitlines()[0])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=5, help="versions of each component (default 5)")
    parser.add_argument("--forms", default="self,multi,squash", help="forms (default self,multi,squash)")
    parser.add_argument("--rate", default="50mbit", help="the link's rate each way, tc syntax (default 50mbit, the paper's downlink)")
    parser.add_argument("--quick", action="store_true", help="2 versions")
    args = parser.parse_args()
    if args.quick:
        args.versions = 2
    forms = [f for f in args.forms.split(",") if f]
    if args.versions < 2 or any(f not in FORMS for f in forms) or not forms:
        parser.error("--versions ≥ 2; --forms from self, multi, squash")
    if "squash" in forms and "multi" not in forms:
        parser.error("squash needs multi (its ble is built against multi's core)")
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=False)
    for tool in ("buildah", "skopeo", "mmdebstrap", "tc", "zstd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/setup.sh --no-build")
    pier = h.pier_binary()
    info = h.host_info()
    sets = sets_for(forms)
    out: dict = {"benchmark": "seed001", "host": info, "args": vars(args), "pulls": [], "sets": sets}
    cleanups: list[Callable[[], None]] = []
    try:
        proc = subprocess.run([str(BUILD), "--only", "pier-examples/debian:bookworm", "--only", "pier-examples/jre:17",
                               "--only", "pier-examples/node:18"], stdout=sys.stderr, stderr=sys.stderr)
        if proc.returncode != 0:
            raise h.BenchError(f"examples/images/build.sh exited with {proc.returncode}")
        started = time.monotonic()
        proc = subprocess.run([str(SEED), "--versions", str(args.versions), "--forms", ",".join(forms)],
                              stdout=sys.stderr, stderr=sys.stderr)
        if proc.returncode != 0:
            raise h.BenchError(f"examples/images/seed001.sh exited with {proc.returncode}")
        out["build_seconds"] = time.monotonic() - started

        work = h.new_workdir("s1")
        cleanups.append(lambda: h.rmtree(work))
        link = SlowLink(f"pbs1{random.randrange(1 << 16):04x}", args.rate, 0)
        cleanups.append(link.close)
        shape(link, args.rate)
        port = h.free_port()
        manager = PierDaemon(h.new_workdir("s1m"), pier, ["manager"], MANAGER_BRIDGE, "pb-seed001", ready_path="/v1/cluster")
        cleanups.append(manager.cleanup)
        manager.start(extra=["--listen", f"tcp://{HOST_IP}:{port}"])
        info["pier"] = manager.version()
        certs = work / "certs"  # the cluster CA alone: ca.pem for pier, ca.crt for buildah
        manager.cli("cert", "create", "unused", "--role", "readonly", "-o", str(certs))
        for name in ("node.pem", "node-key.pem"):
            (certs / name).unlink()
        shutil.copy(certs / "ca.pem", certs / "ca.crt")
        pusher = manager.cli("registry", "credential", "create", "-q", "--push", "s1-push").stdout.decode().strip()
        puller = manager.cli("registry", "credential", "create", "-q", "s1-pull").stdout.decode().strip()
        creds = f"s1-pull:{puller}"
        registry = f"{HOST_IP}:{port}"

        started = time.monotonic()
        proc = subprocess.run([str(SEED), "--versions", str(args.versions), "--forms", ",".join(forms),
                               "--push", registry, "--cert-dir", str(certs), "--creds", f"s1-push:{pusher}"],
                              stdout=sys.stderr, stderr=sys.stderr)
        if proc.returncode != 0:
            raise h.BenchError(f"examples/images/seed001.sh --push exited with {proc.returncode}")
        out["push_seconds"] = time.monotonic() - started

        # Table I: the newest version of each image; the registry's view (pier image du) of every version.
        last = args.versions
        names = [image_name(s, c, v) for s in sets for c in COMPONENTS for v in range(1, last + 1)]
        out["unpacked"] = buildah_sizes([image_name(s, c, last) for s in sets for c in COMPONENTS])
        du: dict = {}
        for s in sets:
            for v in range(1, last + 1):
                refs = [image_name(s, c, v) for c in COMPONENTS]  # as the registry names them in the store
                fresh = json.loads(manager.cli("image", "du", "--format", "json", *refs).stdout)
                du[f"{s} v{v}"] = {"install": fresh}
                if v > 1:
                    old = [image_name(s, c, v - 1) for c in COMPONENTS]
                    upd = json.loads(manager.cli("image", "du", "--format", "json", "--deltas",
                                                 *[a for o in old for a in ("--from", o)], *refs, timeout=1800).stdout)
                    du[f"{s} v{v}"]["update"] = upd
        out["du"] = du
        h.log(f"{len(names)} images on the manager; pulls over {args.rate}")

        def record(set_: str, component: str, version: int, kind: str, result: tuple[int, int, float]) -> None:
            fetched, deltas, seconds = result
            out["pulls"].append({"set": set_, "component": component, "version": version, "kind": kind,
                                 "bytes": fetched, "deltas": deltas, "seconds": seconds})
            h.log(f"{set_:8} {component:8} v{version} {kind:11}: {mb(fetched):>10} in {seconds:6.1f} s"
                  + (f" ({deltas} deltas)" if deltas else ""))

        for s in sets:
            # Absolute: version 1 on node A (which then takes the incremental steps), later versions on fresh nodes.
            a = Agent(link, pier, AGENT_BRIDGES[0])
            try:
                for c in COMPONENTS:
                    record(s, c, 1, "absolute", a.pull(f"{registry}/{image_name(s, c, 1)}", certs, creds, delta=False))
                for old, new in steps(args.versions):
                    b = Agent(link, pier, AGENT_BRIDGES[1])
                    try:
                        for c in COMPONENTS:
                            record(s, c, new, "absolute", b.pull(f"{registry}/{image_name(s, c, new)}", certs, creds, delta=False))
                    finally:
                        b.close()
                    for c in COMPONENTS:
                        record(s, c, new, "incremental", a.pull(f"{registry}/{image_name(s, c, new)}", certs, creds, delta=False))
            finally:
                a.close()
            # Delta: version 1 over the unshaped link, then each step with Pier's delta updates.
            d = Agent(link, pier, AGENT_BRIDGES[0])
            try:
                shape(link, None)
                for c in COMPONENTS:
                    d.pull(f"{registry}/{image_name(s, c, 1)}", certs, creds, delta=False)
                shape(link, args.rate)
                for old, new in steps(args.versions):
                    for c in COMPONENTS:
                        record(s, c, new, "delta", d.pull(f"{registry}/{image_name(s, c, new)}", certs, creds, delta=True))
            finally:
                shape(link, args.rate)
                d.close()
    except (h.BenchError, ValueError, subprocess.SubprocessError) as e:
        out["error"] = str(e)
        h.warn(str(e))
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json("seed001", out)
    report(out, args)
    print(f"\nraw numbers: {path}")
    return 1 if "error" in out else 0


def report(out: dict, args: argparse.Namespace) -> None:
    pulls, sets, last = out["pulls"], out["sets"], args.versions
    print(f"\nSeed 001 on Pier: stand-ins of agile-core (Java), agile-ble (Java, on core's jar) and agile-nodered "
          f"(Node.js), {last} versions; pulls by `pier image pull` in a namespace over {args.rate} each way (tc tbf); "
          f"pier {out['host'].get('pier', '?')}")
    # Table I.
    absolute = {(p["set"], p["component"]): p["bytes"] for p in pulls if p["kind"] == "absolute" and p["version"] == last}
    alone = {}
    for s in sets:
        fresh = out.get("du", {}).get(f"{s} v{last}", {}).get("install")
        if fresh:
            for img in fresh["images"]:
                for c in COMPONENTS:
                    if img["name"].endswith(image_name(s, c, last)):
                        alone[(s, c)] = img["bytes"]
    rows = []
    for c in COMPONENTS:
        for hier in ("h", "n"):
            row = [f"{c} ({PAPER_NAMES[c]})" if hier == "h" else "", "with" if hier == "h" else "without"]
            for form in FORMS:
                s = "squash" if form == "squash" else f"{form}-{hier}"
                if s not in sets or (form == "squash" and hier == "n"):
                    row.append("same" if form == "squash" and s in sets else "-")
                    continue
                comp = alone.get((s, c))
                unp = out.get("unpacked", {}).get(image_name(s, c, last))
                row.append(f"{mb(comp) if comp else '?'} / {mb(unp) if unp else '?'}")
            row.append(" / ".join(PAPER_TABLE1[c][f] for f in FORMS) if hier == "h" else "")
            rows.append(row)
    print(f"\nTable I: image sizes of version {last}, compressed (what a pull of it alone downloads) / unpacked (buildah)\n")
    print(h.table(["component", "hierarchy", "self-contained", "multi-stage", "squashed",
                   "paper (Docker, unpacked): baseline / multi-stage / squashed"], rows, left=(0, 1)))

    def cell(res: tuple[int, float] | None) -> str:
        return f"{mb(res[0])}, {res[1]:.1f} s" if res else "-"

    # Fig. 5: core alone, with the hierarchy.
    rows = []
    for form in FORMS:
        s = "squash" if form == "squash" else f"{form}-h"
        if s not in sets:
            continue
        for v in range(1, last + 1):
            rows.append([form if v == 1 else "", f"v{v}", cell(summarize(pulls, s, "absolute", v, ("core",))),
                         cell(summarize(pulls, s, "incremental", v, ("core",))) if v > 1 else "(= absolute)",
                         cell(summarize(pulls, s, "delta", v, ("core",))) if v > 1 else ""])
    print(f"\nFig. 5: core (agile-core) with the hierarchy, absolute vs incremental download, bytes and seconds over {args.rate}\n")
    print(h.table(["form", "version", "absolute (empty node)", "incremental (node has v-1), whole layers",
                   "Pier delta update"], rows, left=(0, 1)))

    # Fig. 6: the stack.
    rows = []
    for s in sets:
        for v in range(1, last + 1):
            du = out.get("du", {}).get(f"{s} v{v}", {})
            check = ""
            ab = summarize(pulls, s, "absolute", v)
            if ab and du.get("install"):
                check = "yes" if ab[0] == du["install"]["installBytes"] else f"du {mb(du['install']['installBytes'])}"
            inc = summarize(pulls, s, "incremental", v)
            if v > 1 and inc and du.get("update") and du["update"].get("updateBytes") is not None:
                check += ", yes" if inc[0] == du["update"]["updateBytes"] else f", du {mb(du['update']['updateBytes'])}"
            rows.append([s if v == 1 else "", f"v{v}", cell(ab), cell(inc) if v > 1 else "(= absolute)",
                         cell(summarize(pulls, s, "delta", v)) if v > 1 else "",
                         mb(du["update"]["deltaBytes"]) if v > 1 and du.get("update", {}).get("deltaBytes") is not None else "",
                         check])
    print(f"\nFig. 6: the stack (core, ble, nodered) per set, -h with the hierarchy, -n without; bytes and seconds over {args.rate}\n")
    print(h.table(["set", "version", "absolute", "incremental, whole layers", "Pier delta update",
                   "du --deltas", "pulls = pier image du"], rows, left=(0, 1)))
    if out.get("error"):
        print(f"\nINCOMPLETE: {out['error']}")


if __name__ == "__main__":
    sys.exit(main())
