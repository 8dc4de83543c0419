"""Shared pieces of Pier's benchmarks (Python 3 standard library only).

Each benchmark sets up its peers itself and removes everything afterwards:
  * `Dockerd`: a dockerd started by the benchmark with its own data root, exec root, pid file,
    socket and bridge (no iptables rules), stopped by its PID;
  * `PierAgent`: a `pier agent` with its own data root and socket, stopped by its PID, followed by a
    sweep that removes whatever the agent left behind (and warns, since a leftover is a Pier bug);
  * a busybox root filesystem, a deterministic layer tar of it and an OCI image archive of that layer,
    so that runc, Docker and Pier all run the same bytes.
Nothing is shared with a Docker or Pier installation that may already be running on the machine.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
IMAGE_REF = "bench/busybox:1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
BUSYBOX = Path("/bin/busybox")


class BenchError(Exception):
    """A step of a benchmark failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"[bench] WARNING: {message}", file=sys.stderr, flush=True)


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit so `finally` blocks clean up."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def require_root() -> None:
    if os.geteuid() != 0:
        sys.exit("the benchmarks start runc, dockerd and pier agent: run them as root")


def ensure_packages(with_docker: bool) -> None:
    """`scripts/setup.sh --no-build [--with-docker]`: quick when everything is installed already."""
    cmd = [str(REPO / "scripts" / "setup.sh"), "--no-build"] + (["--with-docker"] if with_docker else [])
    proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")


# --------------------------------------------------------------------------------------------
# Processes


def run(cmd: Sequence[str], *, env: dict | None = None, timeout: float = 120, check: bool = True,
        input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run a command, capturing its output; raise BenchError naming the command if it fails."""
    try:
        proc = subprocess.run(list(cmd), env=env, input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except FileNotFoundError as e:
        raise BenchError(f"{cmd[0]}: not found ({e})") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` exited with {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
    return proc


def timed(cmd: Sequence[str], *, env: dict | None = None, timeout: float = 60) -> float:
    """Wall-clock seconds of one run of `cmd` (stdout discarded); BenchError if it fails."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(list(cmd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except FileNotFoundError as e:
        raise BenchError(f"{cmd[0]}: not found ({e})") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s") from None
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` exited with {proc.returncode}: {tail(proc.stderr)}")
    return elapsed


def tail(data: bytes | str | None, lines: int = 6) -> str:
    if not data:
        return "(no output)"
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return " | ".join(text.strip().splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def stop_pid(pid: int, name: str, grace: float = 20) -> None:
    """SIGTERM one process we started, SIGKILL it after `grace` seconds."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    warn(f"{name} (pid {pid}) ignored SIGTERM for {grace:.0f} s; sending SIGKILL")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)


class Proc:
    """One entry of /proc."""

    def __init__(self, pid: int, ppid: int, comm: str, argv: list[str]):
        self.pid, self.ppid, self.comm, self.argv = pid, ppid, comm, argv

    def __repr__(self) -> str:
        return f"Proc({self.pid}, {self.comm!r})"


def processes() -> list[Proc]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        out.append(Proc(int(entry), int(fields.get("PPid", "0").strip()), fields.get("Name", "").strip(),
                        [a.decode(errors="replace") for a in argv if a]))
    return out


def memory_of(pid: int) -> tuple[int, int | None]:
    """(RSS bytes, PSS bytes or None) of a process, from /proc/PID/status and smaps_rollup."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    pss = None
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


# --------------------------------------------------------------------------------------------
# Statistics and output


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def median(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    n = len(ordered)
    if n == 0:
        raise ValueError("no samples")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], left: Iterable[int] = (0,)) -> str:
    """A plain-text table; columns in `left` are left-aligned, the others (numbers) right-aligned."""
    rows = [[str(c) for c in r] for r in rows]
    left = set(left)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    def fmt(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    lines = [fmt(headers), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def write_json(name: str, payload: dict) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path


def host_info() -> dict:
    def version(cmd):
        try:
            return run(cmd, timeout=10).stdout.decode().strip().splitlines()[0]
        except (BenchError, IndexError):
            return None
    try:
        rev = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], timeout=10).stdout.decode().strip()
    except BenchError:
        rev = None
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "runc": version(["runc", "--version"]),
        "git": rev,
    }


# --------------------------------------------------------------------------------------------
# Images: a busybox root filesystem, its layer tar, and an OCI archive of it


def make_busybox_rootfs(root: Path) -> Path:
    """busybox-static with a symlink per applet, and the files a container expects."""
    if not BUSYBOX.exists():
        raise BenchError(f"{BUSYBOX} is missing: install busybox-static (scripts/setup.sh)")
    (root / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = run([str(BUSYBOX), "--list-full"]).stdout.decode().split()
    for rel in applets:
        link = root / rel
        if rel == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    for d in ("etc", "proc", "sys", "dev", "tmp", "root"):
        (root / d).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return root


def write_layer_tar(rootfs: Path, out: Path) -> Path:
    """A deterministic, uncompressed tar of `rootfs` (sorted, owner 0:0, mtime 0)."""
    def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, recursive=True, filter=normalize)
    return out


def oci_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm"}.get(machine, machine)


def write_oci_archive(layer_tar: Path, out: Path, ref_name: str, cmd: list[str]) -> dict:
    """An oci-archive (a tar of an OCI image layout, image-spec v1.1) holding one gzip layer.

    Returns the digests, so callers can check what a store made of it.
    """
    raw = layer_tar.read_bytes()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    layer = gzip.compress(raw, compresslevel=6, mtime=0)
    config = json.dumps({
        "architecture": oci_arch(),
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "pier bench: busybox-static rootfs"}],
    }, sort_keys=True, separators=(",", ":")).encode()

    def desc(media_type, data, **extra):
        return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                "size": len(data), **extra}

    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
    }, sort_keys=True, separators=(",", ":")).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [desc("application/vnd.oci.image.manifest.v1+json", manifest,
                           annotations={"org.opencontainers.image.ref.name": ref_name},
                           platform={"architecture": oci_arch(), "os": "linux"})],
    }, sort_keys=True, separators=(",", ":")).encode()

    files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    files += [("blobs/sha256/" + hashlib.sha256(b).hexdigest(), b) for b in (config, manifest, layer)]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return {"manifest": desc("", manifest)["digest"], "config": desc("", config)["digest"],
            "layer": desc("", layer)["digest"], "diff_id": diff_id}


# --------------------------------------------------------------------------------------------
# Mounts, namespaces, cgroups, links: what a run may leave behind


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()).rstrip("/") + "/"
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].replace("\\040", " ")
        if mount_point.startswith(prefix) or mount_point == prefix.rstrip("/"):
            found.append(mount_point)
    return found


def unmount_under(path: Path) -> list[str]:
    """Lazily unmount everything under `path`, deepest first; returns what was unmounted."""
    done = []
    for _ in range(5):
        points = sorted(set(mounts_under(path)), key=len, reverse=True)
        if not points:
            break
        for point in points:
            if subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL).returncode == 0:
                done.append(point)
    return done


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def cgroup_dirs(group: str) -> set[Path]:
    """Every cgroup directory below `group` (e.g. "pier") in every v1 hierarchy and in v2."""
    found = set()
    base = Path("/sys/fs/cgroup")
    candidates = [base / group] + [h / group for h in base.iterdir() if h.is_dir()] if base.exists() else []
    for top in candidates:
        if top.is_dir():
            for dirpath, dirnames, _ in os.walk(top):
                for d in dirnames:
                    found.add(Path(dirpath) / d)
    return found


def remove_cgroups(dirs: Iterable[Path]) -> None:
    for d in sorted(dirs, key=lambda p: len(str(p)), reverse=True):
        try:
            d.rmdir()
        except OSError as e:
            warn(f"cannot remove cgroup {d}: {e}")


def rmtree(path: Path) -> None:
    left = unmount_under(path)
    if left:
        warn(f"unmounted {len(left)} leftover mount(s) under {path}: {', '.join(left[:5])}")
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        warn(f"could not remove {path} completely")


def tree_bytes(path: Path, one_filesystem: bool = False) -> tuple[int, int]:
    """(apparent bytes of regular files, bytes allocated on disk) under `path`; hard links once.
    `one_filesystem`: do not descend into mounts (a running container's merged overlay)."""
    seen = set()
    apparent = allocated = 0
    root_dev = os.lstat(path).st_dev if one_filesystem else None
    for dirpath, dirnames, filenames in os.walk(path):
        if root_dev is not None:
            dirnames[:] = [d for d in dirnames if os.lstat(os.path.join(dirpath, d)).st_dev == root_dev]
        for name in filenames + dirnames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            allocated += st.st_blocks * 512
            if not os.path.isdir(os.path.join(dirpath, name)):
                apparent += st.st_size
    return apparent, allocated


# --------------------------------------------------------------------------------------------
# Docker: a dockerd of our own


class Dockerd:
    """A dockerd started by the benchmark in `workdir`, isolated from any system Docker.

    Its own --data-root, --exec-root, --pidfile, socket, config file and a bridge `pbdock0` created
    here (so docker0 is not touched); --iptables=false, so it adds no firewall rules. It starts its own
    containerd, which stops with it.
    """

    BRIDGE = "pbdock0"
    BRIDGE_ADDR = "172.30.251.1/24"

    def __init__(self, workdir: Path, config: dict | None = None, netns: str | None = None,
                 iptables: bool = False):
        self.workdir = workdir
        # In a network namespace (`nsenter --net`, not `ip netns exec`, which remounts /sys): the bridge
        # is made inside it, and iptables rules, if enabled, live and die with it.
        self.netns = netns
        self.iptables = iptables
        # Extra daemon.json settings (e.g. {"userns-remap": "default"}); read at every start.
        self.config = dict(config or {})
        self.data_root = workdir / "data"
        self.exec_root = workdir / "exec"
        self.pidfile = workdir / "dockerd.pid"
        self.socket = workdir / "docker.sock"
        self.logfile = workdir / "dockerd.log"
        self.proc: subprocess.Popen | None = None
        self.containerd_pids: set[int] = set()
        self.created_bridge = False
        # dockerd always makes /run/docker/plugins, whatever its exec root.
        self.run_docker_existed = Path("/run/docker").exists()
        self.client = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (shutil.which("docker") or "docker")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.socket}")
        self.env.pop("DOCKER_CONTEXT", None)

    def start(self) -> None:
        dockerd = shutil.which("dockerd")
        if not dockerd:
            raise BenchError("dockerd not found: run `scripts/setup.sh --with-docker` to install docker.io")
        for d in (self.data_root, self.exec_root):
            d.mkdir(parents=True, exist_ok=True)
        # dockerd 20.10 writes its trust key to /etc/docker/key.json unless told otherwise.
        config = self.workdir / "daemon.json"
        config.write_text(json.dumps({"deprecated-key-path": str(self.workdir / "key.json"), **self.config}) + "\n")
        ip = ["ip", "-n", self.netns] if self.netns else ["ip"]
        if not self._bridge_exists():
            run([*ip, "link", "add", self.BRIDGE, "type", "bridge"])
            self.created_bridge = True
            run([*ip, "addr", "add", self.BRIDGE_ADDR, "dev", self.BRIDGE])
            run([*ip, "link", "set", self.BRIDGE, "up"])
        log(f"starting dockerd (data root {self.data_root}" + (f", network namespace {self.netns})" if self.netns else ")"))
        enter = ["nsenter", f"--net=/var/run/netns/{self.netns}"] if self.netns else []
        firewall = ["--iptables=true", "--ip-masq=true"] if self.iptables else ["--iptables=false", "--ip-masq=false"]
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(
                [*enter, dockerd, "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
                 "--pidfile", str(self.pidfile), "-H", f"unix://{self.socket}", "--config-file", str(config),
                 "--bridge", self.BRIDGE, *firewall, "--ip6tables=false"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"dockerd exited with {self.proc.returncode}: {tail(self.logfile.read_text(), 8)}")
            if self.socket.exists() and run([self.client, "version"], env=self.env, check=False,
                                            timeout=10).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"dockerd did not answer on {self.socket} within 60 s: {tail(self.logfile.read_text(), 8)}")
            time.sleep(0.2)
        self.containerd_pids = {p.pid for p in processes() if p.ppid == self.proc.pid and p.comm == "containerd"}
        log(f"dockerd {self.server_version()} up (pid {self.proc.pid}, containerd {sorted(self.containerd_pids)})")

    def _bridge_exists(self) -> bool:
        if not self.netns:
            return link_exists(self.BRIDGE)
        return run(["ip", "-n", self.netns, "link", "show", self.BRIDGE], check=False).returncode == 0

    def server_version(self) -> str:
        proc = run([self.client, "version", "--format", "{{.Server.Version}}"], env=self.env, check=False)
        return proc.stdout.decode().strip() or "?"

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run([self.client, *args], env=self.env, timeout=timeout)

    def cmd(self, *args: str) -> list[str]:
        return [self.client, *args]

    def load_rootfs(self, layer_tar: Path, ref: str) -> None:
        self.docker("import", "--change", 'CMD ["sh"]', str(layer_tar), ref)

    def shim_pids(self) -> list[int]:
        address = str(self.exec_root)
        return [p.pid for p in processes() if p.comm.startswith("containerd-shim") and any(address in a for a in p.argv)]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            ids = run([self.client, "ps", "-aq"], env=self.env, check=False).stdout.decode().split()
            if ids:
                run([self.client, "rm", "-f", *ids], env=self.env, check=False)
        shims = self.shim_pids()
        stop_pid(self.proc.pid, "dockerd", grace=30)
        self.proc.wait()
        # dockerd stops the containerd it started; make sure, by the PIDs we saw.
        for pid in sorted(self.containerd_pids) + shims:
            if pid_alive(pid):
                warn(f"process {pid} started by our dockerd is still running; stopping it")
                stop_pid(pid, "containerd", grace=10)
        self.proc = None

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            if self.created_bridge and self._bridge_exists():
                run((["ip", "-n", self.netns] if self.netns else ["ip"]) + ["link", "del", self.BRIDGE], check=False)
            if not self.run_docker_existed:
                for d in (Path("/run/docker/plugins"), Path("/run/docker")):
                    try:
                        d.rmdir()
                    except OSError:
                        pass
            rmtree(self.workdir)


# --------------------------------------------------------------------------------------------
# Pier: an agent of our own


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def http_get(socket_path: Path, path: str) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(str(socket_path))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def baseline_pier_binary() -> Path | None:
    """`PIER_BASELINE` from the environment: an earlier build to time beside `PIER` in the same run."""
    if not os.environ.get("PIER_BASELINE"):
        return None
    path = Path(os.environ["PIER_BASELINE"])
    if not os.access(path, os.X_OK):
        raise BenchError(f"PIER_BASELINE={path} is not an executable")
    return path


def pier_binary() -> Path:
    """`PIER` from the environment, else .build/release/pier, built with `swift build -c release` if missing."""
    if os.environ.get("PIER"):
        path = Path(os.environ["PIER"])
        if not os.access(path, os.X_OK):
            raise BenchError(f"PIER={path} is not an executable")
        return path
    path = REPO / ".build" / "release" / "pier"
    if not path.exists():
        swift = shutil.which("swift") or "/opt/swift/usr/bin/swift"
        log(f"{path} is missing; running `swift build -c release --static-swift-stdlib` in {REPO} (takes minutes)")
        proc = None
        for product in ("pier", "pier-shim"):
            proc = subprocess.run([swift, "build", "-c", "release", "--static-swift-stdlib", "--product", product],
                                  cwd=REPO, stdout=sys.stderr, stderr=sys.stderr)
            if proc.returncode != 0:
                break
        if proc.returncode != 0 or not path.exists():
            raise BenchError(f"`swift build -c release` failed (exit {proc.returncode}); set PIER=/path/to/pier")
    return path


class PierAgent:
    """A `pier agent` started by the benchmark with its own data root and socket in `workdir`."""

    def __init__(self, workdir: Path, pier: Path, bridge: str = "pbpier0", subnet: str = "10.251.0.0/24"):
        self.workdir = workdir
        self.pier = pier
        self.OWN_BRIDGE = bridge
        self.OWN_SUBNET = subnet
        self.data_root = workdir / "root"
        self.socket = self.data_root / "pier.sock"
        self.logfile = workdir / "agent.log"
        self.proc: subprocess.Popen | None = None
        self.env = dict(os.environ, PIER_HOST=f"unix://{self.socket}")
        shim = pier.parent / "pier-shim"
        if shim.exists():
            self.env.setdefault("PIER_SHIM", str(shim))
        self.own_bridge: str | None = None
        self.netns_before = netns_names()
        self.bridge_before = link_exists("pier0")

    OWN_BRIDGE = "pbpier0"
    OWN_SUBNET = "10.251.0.0/24"

    def start(self) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True)
        argv = [str(self.pier), "agent", "--data-root", str(self.data_root), "--listen", f"unix://{self.socket}"]
        # With its own bridge, this agent's containers cannot take addresses that another agent's
        # containers on pier0 hold (each agent has its own IPAM store).
        agent_help = run([str(self.pier), "agent", "--help"], check=False).stdout.decode()
        if re.search(r"--bridge <", agent_help):
            argv += ["--bridge", self.OWN_BRIDGE, "--bridge-subnet", self.OWN_SUBNET]
            self.own_bridge = self.OWN_BRIDGE
        elif self.bridge_in_use():
            warn("another pier agent uses the pier0 bridge and this pier has no `agent --bridge` option: "
                 "bridge-network containers of both draw addresses from separate IPAM stores and may collide")
        log(f"starting {self.pier} agent (data root {self.data_root})")
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"pier agent exited with {self.proc.returncode}: {tail(self.logfile.read_text(), 8)}")
            if self.socket.exists():
                try:
                    status, body = http_get(self.socket, "/v1/info")
                    if status == 200:
                        break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise BenchError(f"pier agent did not answer GET /v1/info on {self.socket} within 30 s: "
                                 f"{tail(self.logfile.read_text(), 8)}")
            time.sleep(0.05)
        log(f"pier agent up (pid {self.proc.pid})")

    def version(self) -> str:
        """`pier version` on one line: the client's and the agent's versions."""
        out = run(self.pier_cmd("version"), env=self.env, check=False).stdout.decode()
        versions = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("Version:")]
        return " / ".join(versions) or out.strip() or "?"

    def pier_cmd(self, *args: str) -> list[str]:
        return [str(self.pier), *args]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run(self.pier_cmd(*args), env=self.env, timeout=timeout)

    def load_image(self, oci_archive: Path, rootfs: Path, ref: str) -> None:
        """`pier image import` of the OCI archive; `pier image build` of the rootfs if import fails."""
        try:
            self.cli("image", "import", str(oci_archive), "--tag", ref)
            return
        except BenchError as first:
            warn(f"pier image import failed ({first}); trying pier image build")
            try:
                self.cli("image", "build", "--tag", ref, "--from", "scratch", "--add", f"{rootfs}:/",
                         "--cmd", '["sh"]')
            except BenchError as second:
                raise BenchError(f"cannot load {ref} into pier: import: {first}; build: {second}") from None

    def shim_pids(self) -> list[int]:
        root = str(self.data_root)
        return [p.pid for p in processes()
                if p.argv and Path(p.argv[0]).name == "pier-shim" and any(root in a for a in p.argv)]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            ps = run(self.pier_cmd("ps", "-aq"), env=self.env, check=False, timeout=30)
            ids = ps.stdout.decode().split() if ps.returncode == 0 else []
            if ids:
                run(self.pier_cmd("rm", "-f", *ids), env=self.env, check=False, timeout=60)
            stop_pid(self.proc.pid, "pier agent")
        self.proc.wait()
        self.proc = None

    def our_container_ids(self) -> set[str]:
        """Ids of containers of this agent still on disk (its containers/ and runc state dirs)."""
        ids = set()
        for d in (self.data_root / "containers", self.data_root / "runc"):
            if d.is_dir():
                ids |= {c.name for c in d.iterdir() if c.is_dir() and HEX64.match(c.name)}
        return ids

    def cleanup(self) -> None:
        """Stop the agent and remove what it left behind; each leftover is reported (a Pier bug).

        Other pier agents may run on this machine (a developer's, scripts/up.sh's), sharing the
        `pier0` bridge and the /pier cgroups: only what belongs to this agent's containers is removed,
        and pier0 only if this run made it and nothing else uses it.
        """
        try:
            self.stop()
        finally:
            for pid in self.shim_pids():
                warn(f"pier-shim {pid} of this benchmark's agent still runs; stopping it")
                stop_pid(pid, "pier-shim", grace=10)
            runc_root = self.data_root / "runc"
            if runc_root.is_dir():
                listed = run(["runc", "--root", str(runc_root), "list", "-q"], check=False).stdout.decode().split()
                for cid in listed:
                    warn(f"runc container {cid} left in {runc_root}; deleting it")
                    run(["runc", "--root", str(runc_root), "delete", "-f", cid], check=False)
            for cid in sorted(self.our_container_ids()):
                ns = f"pier-{cid[:12]}"
                if ns in netns_names():
                    warn(f"network namespace {ns} left behind; deleting it")
                    run(["ip", "netns", "delete", ns], check=False)
                left = {d for d in cgroup_dirs("pier") if d.name == cid}
                if left:
                    warn(f"cgroup /pier/{cid} left behind in {len(left)} hierarchies; removing it")
                    remove_cgroups(left)
            # Namespaces named in the agent's CNI state (containers', the pool's): a stopped agent leaves none.
            present = netns_names()
            for state_file, ns in cni_state_namespaces(self.data_root):
                if ns in present:
                    warn(f"network namespace {ns} ({state_file.name}) left behind; deleting it")
                    run(["ip", "netns", "delete", ns], check=False)
            others_held = {ns for root in Path("/tmp").glob("pb-*/root") for _, ns in cni_state_namespaces(root)}
            others = sorted(n for n in netns_names() - self.netns_before - others_held if n.startswith("pier"))
            if others:
                warn(f"network namespaces appeared during the run and are still there (another agent's?): {others}")
            if self.own_bridge and link_exists(self.own_bridge):
                run(["ip", "link", "del", self.own_bridge], check=False)
            if not self.bridge_before and link_exists("pier0") and not self.bridge_in_use():
                run(["ip", "link", "del", "pier0"], check=False)
            rmtree(self.workdir)

    @staticmethod
    def bridge_in_use() -> bool:
        """Whether an interface is attached to pier0 or another `pier agent` runs."""
        try:
            if any(Path("/sys/class/net/pier0/brif").iterdir()):
                return True
        except OSError:
            pass
        return any(len(p.argv) > 1 and Path(p.argv[0]).name == "pier" and p.argv[1] == "agent" for p in processes())


def cni_state_namespaces(data_root: Path) -> list[tuple[Path, str]]:
    """(state file, network namespace) for each CNI state file of the pier data root (a container's or
    the network pool's). The benchmarks' agents have their data roots in /tmp/pb-*/root."""
    pairs = []
    for state_file in sorted((data_root / "cni" / "results").glob("*.json")):
        try:
            ns = json.loads(state_file.read_text()).get("namespace")
        except (OSError, ValueError):
            continue
        if ns:
            pairs.append((state_file, ns))
    return pairs


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that nothing listens on now (TCP by default, or socket.SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_workdir(tag: str) -> Path:
    # Short paths: unix socket paths are limited to 108 bytes.
    return Path(tempfile.mkdtemp(prefix=f"pb-{tag}-", dir="/tmp"))


def stop_mesh(names: set[str]) -> None:
    """A Pier agent's mesh outlives it by design: the wireguard-go processes of the mesh interfaces
    `names` (this run's) go by PID, with their control sockets and links."""
    for p in processes():
        if p.comm == "wireguard-go" and names & set(p.argv[1:]):
            stop_pid(p.pid, f"wireguard-go {' '.join(p.argv[1:])}", grace=5)
    for name in names:
        Path(f"/var/run/wireguard/{name}.sock").unlink(missing_ok=True)
        if link_exists(name):
            run(["ip", "link", "del", name], check=False)


def with_cleanup(cleanups: list[Callable[[], None]]) -> None:
    for fn in reversed(cleanups):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - cleanup must go on
            warn(f"cleanup step failed: {e}")
