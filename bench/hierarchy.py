#!/usr/bin/env python3
"""Seed 001's base-image hierarchy on Pier: every shared layer stored and downloaded once.

1. examples/images/build.sh builds the example hierarchy (nothing when it is up to date): one Debian
   base, Python, JRE, Node.js and Redis images on it, small apps on those (docs/images.md).
2. A `pier up` of this run (own data root, bridge, mesh interface, cluster range and port); an admin
   client certificate from it; `build.sh --push` copies every image to its registry with skopeo.
3. A second node, a `pier agent` of this run, pulls every image from that registry with
   `pier image pull`, parents first, and says how many bytes each pull fetched.
4. Each pull's bytes are checked against what the OCI layout says it must fetch: the config and the
   layers of the image that no image pulled before it has. `pier image du` on both nodes.

The table: each image's compressed size alone, what its pull fetched; the totals against the sum of
the sizes (what a store without sharing would fetch and hold). Raw numbers: bench/out/hierarchy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon  # noqa: E402

REPO = h.REPO
BUILD = REPO / "examples" / "images" / "build.sh"
LAYOUT = Path(os.environ.get("PIER_EXAMPLES_DIR", "/var/lib/pier-examples")) / "oci"
UP_BRIDGE = ("pbhier0", "10.251.43.0/24")
PULLER_BRIDGE = ("pbhierb0", "10.251.44.0/24")
CLUSTER_CIDR = "10.250.0.0/16"
MESH_INTERFACE = "pbhier-wg0"
FETCHED = re.compile(r"\((\d+) blobs?, (\d+) bytes fetched")


# --------------------------------------------------------------------------------------------
# Pure parts (bench/test_hierarchy.py)


def parse_fetched(output: str) -> tuple[int, int]:
    """(blobs, bytes) from `pier image pull`'s last line: "REF DIGEST (N blobs, M bytes fetched)"."""
    found = FETCHED.findall(output)
    if not found:
        raise ValueError(f"no '(N blobs, M bytes fetched)' in pier image pull's output: {output.strip()[-200:]!r}")
    blobs, size = found[-1]
    return int(blobs), int(size)


def expected_fetches(images: list[tuple[str, dict[str, int]]]) -> dict[str, int]:
    """For images pulled in this order, each given as (name, {blob digest: size} of its config and
    layers), the bytes each pull must fetch: the blobs no earlier image had."""
    have: set[str] = set()
    out = {}
    for name, blobs in images:
        out[name] = sum(size for digest, size in blobs.items() if digest not in have)
        have |= set(blobs)
    return out


def mb(n: int | float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} kB"


# --------------------------------------------------------------------------------------------


def layout_blobs(name: str) -> dict[str, int]:
    """{digest: size} of an image's config and layers in the OCI layout."""
    index = json.loads((LAYOUT / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == name:
            manifest = json.loads((LAYOUT / "blobs" / "sha256" / m["digest"].split(":", 1)[1]).read_text())
            blobs = {manifest["config"]["digest"]: manifest["config"]["size"]}
            blobs.update({layer["digest"]: layer["size"] for layer in manifest["layers"]})
            return blobs
    raise h.BenchError(f"{name} is not in the OCI layout {LAYOUT}: run examples/images/build.sh")


def image_names() -> list[str]:
    return h.run([str(BUILD), "--list"]).stdout.decode().split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=False)
    for tool in ("buildah", "mmdebstrap", "skopeo", "wireguard-go"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/setup.sh --no-build")

    info = h.host_info()
    cleanups = []
    out: dict = {"benchmark": "hierarchy", "host": info}
    error = None
    rows = []
    try:
        proc = subprocess.run([str(BUILD)], stdout=sys.stderr, stderr=sys.stderr)
        if proc.returncode != 0:
            raise h.BenchError(f"examples/images/build.sh exited with {proc.returncode}")
        names = image_names()
        blobs = {name: layout_blobs(name) for name in names}

        pier = h.pier_binary()
        work = h.new_workdir("hier")
        cleanups.append(lambda: h.rmtree(work))
        port = h.free_port()
        up = PierDaemon(h.new_workdir("hierup"), pier, ["up"], UP_BRIDGE, "pb-hier")
        cleanups.append(lambda: stop_mesh(up))
        up.start(extra=["--listen", f"tcp://127.0.0.1:{port}", "--cluster-cidr", CLUSTER_CIDR,
                        "--mesh-interface", MESH_INTERFACE, "--mesh-port", str(h.free_port(socket.SOCK_DGRAM))])
        info["pier"] = up.version()
        admin = work / "admin"
        up.cli("cert", "create", "pb-hier-admin", "--role", "admin", "-o", str(admin))
        certs = work / "certs"
        certs.mkdir()
        shutil.copy(admin / "ca.pem", certs / "ca.crt")
        shutil.copy(admin / "node.pem", certs / "client.cert")
        shutil.copy(admin / "node-key.pem", certs / "client.key")

        started = time.monotonic()
        proc = subprocess.run([str(BUILD), "--push", f"127.0.0.1:{port}", "--cert-dir", str(certs)],
                              stdout=sys.stderr, stderr=sys.stderr)
        if proc.returncode != 0:
            raise h.BenchError(f"examples/images/build.sh --push exited with {proc.returncode}")
        out["push_seconds"] = time.monotonic() - started
        registry_du = json.loads(up.cli("image", "du", "--format", "json").stdout)

        puller = h.PierAgent(h.new_workdir("hierb"), pier, *PULLER_BRIDGE)
        cleanups.append(puller.cleanup)
        puller.start()
        expected = expected_fetches([(name, blobs[name]) for name in names])
        started = time.monotonic()
        for name in names:
            pull = puller.cli("image", "pull", "--cert-dir", str(admin), f"127.0.0.1:{port}/{name}", timeout=600)
            _, fetched = parse_fetched(pull.stdout.decode() + pull.stderr.decode())
            rows.append({"image": name, "size": sum(blobs[name].values()), "fetched": fetched,
                         "expected": expected[name]})
            h.log(f"pulled {name}: {fetched} bytes fetched (expected {expected[name]})")
        out["pull_seconds"] = time.monotonic() - started
        puller_du = json.loads(puller.cli("image", "du", "--format", "json").stdout)
        out.update(rows=rows, registry_du=registry_du, puller_du=puller_du)
        h.log("pier image du on the puller:\n" + puller.cli("image", "du").stdout.decode())
    except (h.BenchError, ValueError) as e:
        error = str(e)
        h.warn(error)
    finally:
        h.with_cleanup(cleanups)

    out["error"] = error
    report(out, rows, error)
    ok = error is None and rows and all(r["fetched"] == r["expected"] for r in rows)
    return 0 if ok else 1


def stop_mesh(up: PierDaemon) -> None:
    """Stop `pier up` and sweep it, then its wireguard-go, which outlives the agent by design (by PID)."""
    up.cleanup()
    h.stop_mesh({MESH_INTERFACE})


def report(out: dict, rows: list[dict], error: str | None) -> None:
    print(f"\nThe example base-image hierarchy (examples/images), pushed to a `pier up`'s registry with skopeo "
          f"and pulled by a second node with `pier image pull`; pier {out['host'].get('pier', '?')}\n")
    if rows:
        table = [[r["image"], mb(r["size"]), mb(r["fetched"]),
                  "yes" if r["fetched"] == r["expected"] else f"NO: expected {r['expected']} bytes"] for r in rows]
        total_size = sum(r["size"] for r in rows)
        total_fetched = sum(r["fetched"] for r in rows)
        table.append(["all images", mb(total_size), mb(total_fetched), f"{total_fetched / total_size:.0%} of the sum"])
        print(h.table(["image, in pull order", "size alone", "its pull fetched", "only what was missing"], table))
        for label, du in (("pier up (the registry's store)", out.get("registry_du")),
                          ("second node (after the pulls)", out.get("puller_du"))):
            if du:
                print(f"\n{label}: content store {mb(du['contentStoreBytes'])}, each blob once "
                      f"({mb(du['unsharedTotalBytes'])} without sharing); unpacked layers {mb(du['unpackedLayerBytes'])}")
        if "push_seconds" in out:
            print(f"\npush of all {len(rows)} images {out['push_seconds']:.1f} s; pulls {out['pull_seconds']:.1f} s")
    if error:
        print(f"\nINCOMPLETE: {error}")
    print(f"\nraw numbers: {h.write_json('hierarchy', out)}")


if __name__ == "__main__":
    sys.exit(main())
