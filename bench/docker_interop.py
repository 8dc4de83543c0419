#!/usr/bin/env python3
"""Docker against the Pier manager's registry: `docker login`, `push`, `pull` and `run`.

Not a benchmark: a check, by hand, that Debian's dockerd (docker.io, started here with its own data
root, see harness.Dockerd) works with the registry and its token flow. It needs
`scripts/setup.sh --with-docker`; the test suite checks the same flow with skopeo.

What it does, all on loopback:
  1. a `pier manager` listening on tcp://127.0.0.1:PORT; the cluster CA in
     /etc/docker/certs.d/127.0.0.1:PORT/ca.crt (removed at the end) so that dockerd verifies it;
  2. credentials `docker-push` (--push) and `docker-pull`;
  3. a busybox image (docker import of a rootfs), `docker push` without login: refused;
     `docker login` with the pull credential, `docker push`: refused (denied);
     `docker login` with the push credential, `docker push`: stored (checked with `pier image ls`);
  4. `docker rmi`, `docker login` with the pull credential, `docker pull`, `docker run --rm`.
Prints one line per step and exits non-zero when a step does not do what it should.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon  # noqa: E402

BRIDGE = ("pbdkr0", "10.251.43.0/24")


def main() -> int:
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=True)
    pier = h.pier_binary()
    cleanups = []
    failures: list[str] = []

    def step(name: str, proc: subprocess.CompletedProcess, ok: bool) -> None:
        text = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {text[-1] if text else ''}")
        if not ok:
            failures.append(name)

    try:
        work = h.new_workdir("dkr")
        cleanups.append(lambda: h.rmtree(work))
        port = h.free_port()
        registry = f"127.0.0.1:{port}"
        manager = PierDaemon(h.new_workdir("dkrm"), pier, ["manager"], BRIDGE, "pb-dkr", ready_path="/v1/cluster")
        cleanups.append(manager.cleanup)
        manager.start(extra=["--listen", f"tcp://{registry}"])

        certs = work / "certs"
        manager.cli("cert", "create", "unused", "--role", "readonly", "-o", str(certs))
        trust = Path("/etc/docker/certs.d") / registry
        trust.mkdir(parents=True, exist_ok=False)
        cleanups.append(lambda: shutil.rmtree(trust, ignore_errors=True))
        shutil.copy(certs / "ca.pem", trust / "ca.crt")
        pusher = manager.cli("registry", "credential", "create", "-q", "--push", "docker-push").stdout.decode().strip()
        puller = manager.cli("registry", "credential", "create", "-q", "docker-pull").stdout.decode().strip()

        docker = h.Dockerd(h.new_workdir("dkrd"))
        cleanups.append(docker.cleanup)
        docker.start()
        docker.env["DOCKER_CONFIG"] = str(work / "docker-config")  # docker login writes here, not ~/.docker

        rootfs = work / "rootfs.tar"
        with tarfile.open(rootfs, "w") as tar:
            tar.add("/bin/busybox", arcname="bin/busybox")
            for tool in ("sh", "echo"):
                info = tarfile.TarInfo(f"bin/{tool}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
        image = f"{registry}/edge/docker-check:1"
        docker.load_rootfs(rootfs, image)

        def run(*args: str) -> subprocess.CompletedProcess:
            return h.run([docker.client, *args], env=docker.env, check=False, timeout=120)

        def login(user: str, secret: str) -> subprocess.CompletedProcess:
            return h.run([docker.client, "login", "-u", user, "--password-stdin", registry], env=docker.env,
                         check=False, timeout=60, input=secret.encode())

        p = run("push", image)
        step("push without login is refused", p, p.returncode != 0)
        p = login("docker-pull", puller)
        step("login with the pull credential", p, p.returncode == 0)
        p = run("push", image)
        step("push with the pull credential is refused", p, p.returncode != 0)
        p = login("docker-push", pusher)
        step("login with the push credential", p, p.returncode == 0)
        p = run("push", image)
        step("push with the push credential", p, p.returncode == 0)
        listed = manager.cli("image", "ls")
        step("the manager lists the pushed image", listed, b"edge/docker-check" in listed.stdout)
        p = run("rmi", image)
        step("docker rmi", p, p.returncode == 0)
        p = login("docker-pull", puller)
        step("login with the pull credential again", p, p.returncode == 0)
        p = run("pull", image)
        step("pull", p, p.returncode == 0)
        p = run("run", "--rm", "--network", "none", image, "echo", "pulled from pier")
        step("run the pulled image", p, p.returncode == 0 and b"pulled from pier" in p.stdout)
        p = login("docker-pull", "wrong-secret")
        step("login with a wrong secret is refused", p, p.returncode != 0)
    except h.BenchError as e:
        h.warn(str(e))
        failures.append(str(e))
    finally:
        h.with_cleanup(cleanups)
    print("docker interop: " + ("all steps as expected" if not failures else f"{len(failures)} step(s) failed"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
