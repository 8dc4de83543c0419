#!/usr/bin/env python3
"""Delta updates (issue 4): bytes over the wire to update an image after a small code change.

An image of --size-mb MiB of application files in one layer (plus a busybox layer), built with
`pier image build` on a `pier manager`; version 2 changes one file of --changed-kb KiB. A
`pier agent` that holds version 1 pulls version 2 from the manager's registry (mutual TLS, a
manager-role certificate) twice, into two data roots that hold version 1:
  whole   `pier image pull --no-delta`: the changed layer downloaded whole, as Docker does
  delta   `pier image pull`: the changed layer as a zstd patch against version 1's layer
Also reported: what a plain OCI client downloads (`skopeo copy` into an OCI layout that holds
version 1), and a check that the delta-built image runs (the changed file's checksum, in a
container). Target: the delta ≤ 10 % of the changed layer's bytes. Raw numbers go to
bench/out/delta.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon  # noqa: E402

MANAGER_BRIDGE = ("pbdm0", "10.251.50.0/24")
AGENT_BRIDGES = [("pbda0", "10.251.51.0/24"), ("pbdb0", "10.251.52.0/24")]


def pulled(output: str) -> tuple[int, int]:
    """Bytes fetched and deltas from `pier image pull`'s line."""
    m = re.search(r"(\d+) bytes fetched(?:, (\d+) as delta)?", output)
    if not m:
        raise h.BenchError(f"cannot read the pull's output: {output!r}")
    return int(m.group(1)), int(m.group(2) or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=56, help="application files in MiB (default 56)")
    parser.add_argument("--files", type=int, default=160, help="number of application files (default 160)")
    parser.add_argument("--changed-kb", type=int, default=300, help="size of the changed file in KiB (default 300)")
    args = parser.parse_args()
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=False)
    pier = h.pier_binary()
    info = h.host_info()
    out: dict = {"host": info, "args": vars(args)}
    cleanups: list[Callable[[], None]] = []
    try:
        work = h.new_workdir("delta")
        cleanups.append(lambda: h.rmtree(work))
        # The application: incompressible files (the worst case for compression, the honest one for deltas).
        app = work / "app"
        app.mkdir()
        per_file = args.size_mb * (1 << 20) // args.files
        changed = app / f"file{args.files // 2:03d}.bin"
        for i in range(args.files):
            size = args.changed_kb << 10 if app / f"file{i:03d}.bin" == changed else per_file
            (app / f"file{i:03d}.bin").write_bytes(os.urandom(size))
        port = h.free_port()
        manager = PierDaemon(h.new_workdir("dmgr"), pier, ["manager"], MANAGER_BRIDGE, "pb-delta",
                             ready_path="/v1/cluster")
        cleanups.append(manager.cleanup)
        manager.start(extra=["--listen", f"tcp://127.0.0.1:{port}"])
        info["pier"] = manager.version()
        busybox = shutil.which("busybox") or "/bin/busybox"

        def build(tag: str) -> None:
            manager.cli("image", "build", "--tag", tag, "--from", "scratch", "--add", f"{busybox}:/bin/busybox",
                        "--add", f"{app}:/app", "--entrypoint", "/bin/busybox", timeout=600)

        build("edge/app:1")
        old_sum = hashlib.md5(changed.read_bytes()).hexdigest()
        changed.write_bytes(os.urandom(args.changed_kb << 10))  # the code change
        new_sum = hashlib.md5(changed.read_bytes()).hexdigest()
        build("edge/app:2")
        certs = work / "admin"
        manager.cli("cert", "create", "bench", "--role", "operator", "-o", str(certs))
        registry = f"127.0.0.1:{port}"

        results = {}
        for mode, bridge in zip(("whole", "delta"), AGENT_BRIDGES):
            agent = PierDaemon(h.new_workdir(f"d{mode}"), pier, ["agent"], bridge, f"pb-delta-{mode}")
            cleanups.append(agent.cleanup)
            agent.start()
            first = agent.cli("image", "pull", "--cert-dir", str(certs), f"{registry}/edge/app:1", timeout=600).stdout.decode()
            start = time.perf_counter()
            flags = ["--no-delta"] if mode == "whole" else []
            second = agent.cli("image", "pull", *flags, "--cert-dir", str(certs), f"{registry}/edge/app:2", timeout=600).stdout.decode()
            elapsed = time.perf_counter() - start
            fetched, deltas = pulled(second)
            check = agent.cli("run", "--rm", "--network", "none", f"{registry}/edge/app:2", "md5sum", f"/app/{changed.name}").stdout.decode()
            if new_sum not in check:
                raise h.BenchError(f"{mode}: the pulled image does not hold the changed file ({check!r}, want {new_sum}, old {old_sum})")
            results[mode] = {"v1_bytes": pulled(first)[0], "v2_bytes": fetched, "deltas": deltas, "seconds": elapsed}
            h.log(f"{mode}: version 1 {pulled(first)[0]} bytes; update to version 2: {fetched} bytes ({deltas} deltas) in {elapsed * 1000:.0f} ms")
        if results["delta"]["deltas"] < 1:
            raise h.BenchError("the update fetched no delta")

        # A plain OCI client: skopeo into a layout that holds version 1 skips unchanged blobs.
        layout = work / "layout"
        cert_dir = work / "skopeo-certs"
        cert_dir.mkdir()
        shutil.copy(certs / "ca.pem", cert_dir / "ca.crt")
        shutil.copy(certs / "node.pem", cert_dir / "client.cert")
        shutil.copy(certs / "node-key.pem", cert_dir / "client.key")
        h.run(["skopeo", "--insecure-policy", "copy", "--src-cert-dir", str(cert_dir), f"docker://{registry}/edge/app:1",
               f"oci:{layout}:1"], timeout=600)
        before = {p.name: p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir()}
        h.run(["skopeo", "--insecure-policy", "copy", "--src-cert-dir", str(cert_dir), f"docker://{registry}/edge/app:2",
               f"oci:{layout}:2"], timeout=600)
        after = {p.name: p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir()}
        results["skopeo"] = {"v2_bytes": sum(size for name, size in after.items() if name not in before)}
        out["results"] = results
    except h.BenchError as e:
        h.warn(str(e))
        out["error"] = str(e)
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json("delta", out)
    if "results" in out:
        r = out["results"]
        whole, delta = r["whole"]["v2_bytes"], r["delta"]["v2_bytes"]
        print(f"\nUpdate of a {args.size_mb} MiB image after one {args.changed_kb} KiB file changed (bytes over the wire)")
        rows = [
            ["skopeo (plain OCI client, changed blobs)", r["skopeo"]["v2_bytes"], "", ""],
            ["pier image pull --no-delta (whole layer)", whole, "100 %", f"{r['whole']['seconds'] * 1000:.0f}"],
            ["pier image pull (delta)", delta, f"{delta / whole * 100:.1f} %", f"{r['delta']['seconds'] * 1000:.0f}"],
        ]
        print(h.table(["", "bytes", "of whole", "ms (loopback)"], rows))
        print(f"target ≤ 10 % of the layer bytes: {'met' if delta <= 0.1 * whole else 'NOT met'} ({whole / max(delta, 1):.0f}× smaller)")
    print(f"\nraw numbers: {path}")
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
