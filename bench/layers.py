#!/usr/bin/env python3
"""Layer sharing in Pier's image store: a base image and two images built `--from` it.

  bench/base:1  FROM scratch: /bin/busybox + /data (--data-mib MiB of incompressible files)
  bench/app1:1  FROM bench/base:1 + /app/app.bin (--app-kib KiB)
  bench/app2:1  FROM bench/base:1 + /app/app.bin (other bytes)
all built with `pier image build` against an agent started here with its own data root; each image
is run once (`pier run --rm --network none`) so its layers get unpacked. Then the content store's
`blobs/` and the unpacked `layers/` are measured on disk and compared with the naive sum (every image
holding its own copy of every blob and of every unpacked layer, as a store without sharing would),
and `pier image du` is printed. Raw numbers go to bench/out/layers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

MiB = 1024 * 1024
HEX64 = h.HEX64
IMAGES = ["bench/base:1", "bench/app1:1", "bench/app2:1"]


def find_dir(root: Path, name: str, accept) -> Path | None:
    """The first directory called `name` under `root` (4 levels at most) that `accept` likes."""
    for dirpath, dirnames, _ in os.walk(root):
        if Path(dirpath).relative_to(root).parts.__len__() > 4:
            dirnames[:] = []
            continue
        if name in dirnames and accept(Path(dirpath) / name):
            return Path(dirpath) / name
    return None


def make_inputs(work: Path, data_mib: int, app_kib: int) -> dict:
    rng = random.Random(20261123)
    data = work / "data"
    data.mkdir()
    per_file = MiB
    for i in range(data_mib):
        (data / f"blob-{i:02d}.bin").write_bytes(rng.randbytes(per_file))
    apps = {}
    for name in ("app1", "app2"):
        path = work / f"{name}.bin"
        path.write_bytes(rng.randbytes(app_kib * 1024))
        apps[name] = path
    return {"data": data, **apps}


def inspect(agent: h.PierAgent, ref: str) -> dict:
    out = agent.cli("image", "inspect", ref).stdout.decode()
    try:
        parsed = json.loads(out)
    except json.JSONDecodeError as e:
        raise h.BenchError(f"pier image inspect {ref} did not print JSON ({e}): {out[:200]}") from None
    if isinstance(parsed, list):
        if len(parsed) != 1:
            raise h.BenchError(f"pier image inspect {ref} printed {len(parsed)} images, expected 1")
        parsed = parsed[0]
    for key in ("summary", "configDigest", "layerDigests", "diffIDs"):
        if key not in parsed:
            raise h.BenchError(f"pier image inspect {ref}: no `{key}` in {sorted(parsed)}")
    return parsed


def hex_of(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or not HEX64.match(value):
        raise h.BenchError(f"unexpected digest {digest!r}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-mib", type=int, default=4, help="MiB of files in the base image (default 4)")
    parser.add_argument("--app-kib", type=int, default=64, help="KiB added by each app image (default 64)")
    args = parser.parse_args()
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=False)

    info = h.host_info()
    cleanups = []
    result: dict = {}
    error = None
    try:
        work = h.new_workdir("lay")
        cleanups.append(lambda: h.rmtree(work))
        inputs = make_inputs(work, args.data_mib, args.app_kib)
        try:
            pier = h.pier_binary()
            agent = h.PierAgent(h.new_workdir("pier"), pier)
            cleanups.append(agent.cleanup)
            agent.start()
            result = measure(agent, inputs)
        except h.BenchError as e:
            error = str(e)
            h.warn(error)
    finally:
        h.with_cleanup(cleanups)

    report(result, error, info, args)
    return 0 if error is None and result.get("checks_passed") else 1


def measure(agent: h.PierAgent, inputs: dict) -> dict:
    base, app1, app2 = IMAGES
    h.log("building the base image and two images from it with pier image build")
    agent.cli("image", "build", "--tag", base, "--from", "scratch",
              "--add", "/bin/busybox:/bin/busybox", "--add", f"{inputs['data']}:/data",
              "--cmd", '["/bin/busybox","sh"]')
    for ref, name in ((app1, "app1"), (app2, "app2")):
        agent.cli("image", "build", "--tag", ref, "--from", base, "--add", f"{inputs[name]}:/app/app.bin",
                  "--cmd", '["/bin/busybox","cat","/app/app.bin"]')
    for ref in IMAGES:  # unpacks each image's layers
        agent.cli("run", "--rm", "--network", "none", ref, "/bin/busybox", "true")

    details = {ref: inspect(agent, ref) for ref in IMAGES}
    blobs = find_dir(agent.data_root, "blobs", lambda p: (p / "sha256").is_dir())
    layers = find_dir(agent.data_root, "layers",
                      lambda p: any(HEX64.match(c.name) for c in p.iterdir() if c.is_dir()))
    if blobs is None:
        raise h.BenchError(f"no content store (blobs/sha256) under {agent.data_root}")
    if layers is None:
        raise h.BenchError(f"no unpacked layers (layers/<diff id>) under {agent.data_root}")

    def blob_size(digest: str) -> int:
        path = blobs / "sha256" / hex_of(digest)
        if not path.is_file():
            raise h.BenchError(f"blob {digest} of an image is not in {blobs}")
        return path.stat().st_size

    layer_bytes: dict[str, tuple[int, int]] = {}

    def unpacked(diff_id: str) -> tuple[int, int]:
        if diff_id not in layer_bytes:
            path = layers / hex_of(diff_id)
            if not path.is_dir():
                raise h.BenchError(f"layer {diff_id} was not unpacked to {path}")
            layer_bytes[diff_id] = h.tree_bytes(path)
        return layer_bytes[diff_id]

    images = []
    referenced: set[str] = set()
    for ref, d in details.items():
        digests = [d["summary"]["digest"], d["configDigest"], *d["layerDigests"]]
        referenced.update(digests)
        images.append({
            "ref": ref, "digest": d["summary"]["digest"], "layers": d["layerDigests"], "diffIDs": d["diffIDs"],
            "blob_bytes": sum(blob_size(x) for x in digests),
            "unpacked_bytes": sum(unpacked(x)[0] for x in d["diffIDs"]),
            "unpacked_disk_bytes": sum(unpacked(x)[1] for x in d["diffIDs"]),
            "reported_size": d["summary"].get("size"), "reported_shared": d["summary"].get("sharedSize"),
        })

    stored_blobs = {p.name for p in (blobs / "sha256").iterdir() if p.is_file()}
    blob_store = h.tree_bytes(blobs / "sha256")
    layer_store = h.tree_bytes(layers)
    distinct_blob_bytes = sum(blob_size(x) for x in referenced)
    distinct_diff_ids = {x for i in images for x in i["diffIDs"]}
    base_layers = set(details[base]["layerDigests"])
    checks = {
        "apps reuse every base layer by digest": all(base_layers <= set(details[r]["layerDigests"])
                                                    for r in (app1, app2)),
        "each referenced blob is one file in blobs/sha256":
            {hex_of(x) for x in referenced} <= stored_blobs,
        "blobs/ is smaller than the naive sum": blob_store[0] < sum(i["blob_bytes"] for i in images),
        "one unpacked dir per distinct diff id":
            {hex_of(x) for x in distinct_diff_ids} <= {c.name for c in layers.iterdir() if c.is_dir()},
        "layers/ is smaller than the naive sum":
            layer_store[0] < sum(i["unpacked_bytes"] for i in images),
    }
    du = agent.cli("image", "du").stdout.decode()
    return {
        "images": images,
        "blobs_dir": str(blobs), "layers_dir": str(layers),
        "blobs_apparent": blob_store[0], "blobs_disk": blob_store[1],
        "blobs_files": len(stored_blobs), "blobs_referenced": len(referenced),
        "distinct_referenced_blob_bytes": distinct_blob_bytes,
        "naive_blob_bytes": sum(i["blob_bytes"] for i in images),
        "layers_apparent": layer_store[0], "layers_disk": layer_store[1],
        "layers_distinct": len(distinct_diff_ids),
        "naive_unpacked_bytes": sum(i["unpacked_bytes"] for i in images),
        "naive_unpacked_disk_bytes": sum(i["unpacked_disk_bytes"] for i in images),
        "checks": checks, "checks_passed": all(checks.values()),
        "pier_image_du": du,
    }


def mib(n: int) -> str:
    return f"{n / MiB:.2f}"


def report(r: dict, error: str | None, info: dict, args) -> None:
    print()
    print(f"Layer sharing: base ({args.data_mib} MiB of data + busybox) and two images --from it (+{args.app_kib} KiB each)")
    print(f"host: {info['kernel']} {info['machine']} (git {info.get('git') or '?'})")
    print()
    if error:
        print(f"FAILED: {error}")
    if r:
        print(h.table(["image", "layers", "blobs MiB", "unpacked MiB", "pier size MiB", "pier shared MiB"],
                      [[i["ref"], len(i["layers"]), mib(i["blob_bytes"]), mib(i["unpacked_bytes"]),
                        mib(i["reported_size"]) if isinstance(i["reported_size"], int) else "-",
                        mib(i["reported_shared"]) if isinstance(i["reported_shared"], int) else "-"]
                       for i in r["images"]]))
        print()
        rows = [
            ["blobs/ (content store)", mib(r["blobs_apparent"]), mib(r["naive_blob_bytes"]),
             f"{r['blobs_apparent'] / r['naive_blob_bytes']:.2f}", f"{r['blobs_files']} files, "
             f"{r['blobs_referenced']} referenced"],
            ["layers/ (unpacked)", mib(r["layers_apparent"]), mib(r["naive_unpacked_bytes"]),
             f"{r['layers_apparent'] / r['naive_unpacked_bytes']:.2f}" if r["naive_unpacked_bytes"] else "-",
             f"{r['layers_distinct']} distinct diff ids"],
        ]
        print(h.table(["store", "on disk MiB", "naive sum MiB", "ratio", "notes"], rows, left=(0, 4)))
        print()
        for name, ok in r["checks"].items():
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
        print()
        print("pier image du:")
        print(r["pier_image_du"].rstrip())
    path = h.write_json("layers", {"benchmark": "layers", "host": info, "data_mib": args.data_mib,
                                   "app_kib": args.app_kib, "result": r, "error": error})
    print(f"raw numbers: {path}")


if __name__ == "__main__":
    sys.exit(main())
