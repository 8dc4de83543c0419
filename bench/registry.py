#!/usr/bin/env python3
"""Registry push and pull throughput: the Pier manager's registry against Debian's docker-registry
(distribution 2.8), with skopeo as the client of both, same images, same machine, one run.

Each round makes a new image of random (incompressible) data, --size-mb in --layers gzip layers
(gzip level 1, so skopeo sends them as they are), as an OCI layout, and then, in alternating order:
  push  `skopeo copy oci:LAYOUT docker://REGISTRY/bench/imgN:1`
  pull  `skopeo copy docker://REGISTRY/bench/imgN:1 dir:NEW_DIR`
Both registries speak TLS on 127.0.0.1 with a certificate of the same kind (Pier: its cluster CA
and mutual TLS with a manager-role client certificate from `pier cert create`; docker-registry: a
server certificate signed by a CA made here, no client certificate). A new image per round means
nothing is ever already there. Pulled bytes are checked against the pushed digests. Raw numbers
go to bench/out/registry.json.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon, wait_for  # noqa: E402

BRIDGE = ("pbreg0", "10.251.40.0/24")


def blob(path: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (path / "blobs" / "sha256" / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def make_image(layout: Path, size_bytes: int, layers: int) -> list[str]:
    """An OCI layout with `layers` gzip layers of random data; returns the layer digests."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descriptors, diff_ids = [], []
    per_layer = size_bytes // layers
    for i in range(layers):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(f"data/layer{i}.bin")
            info.size = per_layer
            tar.addfile(info, io.BytesIO(os.urandom(per_layer)))
        tar_bytes = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        digest, size = blob(layout, gzip.compress(tar_bytes, compresslevel=1, mtime=0))
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
    config = json.dumps({"architecture": h.oci_arch(), "os": "linux", "config": {"Cmd": ["/data"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cdigest, csize = blob(layout, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
                           "layers": descriptors}).encode()
    mdigest, msize = blob(layout, manifest)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": msize,
         "annotations": {"org.opencontainers.image.ref.name": "1"}}]}))
    return [d["digest"] for d in descriptors]


def openssl(*args: str) -> None:
    h.run(["openssl", *args], timeout=60)


class DockerRegistry:
    """Debian's docker-registry (distribution 2.8) with filesystem storage, stopped by PID.

    By default on 127.0.0.1 with TLS (a server certificate signed by a CA made here, in `certs/`);
    `host` and `netns` put it on another address inside a network namespace (`nsenter --net`), and
    `tls=False` serves plain HTTP (clients then treat it as an insecure registry)."""

    def __init__(self, work: Path, port: int, host: str = "127.0.0.1", netns: str | None = None, tls: bool = True):
        self.work, self.port, self.host = work, port, host
        work.mkdir(parents=True)
        self.certs = work / "certs"
        tls_config = ""
        if tls:
            self.certs.mkdir()
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(work / "ca.key"), "-out", str(self.certs / "ca.crt"), "-days", "2", "-subj", "/CN=bench-ca")
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(work / "server.key"), "-out", str(work / "server.csr"), "-subj", f"/CN={host}")
            (work / "ext.cnf").write_text(f"subjectAltName=IP:{host}\n")
            openssl("x509", "-req", "-in", str(work / "server.csr"), "-CA", str(self.certs / "ca.crt"), "-CAkey",
                    str(work / "ca.key"), "-CAcreateserial", "-out", str(work / "server.crt"), "-days", "2",
                    "-extfile", str(work / "ext.cnf"))
            tls_config = f"""
  tls:
    certificate: {work / 'server.crt'}
    key: {work / 'server.key'}"""
        (work / "config.yml").write_text(f"""version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {work / 'data'}
  delete:
    enabled: true
http:
  addr: {host}:{port}{tls_config}
""")
        self.log = work / "registry.log"
        enter = ["nsenter", f"--net=/var/run/netns/{netns}"] if netns else []
        with open(self.log, "wb") as out:
            # nsenter execs the registry: the PID is the registry's.
            self.proc = subprocess.Popen([*enter, "docker-registry", "serve", str(work / "config.yml")], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for("docker-registry listening", self._ready, timeout=30, interval=0.05)
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise h.BenchError(f"docker-registry exited: {h.tail(self.log.read_text(errors='replace'))}")
        with socket.socket() as s:
            return s.connect_ex((self.host, self.port)) == 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            h.stop_pid(self.proc.pid, "docker-registry", grace=5)
        self.proc.wait()


def skopeo(*args: str) -> float:
    return h.timed(["skopeo", "--insecure-policy", *args], timeout=600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5, after one warm-up)")
    parser.add_argument("--size-mb", type=int, default=64, help="image size in MiB (default 64)")
    parser.add_argument("--layers", type=int, default=4, help="layers per image (default 4)")
    args = parser.parse_args()
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=True)
    if not shutil.which("docker-registry"):
        sys.exit("docker-registry is missing: scripts/setup.sh --with-docker installs it")
    pier = h.pier_binary()
    info = h.host_info()
    samples: dict[str, list[float]] = {k: [] for k in ("pier push", "pier pull", "distribution push", "distribution pull")}
    cleanups: list[Callable[[], None]] = []
    out: dict = {"host": info, "args": vars(args)}
    try:
        work = h.new_workdir("reg")
        cleanups.append(lambda: h.rmtree(work))
        pier_port, dist_port = h.free_port(), h.free_port()
        manager = PierDaemon(h.new_workdir("regm"), pier, ["manager"], BRIDGE, "pb-registry", ready_path="/v1/cluster")
        cleanups.append(manager.cleanup)
        manager.start(extra=["--listen", f"tcp://127.0.0.1:{pier_port}"])
        certs = work / "pier-certs"
        manager.cli("cert", "create", "bench", "--role", "operator", "-o", str(certs))
        shutil.copy(certs / "ca.pem", certs / "ca.crt")
        shutil.copy(certs / "node.pem", certs / "client.cert")
        shutil.copy(certs / "node-key.pem", certs / "client.key")
        dist = DockerRegistry(work / "distribution", dist_port)
        cleanups.append(dist.stop)
        info["pier"] = manager.version()
        info["docker-registry"] = h.run(["docker-registry", "--version"], check=False).stdout.decode().strip()
        registries = {"pier": (f"127.0.0.1:{pier_port}", certs), "distribution": (f"127.0.0.1:{dist_port}", dist.certs)}
        size = 0
        for i in range(args.rounds + 1):
            layout = work / f"img{i}"
            layer_digests = make_image(layout, args.size_mb << 20, args.layers)
            size = sum((layout / "blobs" / "sha256" / d.split(":")[1]).stat().st_size for d in layer_digests)
            order = list(registries) if i % 2 == 0 else list(reversed(registries))
            for name in order:
                host, cert_dir = registries[name]
                ref = f"docker://{host}/bench/img{i}:1"
                push = skopeo("copy", "--dest-cert-dir", str(cert_dir), f"oci:{layout}:1", ref)
                pulled = work / f"pulled-{name}-{i}"
                pull = skopeo("copy", "--src-cert-dir", str(cert_dir), ref, f"dir:{pulled}")
                for d in layer_digests:
                    data = (pulled / d.split(":")[1]).read_bytes()
                    if "sha256:" + hashlib.sha256(data).hexdigest() != d:
                        raise h.BenchError(f"{name}: pulled layer {d} does not match")
                h.rmtree(pulled)
                if i > 0:
                    samples[f"{name} push"].append(push)
                    samples[f"{name} pull"].append(pull)
                h.log(f"round {i} {name}: push {push * 1000:.0f} ms, pull {pull * 1000:.0f} ms")
            h.rmtree(layout)
        out["bytes"] = size
        out["samples_s"] = samples
    except h.BenchError as e:
        h.warn(str(e))
        out["error"] = str(e)
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json("registry", out)
    if "samples_s" in out:
        mib = out["bytes"] / (1 << 20)
        print(f"\nskopeo copy of a {mib:.1f} MiB image ({args.layers} gzip layers of random data), median of {args.rounds} rounds")
        rows = []
        for op in ("push", "pull"):
            p, d = h.median(samples[f"pier {op}"]), h.median(samples[f"distribution {op}"])
            rows.append([op, f"{p * 1000:.0f}", f"{mib / p:.0f}", f"{d * 1000:.0f}", f"{mib / d:.0f}", f"{d / p:.2f}×"])
        print(h.table(["", "Pier ms", "Pier MiB/s", "distribution ms", "distribution MiB/s", "Pier speed-up"], rows))
    print(f"\nraw numbers: {path}")
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
