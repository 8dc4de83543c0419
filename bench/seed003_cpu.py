#!/usr/bin/env python3
"""Seed 003, Figs. 6–8: CPU of the Edge Manager and of the device over the paper's 60 s cycle.

Morabito et al. sample, with dstat, the CPU of the Raspberry Pi hosting the containerized CoAP
server (and of the one acting as Edge Manager) over 60 s that hold the activation of the server's
container, one computation task requested by the client, and the removal of the container; in
CPIS mode (the client drives the device directly) and in CEMC mode (an Edge Manager starts the
container on the worker). Their platform is Docker (Engine for CPIS, Swarm for CEMC); this script
runs the same cycle on Pier and on Docker in one run:

  Pier CPIS    CoAP PUT/DELETE /services/NAME to a `pier agent --coap` (no manager)
  Pier CEMC    CoAP PUT/DELETE /services/NAME to a `pier manager --coap`, which schedules the
               service onto a `pier agent --join`ed to it (two processes: manager and device)
  Docker CPIS  `docker run -d` / `docker rm -f` against a dockerd of this run (the paper ran the
               docker command over SSH; the CLI is the client here and is not counted)
  Swarm CEMC   `docker service create` / `docker service rm` on a one-node swarm of another
               dockerd: manager and worker are one process, so its manager has no row of its own

The service is the same pier-compute binary in every case (the image Pier builds, imported into
Docker), on the host network; the task is n = 2000 integers PUT to /average, /mergesort or
/bubblesort, `--requests` times back to back (the paper repeats each test 10 times). The client
is libcoap's coap-client-notls; Pier's CoAP interface is reached with an insecure token (OSCORE's
cost is bench/oscore.py's subject).

What is counted, sampled every second (percent of one core, Docker's convention):
  daemon      the daemon's own CPU: utime + stime of /proc/PID/stat (pier agent, pier manager;
              dockerd + containerd)
  helpers     everything the daemon started that is not a container (runc, pier-shim, CNI
              plugins, containerd-shim, dnsmasq, …): the daemon runs in a cpuacct cgroup of this
              run (cgroup v1 `cpuacct.usage`, v2 `cpu.stat`), helpers = that cgroup − daemon
  containers  the containers' CPU as the system itself accounts it: Pier's GET /v1/stats
              (`pier stats`: the container cgroups' cpuacct), Docker's GET /containers/ID/stats
The manager is `pier manager` alone (it starts nothing). Energy: RAPL through
/sys/class/powercap when the host has it, else CPU-seconds only (said in the output).

Raw samples go to bench/out/seed003_cpu.json, the figure to bench/out/seed003_cpu.png (Debian's
python3-matplotlib; `--plot-only` redraws it from the JSON).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon  # noqa: E402

BENCH = Path(__file__).resolve().parent
IMAGE = "pier/compute:cpu"
DOCKER_IMAGE = "pier/compute:cpu"
TOKEN = "bench-cpu-token-0123456789abcdef"
TASKS = ["average", "mergesort", "bubblesort"]
AGENT_BRIDGE = ("pbcpu0", "10.251.60.0/24")
MANAGER_BRIDGE = ("pbcpum0", "10.251.61.0/24")
WORKER_BRIDGE = ("pbcpuw0", "10.251.62.0/24")
SWARM_GW = ("pbcpugw0", "172.30.62.0/24")
SWARM_POOL = "10.249.0.0/16"
OUT_NAME = "seed003_cpu"
POWERCAP = Path("/sys/class/powercap")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What the paper says about these figures. Its Figs. 6–8 are plots; the text gives no values for
# them, only these statements (and Fig. 13's 1.5 % for a different, sensing, service).
PAPER = {
    "Fig. 6(a)": "average CPU of the CEM for each computation task (CEMC): a plot, no value in the text",
    "Fig. 6(b)": "\"the average CPU utilization of the device is similar in both CEMC and CPIS modes\"",
    "Fig. 7": "\"the heavier the complexity of the task, the higher is the relevant CPU utilization\" (CPIS)",
    "Fig. 8": "\"a similar trend for both approaches, with peaks during the activation and removal of the "
              "container and, obviously, during task execution ... the additional management features provided "
              "by the CEMC approach have a negligible impact on the average CPU utilization\"",
    "Fig. 13": "\"the CPU utilization is, on average, extremely low, i.e., around 1.5%\" (sensing service, Docker)",
    "testbed": "Raspberry Pi 3 (4 cores, 1.2 GHz), Hypriot (Raspbian Jessie, Linux 4.4.10), Docker and Docker "
               "Swarm, txThings (Python) CoAP server, dstat",
}


# ------------------------------------------------------------------------------------------------
# Pure parts (bench/test_seed003_cpu.py)

def parse_proc_stat(text: str) -> tuple[int, int, int, int]:
    """(utime, stime, cutime, cstime) in clock ticks from /proc/PID/stat (the name may hold spaces and ')')."""
    rest = text.rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state); utime..cstime are fields 14..17.
    return int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14])


def parse_cgroup_usage(text: str, v2: bool) -> int:
    """CPU nanoseconds of a cgroup: v1 `cpuacct.usage` (ns), v2 `cpu.stat` (`usage_usec`)."""
    if not v2:
        return int(text.strip())
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) * 1000
    raise ValueError("cpu.stat has no usage_usec line")


def own_cgroup(proc_self_cgroup: str, controller: str | None) -> str:
    """This process's cgroup path in the v1 hierarchy holding `controller`, or in v2 (controller None)."""
    for line in proc_self_cgroup.splitlines():
        hid, controllers, path = line.split(":", 2)
        if controller is None and hid == "0" and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    raise ValueError(f"no cgroup line for {controller or 'the unified hierarchy'}")


def container_delta(previous: dict[str, int], current: dict[str, int]) -> int:
    """CPU ns the containers used between two readings of their cumulative counters.

    A container new since the last reading counts from 0 (its cgroup was created with it); one
    that is gone adds nothing more (what it used after the last reading is lost, under a second).
    A counter that went backwards (a new container with a reused name) counts from 0.
    """
    total = 0
    for cid, ns in current.items():
        before = previous.get(cid, 0)
        total += ns - before if ns >= before else ns
    return total


def timeline(cycle: float) -> dict[str, float]:
    """When each step of the cycle starts (seconds from the cycle's start), and the window after it.

    The paper's text fixes the 60 s span and the order (activation, task, removal) but not the
    instants: the steps are spread evenly, each followed by an idle stretch, so every peak stands
    apart: for 60 s, activation at 5 s, task at 25 s, removal at 45 s, windows of 5 s.
    """
    return {"activate": cycle / 12, "task": cycle * 5 / 12, "remove": cycle * 9 / 12,
            "window": cycle / 12, "end": cycle}


PHASES = ["activation", "task", "removal", "idle"]
STEPS = (("activation", "activate"), ("task", "task"), ("removal", "remove"))


def phase_spans(plan: dict[str, float], events: dict[str, dict]) -> dict[str, tuple[float, float]]:
    """Each step's phase: from its request to `window` seconds after it completed (the daemon's work
    goes on after the service answers or its process is gone: mounts, cgroups, state). A step
    not (yet) done spans `window` seconds from its planned start."""
    spans = {}
    for phase, key in STEPS:
        ev = events.get(key)
        start, end = (ev["start"], ev["end"]) if ev else (plan[key], plan[key])
        spans[phase] = (start, end + plan["window"])
    return spans


def phase_of(t_mid: float, spans: dict[str, tuple[float, float]]) -> str:
    """The phase of a sample whose interval is centred on `t_mid` (seconds from the cycle's start)."""
    for phase, (start, end) in spans.items():
        if start <= t_mid < end:
            return phase
    return "idle"


def summarize(samples: list[dict], spans: dict[str, tuple[float, float]], part: str = "total") -> dict[str, dict]:
    """Mean and peak CPU (% of one core) and CPU-seconds per phase and over the whole cycle.

    `samples`: {"t": end of interval (s), "dt": its length (s), part: CPU ns in it, …}.
    """
    out: dict[str, dict] = {}
    groups: dict[str, list[dict]] = {p: [] for p in PHASES}
    for s in samples:
        groups[phase_of(s["t"] - s["dt"] / 2, spans)].append(s)
    groups["cycle"] = list(samples)
    for phase, group in groups.items():
        if not group:
            out[phase] = {"mean": None, "peak": None, "cpu_s": 0.0, "seconds": 0.0}
            continue
        ns = sum(s[part] for s in group)
        seconds = sum(s["dt"] for s in group)
        out[phase] = {"mean": ns / 1e9 / seconds * 100, "peak": max(s[part] / 1e9 / s["dt"] * 100 for s in group),
                      "cpu_s": ns / 1e9, "seconds": seconds}
    return out


def percent_series(samples: list[dict], part: str = "total") -> list[tuple[float, float]]:
    """(t, % of one core) per sample, negative noise (tick-rounded daemon time) clipped at 0."""
    return [(s["t"], max(0.0, s[part] / 1e9 / s["dt"] * 100)) for s in samples]


def rapl_zones(root: Path = POWERCAP) -> list[Path]:
    """The RAPL package zones under /sys/class/powercap (intel-rapl:N; not their subzones, nor the
    MMIO interface that repeats a package's counter)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.count(":") == 1 and p.name.startswith("intel-rapl:")
                  and (p / "energy_uj").exists())


def energy_delta_uj(before: int, after: int, max_range: int) -> int:
    """Energy between two readings of a RAPL counter that wraps at `max_range` µJ."""
    return after - before if after >= before else after + max_range - before


# ------------------------------------------------------------------------------------------------
# Accounting

class CpuGroup:
    """A cpuacct cgroup (v1) or a v2 cgroup of this run that the measured daemons are started in."""

    def __init__(self, name: str):
        base = Path("/sys/fs/cgroup")
        self.v2 = (base / "cgroup.controllers").exists()
        self.root = base if self.v2 else base / "cpuacct"
        if not self.v2 and not (self.root / "cpuacct.usage").exists():
            raise h.BenchError(f"no cpuacct hierarchy at {self.root} and no cgroup v2 at {base}: cannot account helpers' CPU")
        self.dir = self.root / f"pb-cpu-{os.getpid()}-{name}"
        self.dir.mkdir()
        self.usage_file = self.dir / ("cpu.stat" if self.v2 else "cpuacct.usage")

    def usage_ns(self) -> int:
        return parse_cgroup_usage(self.usage_file.read_text(), self.v2)

    def start_inside(self, start: Callable[[], None]) -> None:
        """Run `start` (which forks the daemon) with this process inside the cgroup, then move back:
        the daemon and everything it forks later stay in it."""
        home = own_cgroup(Path("/proc/self/cgroup").read_text(), None if self.v2 else "cpuacct")
        (self.dir / "cgroup.procs").write_text(f"{os.getpid()}\n")
        try:
            start()
        finally:
            (self.root / home.lstrip("/") / "cgroup.procs").write_text(f"{os.getpid()}\n")

    def remove(self) -> None:
        try:
            left = (self.dir / "cgroup.procs").read_text().split()
        except OSError:
            return
        if left:
            # A joined agent's wireguard-go outlives it on purpose (the mesh survives an agent restart).
            names = []
            for pid in left:
                try:
                    names.append(f"{Path(f'/proc/{pid}/comm').read_text().strip()} ({pid})")
                except OSError:
                    names.append(pid)
            h.log(f"still in {self.dir.name} after its daemon stopped: {', '.join(names)}; stopping them")
            for pid in left:
                h.stop_pid(int(pid), f"process {pid} of {self.dir.name}", grace=5)
        try:
            self.dir.rmdir()
        except OSError as e:
            h.warn(f"cannot remove cgroup {self.dir}: {e}")


def proc_cpu_ns(pid: int, children: bool = False) -> int:
    """CPU of a process (all its threads) from /proc/PID/stat, in ns; with `children`, also what its
    waited-for children used. 0 once it is gone."""
    try:
        u, s, cu, cs = parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, IndexError, ValueError):
        return 0
    return (u + s + (cu + cs if children else 0)) * 1_000_000_000 // CLK_TCK


@dataclass
class Node:
    """One machine of the paper (a device or the manager): what is read of it every second."""
    name: str
    group: CpuGroup
    daemon_pids: Callable[[], list[int]]
    containers: Callable[[], dict[str, int]] | None = None   # id → cumulative CPU ns
    last: dict = field(default_factory=dict)
    last_time: float = 0.0

    def begin(self) -> None:
        self.last_time = time.monotonic()
        self.last = self.read()

    def read(self) -> dict:
        return {"group": self.group.usage_ns(), "daemon": sum(proc_cpu_ns(p) for p in self.daemon_pids()),
                "containers": self.containers() if self.containers else {}}

    def sample(self) -> dict:
        """CPU ns of each part since the last successful reading, and that interval's length."""
        when = time.monotonic()
        now = self.read()
        before, self.last = self.last, now
        dt, self.last_time = when - self.last_time, when
        daemon = now["daemon"] - before["daemon"]
        group = now["group"] - before["group"]
        containers = container_delta(before["containers"], now["containers"])
        return {"daemon": daemon, "helpers": group - daemon, "containers": containers,
                "total": group + containers, "dt": dt}


class Sampler:
    """Reads every node once a second (on a thread of its own) from `start()` until `stop()`."""

    def __init__(self, nodes: list[Node], interval: float = 1.0):
        self.nodes, self.interval = nodes, interval
        self.samples: dict[str, list[dict]] = {n.name: [] for n in nodes}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0

    def start(self) -> float:
        for node in self.nodes:
            node.begin()
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self.t0

    def _run(self) -> None:
        k = 1
        while not self._stop.is_set():
            target = self.t0 + k * self.interval
            if self._stop.wait(max(0.0, target - time.monotonic())):
                break
            for node in self.nodes:
                try:
                    s = node.sample()
                except (OSError, ValueError, h.BenchError) as e:  # the next sample covers this one's time too
                    self.errors.append(f"{node.name} at {time.monotonic() - self.t0:.1f} s: {e}")
                    continue
                s["t"] = time.monotonic() - self.t0
                self.samples[node.name].append(s)
            k += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


class Rapl:
    """Package energy over a cycle, where the host exposes RAPL (intel-rapl powercap zones)."""

    def __init__(self):
        self.zones = rapl_zones()
        self.start: dict[Path, int] = {}

    def note(self) -> str:
        if self.zones:
            return f"energy: RAPL package zones {', '.join(z.name for z in self.zones)} (whole host, not per process)"
        return (f"energy: no RAPL on this host ({POWERCAP} has no intel-rapl zone): no joules, CPU-seconds "
                "are the energy proxy")

    def begin(self) -> None:
        self.start = {z: int((z / "energy_uj").read_text()) for z in self.zones}

    def end(self) -> float | None:
        if not self.zones:
            return None
        total = 0
        for z in self.zones:
            max_range = int((z / "max_energy_range_uj").read_text())
            total += energy_delta_uj(self.start[z], int((z / "energy_uj").read_text()), max_range)
        return total / 1e6


# ------------------------------------------------------------------------------------------------
# The client's side: coap-client-notls, and the service's process

def coap(method: str, url: str, *, payload: Path | None = None, body: str | None = None, token: bool = False,
         timeout: float = 10) -> str:
    argv = ["coap-client-notls", "-m", method, "-B", str(int(timeout))]
    if token:
        argv += ["-O", f"65001,{TOKEN}"]
    if payload is not None:
        argv += ["-b", "1024", "-f", str(payload)]
    if body is not None:
        argv += ["-e", body]
    proc = h.run([*argv, url], timeout=timeout + 10, check=False)
    if proc.returncode != 0:
        raise h.BenchError(f"coap-client-notls -m {method} {url}: exit {proc.returncode}: {h.tail(proc.stderr)}")
    return proc.stdout.decode(errors="replace").strip()


def coap_put_message(message_id: int, token: bytes, path: str, payload: bytes) -> bytes:
    """A confirmable CoAP PUT (RFC 7252 §3): header, token, one Uri-Path option, payload."""
    segment = path.encode()
    if len(token) > 8 or not 0 < len(segment) < 13:
        raise ValueError("token of at most 8 bytes and a path segment of 1 to 12 bytes")
    header = bytes([0x40 | len(token), 0x03, message_id >> 8 & 0xFF, message_id & 0xFF])
    return header + token + bytes([11 << 4 | len(segment)]) + segment + b"\xff" + payload


def coap_response(datagram: bytes, message_id: int, token: bytes) -> tuple[str, bytes] | None:
    """(code "c.dd", payload) of a piggybacked response to `message_id`/`token`, else None."""
    if len(datagram) < 4 or datagram[0] >> 6 != 1:
        return None
    kind, tkl, code = datagram[0] >> 4 & 0x3, datagram[0] & 0xF, datagram[1]
    if kind != 2 or (datagram[2] << 8 | datagram[3]) != message_id or datagram[4:4 + tkl] != token:
        return None
    marker = datagram.find(b"\xff", 4 + tkl)
    return f"{code >> 5}.{code & 0x1F:02d}", (datagram[marker + 1:] if marker >= 0 else b"")


def answers(port: int, wait: float = 0.05) -> bool:
    """Whether pier-compute on `port` answers PUT /average [1,2,3] with 2 within `wait` seconds."""
    mid, token = random.randrange(1 << 16), os.urandom(4)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(wait)
        try:
            s.sendto(coap_put_message(mid, token, "average", b"[1,2,3]"), ("127.0.0.1", port))
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                got = coap_response(s.recv(2048), mid, token)
                if got:
                    return got[0].startswith("2.") and got[1] == b"2"
        except OSError:  # nothing listens yet (ICMP port unreachable), or no answer in time
            return False
    return False


def service_running(port: int) -> bool:
    """Whether a pier-compute serving `port` runs on this host (read from /proc: costs no daemon CPU)."""
    want = str(port)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"pier-compute") and b"--port" in argv:
            i = argv.index(b"--port")
            if i + 1 < len(argv) and argv[i + 1].decode(errors="replace") == want:
                return True
    return False


def wait(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise h.BenchError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def expected(task: str, numbers: list[int]) -> str:
    if task == "average":
        mean = sum(numbers) / len(numbers)
        return str(int(mean)) if mean == int(mean) else repr(mean)
    return "[" + ",".join(map(str, sorted(numbers))) + "]"


# ------------------------------------------------------------------------------------------------
# The four systems: how each activates and removes the service, and which nodes it has

class System:
    key = ""
    label = ""
    mode = ""

    def nodes(self) -> list[Node]:
        raise NotImplementedError

    def activate(self, name: str, port: int) -> None:
        raise NotImplementedError

    def remove(self, name: str) -> None:
        raise NotImplementedError


def body_for(port: int) -> str:
    return json.dumps({"image": IMAGE, "network": "host", "command": ["--host", "127.0.0.1", "--port", str(port)]})


def pier_stats(daemon) -> dict[str, int]:
    """Pier's accounting of its containers: GET /v1/stats (what `pier stats` shows)."""
    status, body = h.http_get(daemon.socket, "/v1/stats")
    if status != 200:
        raise h.BenchError(f"GET /v1/stats answered {status}: {body[:200]!r}")
    return {s["id"]: int(s["cpuTotalNanoseconds"]) for s in json.loads(body)}


class PierCPIS(System):
    key, label, mode = "pier-cpis", "Pier CPIS", "CPIS"

    def __init__(self, agent, group: CpuGroup, coap_port: int):
        self.agent, self.group, self.coap_port = agent, group, coap_port

    def nodes(self) -> list[Node]:
        return [Node("device", self.group, lambda: [self.agent.proc.pid], lambda: pier_stats(self.agent))]

    def activate(self, name: str, port: int) -> None:
        coap("put", f"coap://127.0.0.1:{self.coap_port}/services/{name}", body=body_for(port), token=True)

    def remove(self, name: str) -> None:
        coap("delete", f"coap://127.0.0.1:{self.coap_port}/services/{name}", token=True)


class PierCEMC(PierCPIS):
    key, label, mode = "pier-cemc", "Pier CEMC", "CEMC"

    def __init__(self, manager, manager_group: CpuGroup, agent, group: CpuGroup, coap_port: int):
        super().__init__(agent, group, coap_port)
        self.manager, self.manager_group = manager, manager_group

    def nodes(self) -> list[Node]:
        return super().nodes() + [Node("manager", self.manager_group, lambda: [self.manager.proc.pid])]


def docker_stats(dockerd) -> dict[str, int]:
    """Docker's accounting of its containers: GET /containers/json, then each one's stats (one shot)."""
    status, body = h.http_get(dockerd.socket, "/containers/json")
    if status != 200:
        raise h.BenchError(f"dockerd GET /containers/json answered {status}")
    out = {}
    for c in json.loads(body):
        status, stats = h.http_get(dockerd.socket, f"/containers/{c['Id']}/stats?stream=false&one-shot=true")
        try:
            usage = json.loads(stats).get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage") if status == 200 else None
        except ValueError:  # being removed: an empty body
            usage = None
        if usage is not None:
            out[c["Id"]] = int(usage)
    return out


class DockerCPIS(System):
    key, label, mode = "docker-cpis", "Docker CPIS", "CPIS"

    def __init__(self, dockerd, group: CpuGroup):
        self.dockerd, self.group = dockerd, group

    def daemon_pids(self) -> list[int]:
        return [self.dockerd.proc.pid, *sorted(self.dockerd.containerd_pids)]

    def nodes(self) -> list[Node]:
        return [Node("device", self.group, self.daemon_pids, lambda: docker_stats(self.dockerd))]

    def activate(self, name: str, port: int) -> None:
        self.dockerd.docker("run", "-d", "--name", name, "--network", "host", DOCKER_IMAGE,
                            "--host", "127.0.0.1", "--port", str(port))

    def remove(self, name: str) -> None:
        self.dockerd.docker("rm", "-f", name)


class SwarmCEMC(DockerCPIS):
    key, label, mode = "swarm-cemc", "Swarm CEMC", "CEMC"

    def activate(self, name: str, port: int) -> None:
        self.dockerd.docker("service", "create", "--detach", "--no-resolve-image", "--name", name,
                            "--network", "host", DOCKER_IMAGE, "--host", "127.0.0.1", "--port", str(port))

    def remove(self, name: str) -> None:
        self.dockerd.docker("service", "rm", name)


# ------------------------------------------------------------------------------------------------
# One cycle

def run_cycle(system: System, task: str, payload: tuple[Path, str], plan: dict[str, float], requests: int,
              rapl: Rapl, tag: str) -> dict:
    """The paper's cycle on `system`: idle, activation, idle, task, idle, removal, idle; sampled every second."""
    name = f"cpu-{tag}"
    port = h.free_port(socket.SOCK_DGRAM)
    url = f"coap://127.0.0.1:{port}/{task}"
    sampler = Sampler(system.nodes())
    events: dict[str, dict] = {}
    active = False
    rapl.begin()
    load_before = os.getloadavg()[0]
    t0 = sampler.start()
    try:
        def at(key: str) -> None:
            time.sleep(max(0.0, t0 + plan[key] - time.monotonic()))

        at("activate")
        start = time.monotonic()
        system.activate(name, port)
        active = True
        wait(f"{system.label}: {name} answering CoAP on port {port}", lambda: answers(port, 0.01), timeout=60,
             interval=0.005)
        events["activate"] = {"start": start - t0, "end": time.monotonic() - t0}

        at("task")
        start = time.monotonic()
        for _ in range(requests):
            got = coap("put", url, payload=payload[0], timeout=30)
            if got != payload[1]:
                raise h.BenchError(f"{system.label} {task}: wrong answer {got[:80]}…")
        events["task"] = {"start": start - t0, "end": time.monotonic() - t0}

        at("remove")
        start = time.monotonic()
        system.remove(name)
        wait(f"{system.label}: {name}'s process gone", lambda: not service_running(port), timeout=60)
        active = False
        events["remove"] = {"start": start - t0, "end": time.monotonic() - t0}

        # To the cycle's end, and at least a window past the removal (a slow one goes past the end).
        end = max(plan["end"], math.ceil(events["remove"]["end"] + plan["window"]))
        time.sleep(max(0.0, t0 + end - time.monotonic()) + 0.2)  # +0.2: the last sample is taken
    finally:
        sampler.stop()
        if active:
            try:
                system.remove(name)
            except h.BenchError as e:
                h.warn(f"removing {name} after a failed cycle: {e}")
    if sampler.errors:
        h.warn(f"{system.label} {task}: {len(sampler.errors)} sampling errors, first: {sampler.errors[0]}")
    energy = rapl.end()
    return {"system": system.key, "label": system.label, "mode": system.mode, "task": task, "plan": plan,
            "events": events, "spans": phase_spans(plan, events), "samples": sampler.samples, "energy_j": energy,
            "sampling_errors": sampler.errors, "loadavg_1min": [load_before, os.getloadavg()[0]]}


def warm_up(system: System, tag: str) -> None:
    """One activation and removal before any cycle: images pulled, caches filled."""
    name = f"cpu-warm-{tag}"
    port = h.free_port(socket.SOCK_DGRAM)
    system.activate(name, port)
    try:
        wait(f"{system.label}: warm-up service answering", lambda: answers(port), timeout=120)
    finally:
        system.remove(name)
    wait(f"{system.label}: warm-up service gone", lambda: not service_running(port), timeout=60)


# ------------------------------------------------------------------------------------------------
# Setting up: binaries, images, daemons

def binaries() -> dict[str, Path]:
    pier = h.pier_binary()
    compute = Path(os.environ.get("PIER_COMPUTE", pier.parent / "pier-compute"))
    if not os.access(compute, os.X_OK):
        raise h.BenchError(f"{compute} is missing: build it (swift build -c release --static-swift-stdlib "
                           f"--product pier-compute) or set PIER_COMPUTE")
    return {"pier": pier, "pier-compute": compute}


def prerequisites(with_docker: bool) -> None:
    missing = [tool for tool in ("coap-client-notls", "runc") if not shutil.which(tool)]
    if with_docker:
        missing += [tool for tool in ("dockerd",) if not shutil.which(tool)]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run scripts/setup.sh --no-build{' --with-docker' if with_docker else ''}")


def build_image(daemon, compute: Path) -> None:
    daemon.cli("image", "build", "--tag", IMAGE, "--from", "scratch", "--with-libs",
               "--add", f"{compute}:/usr/bin/pier-compute", "--entrypoint", "/usr/bin/pier-compute")


def export_image(daemon, work: Path) -> Path:
    """`pier image export` of the service's image (once), for the manager and for Docker."""
    archive = work / "compute.oci.tar"
    if not archive.exists():
        daemon.cli("image", "export", IMAGE, str(archive))
    return archive


def docker_image_from_pier(daemon, dockerds: list, work: Path) -> None:
    """The very image Pier runs, into Docker: its one layer `docker import`ed."""
    with tarfile.open(export_image(daemon, work)) as tar:
        def blob(digest: str) -> bytes:
            return tar.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}").read()
        index = json.loads(tar.extractfile("index.json").read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        if len(manifest["layers"]) != 1:
            raise h.BenchError(f"{IMAGE} has {len(manifest['layers'])} layers; expected the one of --with-libs")
        layer = work / "compute-layer.tar.gz"
        layer.write_bytes(blob(manifest["layers"][0]["digest"]))
    for d in dockerds:
        d.docker("import", "--change", 'ENTRYPOINT ["/usr/bin/pier-compute"]', str(layer), DOCKER_IMAGE)


class CpuDockerd(h.Dockerd):
    """harness.Dockerd with a bridge of this benchmark's own, so other benchmarks' dockerds are not touched."""
    BRIDGE = "pbcpudk0"
    BRIDGE_ADDR = "172.30.61.1/24"


class CpuSwarmDockerd(h.Dockerd):
    BRIDGE = "pbcpusw0"
    BRIDGE_ADDR = "172.30.63.1/24"


def keys_file(work: Path) -> Path:
    keys = work / "coap-keys.json"
    keys.write_text(json.dumps({"clients": [{"name": "bench", "token": TOKEN, "scope": {
        "services": ["*"], "verbs": ["list", "status", "activate", "stop", "start", "remove"],
        "allow": ["host-network"]}}]}))
    keys.chmod(0o600)
    return keys


def setup_pier(bins, work: Path, cleanups: list) -> tuple[PierCPIS, PierCEMC]:
    keys = keys_file(work)
    coap_cpis, coap_cemc = h.free_port(socket.SOCK_DGRAM), h.free_port(socket.SOCK_DGRAM)

    # Each cgroup is removed after its daemon stopped (cleanups run last-in, first-out).
    g_agent = CpuGroup("cpis-device")
    cleanups.append(g_agent.remove)
    agent = PierDaemon(h.new_workdir("cpua"), bins["pier"], ["agent"], AGENT_BRIDGE, "pb-cpu-dev")
    cleanups.append(agent.cleanup)
    g_agent.start_inside(lambda: agent.start(extra=["--coap", f"udp://127.0.0.1:{coap_cpis}", "--coap-keys", str(keys),
                                                    "--coap-insecure-token"]))
    build_image(agent, bins["pier-compute"])

    g_manager = CpuGroup("cemc-manager")
    cleanups.append(g_manager.remove)
    manager = PierDaemon(h.new_workdir("cpum"), bins["pier"], ["manager"], MANAGER_BRIDGE, "pb-cpu-mgr",
                         ready_path="/v1/cluster")
    cleanups.append(manager.cleanup)
    port = h.free_port()
    g_manager.start_inside(lambda: manager.start(["--listen", f"tcp://127.0.0.1:{port}", "--coap",
                                                  f"udp://127.0.0.1:{coap_cemc}", "--coap-keys", str(keys),
                                                  "--coap-insecure-token"]))
    manager.cli("image", "import", str(export_image(agent, work)), "--tag", IMAGE)
    token = manager.cli("join-token", "-q", "worker").stdout.decode().strip()
    g_worker = CpuGroup("cemc-device")
    cleanups.append(g_worker.remove)
    worker = PierDaemon(h.new_workdir("cpuw"), bins["pier"], ["agent"], WORKER_BRIDGE, "pb-cpu-worker")
    cleanups.append(worker.cleanup)
    # The last cleanup to run first: remove services while the worker is still up.
    cleanups.append(lambda: remove_services(manager))
    token_file = worker.workdir / "join-token"
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(token)
    g_worker.start_inside(lambda: worker.start(["--join", f"tcp://127.0.0.1:{port}", "--token-file", str(token_file)]))
    wait("the worker ready and active in GET /v1/nodes",
         lambda: any(n.get("state") == "ready" and n.get("availability") == "active" for n in manager.api("/v1/nodes")),
         timeout=30, interval=0.2)
    return PierCPIS(agent, g_agent, coap_cpis), PierCEMC(manager, g_manager, worker, g_worker, coap_cemc)


def remove_services(manager) -> None:
    if manager.proc is None:
        return
    for s in manager.api("/v1/services"):
        h.run(manager.pier_cmd("service", "rm", s["id"]), env=manager.env, check=False)
    time.sleep(1)


def docker_parent_cgroups() -> set[Path]:
    base = Path("/sys/fs/cgroup")
    return {d for d in [base / "docker", *base.glob("*/docker")] if d.is_dir()}


def remove_new_parent_cgroups(before: set[Path]) -> None:
    """dockerd leaves its parent cgroup `/docker` behind; remove it if this run made it and it is empty."""
    for d in sorted(docker_parent_cgroups() - before):
        try:
            d.rmdir()
        except OSError:  # another dockerd's containers are in it
            pass


def setup_docker(cleanups: list) -> tuple[DockerCPIS, SwarmCEMC, list]:
    before = docker_parent_cgroups()
    cleanups.append(lambda: remove_new_parent_cgroups(before))
    g_engine = CpuGroup("docker-device")
    cleanups.append(g_engine.remove)
    engine = CpuDockerd(h.new_workdir("cpud"))
    cleanups.append(engine.cleanup)
    g_engine.start_inside(engine.start)

    g_swarm = CpuGroup("swarm-device")
    cleanups.append(g_swarm.remove)
    swarm = CpuSwarmDockerd(h.new_workdir("cpus"))
    state = {"init": False, "gw": False}

    def swarm_cleanup() -> None:
        if swarm.proc is not None and swarm.proc.poll() is None:
            if state["init"]:
                ids = h.run(swarm.cmd("service", "ls", "-q"), env=swarm.env, check=False).stdout.decode().split()
                if ids:
                    h.run(swarm.cmd("service", "rm", *ids), env=swarm.env, check=False)
                h.run(swarm.cmd("swarm", "leave", "--force"), env=swarm.env, check=False, timeout=60)
            if state["gw"]:
                ids = h.run(swarm.cmd("ps", "-aq"), env=swarm.env, check=False).stdout.decode().split()
                if ids:
                    h.run(swarm.cmd("rm", "-f", *ids), env=swarm.env, check=False)
                h.run(swarm.cmd("network", "rm", "docker_gwbridge"), env=swarm.env, check=False)
        swarm.cleanup()
        if h.link_exists(SWARM_GW[0]):
            h.run(["ip", "link", "del", SWARM_GW[0]], check=False)
    cleanups.append(swarm_cleanup)

    # The swarm executor pulls a task's image at every start unless told to prefer the local one.
    previous = os.environ.get("DOCKER_SERVICE_PREFER_OFFLINE_IMAGE")
    os.environ["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"] = "1"
    try:
        g_swarm.start_inside(swarm.start)
    finally:
        if previous is None:
            os.environ.pop("DOCKER_SERVICE_PREFER_OFFLINE_IMAGE", None)
        else:
            os.environ["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"] = previous
    swarm.docker("network", "create", "--driver", "bridge", "--subnet", SWARM_GW[1],
                 "--opt", f"com.docker.network.bridge.name={SWARM_GW[0]}",
                 "--opt", "com.docker.network.bridge.enable_icc=false",
                 "--opt", "com.docker.network.bridge.enable_ip_masquerade=false", "docker_gwbridge")
    state["gw"] = True
    swarm.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", f"127.0.0.1:{h.free_port()}",
                 "--default-addr-pool", SWARM_POOL)
    state["init"] = True
    return DockerCPIS(engine, g_engine), SwarmCEMC(swarm, g_swarm), [engine, swarm]


# ------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycle", type=float, default=60, help="seconds per cycle (default 60, the paper's)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="computation tasks, one cycle each (default all three)")
    parser.add_argument("--n", type=int, default=2000, help="integers per task request (default 2000)")
    parser.add_argument("--requests", type=int, default=10, help="task requests in the task step (default 10)")
    parser.add_argument("--no-docker", action="store_true", help="Pier only")
    parser.add_argument("--quick", action="store_true", help="development: 24 s cycles, bubblesort only")
    parser.add_argument("--plot-only", metavar="JSON", help="redraw the figure from a previous run's JSON")
    args = parser.parse_args()
    if args.plot_only:
        out = json.loads(Path(args.plot_only).read_text())
        report(out)
        print(f"figure: {plot(out, h.OUT_DIR / f'{OUT_NAME}.png')}")
        return 0
    if args.quick:
        args.cycle, args.tasks = 24, "bubblesort"
    tasks = [t for t in args.tasks.split(",") if t]
    if not tasks or any(t not in TASKS for t in tasks):
        sys.exit(f"--tasks: choose among {', '.join(TASKS)}")
    if args.cycle < 12:
        sys.exit("--cycle: at least 12 s (each step gets cycle/12 s)")
    h.require_root()
    prerequisites(not args.no_docker)
    h.install_signal_handlers()
    h.ensure_packages(with_docker=not args.no_docker)
    try:
        bins = binaries()
    except h.BenchError as e:
        sys.exit(str(e))
    rapl = Rapl()
    h.log(rapl.note())
    plan = timeline(args.cycle)
    rng = random.Random(2017)
    out: dict = {"host": h.host_info(), "args": vars(args), "paper": PAPER, "energy_note": rapl.note(),
                 "rapl": bool(rapl.zones), "cycles": []}
    cleanups: list[Callable[[], None]] = []
    try:
        work = h.new_workdir("cpu")
        cleanups.append(lambda: h.rmtree(work))
        numbers = [rng.randint(-100000, 100000) for _ in range(args.n)]
        payload_file = work / "ints.json"
        payload_file.write_text("[" + ",".join(map(str, numbers)) + "]")
        cpis, cemc = setup_pier(bins, work, cleanups)
        out["host"]["pier"] = cpis.agent.version()
        systems: list[System] = [cpis, cemc]
        if not args.no_docker:
            dcpis, dcemc, dockerds = setup_docker(cleanups)
            docker_image_from_pier(cpis.agent, dockerds, work)
            out["host"]["docker"] = dockerds[0].server_version()
            systems += [dcpis, dcemc]
        for s in systems:
            h.log(f"{s.label}: warm-up")
            warm_up(s, s.key)
        for task in tasks:
            for s in systems:
                h.log(f"{s.label}, {task}: {args.cycle:.0f} s cycle")
                cycle = run_cycle(s, task, (payload_file, expected(task, numbers)), plan, args.requests, rapl,
                                  f"{s.key}-{task}")
                out["cycles"].append(cycle)
                ev = cycle["events"]
                h.log(f"  activation {1000 * (ev['activate']['end'] - ev['activate']['start']):.0f} ms, task "
                      f"{1000 * (ev['task']['end'] - ev['task']['start']):.0f} ms, removal "
                      f"{1000 * (ev['remove']['end'] - ev['remove']['start']):.0f} ms; device "
                      f"{summarize(cycle['samples']['device'], cycle['spans'])['cycle']['cpu_s']:.2f} CPU-s")
    except h.BenchError as e:
        h.warn(str(e))
        out["error"] = str(e)
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json(OUT_NAME, out)
    report(out)
    if out["cycles"]:
        try:
            print(f"\nfigure: {plot(out, h.OUT_DIR / f'{OUT_NAME}.png')}")
        except h.BenchError as e:
            h.warn(str(e))
    print(f"raw numbers: {path}")
    return 1 if "error" in out else 0


# ------------------------------------------------------------------------------------------------
# Report and figure

def fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def report(out: dict) -> None:
    cycles = out["cycles"]
    if not cycles:
        return
    plan = cycles[0]["plan"]
    print(f"\nSeed 003, Figs. 6–8: CPU over a {plan['end']:.0f} s cycle (activation at {plan['activate']:.0f} s, "
          f"task at {plan['task']:.0f} s, removal at {plan['remove']:.0f} s; each step's phase from its request to "
          f"{plan['window']:.0f} s after it completed, the rest idle; sampled to {plan['window']:.0f} s after the removal "
          f"at least). % of one core, sampled every second; {out['host'].get('cpus')} cores here.")
    for mode in ("CPIS", "CEMC"):
        rows = []
        for c in (c for c in cycles if c["mode"] == mode):
            for node in ("device", "manager"):
                if node not in c["samples"]:
                    continue
                s = summarize(c["samples"][node], c["spans"])
                parts = {p: summarize(c["samples"][node], c["spans"], p)["cycle"]["cpu_s"]
                         for p in ("daemon", "helpers", "containers")}
                rows.append([c["label"], c["task"], node,
                             *(f"{fmt(s[p]['mean'])} / {fmt(s[p]['peak'])}" for p in ("activation", "task", "removal", "idle")),
                             fmt(s["cycle"]["mean"], 2), f"{s['cycle']['cpu_s']:.3f}",
                             # helpers = cgroup − daemon: the daemon's ticks (10 ms) can round it a little below 0
                             " / ".join(f"{max(0.0, parts[p]):.2f}" for p in ("daemon", "helpers", "containers"))])
        if rows:
            print(f"\n{mode}: mean / peak % per phase, whole-cycle mean, CPU-seconds (daemon / helpers / containers)")
            print(h.table(["system", "task", "node", "activation", "task", "removal", "idle", "cycle mean",
                           "CPU-s", "daemon/helpers/containers"], rows, left=(0, 1, 2)))
    rows = []
    for c in cycles:
        ev = c["events"]
        load = c.get("loadavg_1min")
        rows.append([c["label"], c["task"], *(f"{1000 * (ev[k]['end'] - ev[k]['start']):.0f}" if k in ev else "–"
                                              for k in ("activate", "task", "remove")),
                     "–" if c.get("energy_j") is None else f"{c['energy_j']:.1f}",
                     f"{load[0]:.1f} → {load[1]:.1f}" if load else "–"])
    print("\nDurations of the steps (ms: request → service answering / last answer / process gone), energy (J), "
          "the host's 1-minute load average at the cycle's start and end")
    print(h.table(["system", "task", "activation", "task", "removal", "energy J", "load"], rows, left=(0, 1)))
    # Side by side: Pier vs Docker, device CPU-seconds per cycle.
    pairs = []
    for mode, pier_key, docker_key in (("CPIS", "pier-cpis", "docker-cpis"), ("CEMC", "pier-cemc", "swarm-cemc")):
        for task in dict.fromkeys(c["task"] for c in cycles):
            p = next((c for c in cycles if c["system"] == pier_key and c["task"] == task), None)
            d = next((c for c in cycles if c["system"] == docker_key and c["task"] == task), None)
            if not p:
                continue
            ps = summarize(p["samples"]["device"], p["spans"])["cycle"]["cpu_s"]
            pm = summarize(p["samples"]["manager"], p["spans"])["cycle"]["cpu_s"] if "manager" in p["samples"] else None
            ds = summarize(d["samples"]["device"], d["spans"])["cycle"]["cpu_s"] if d else None
            total = ps + (pm or 0)
            pairs.append([mode, task, f"{ps:.3f}", fmt(pm, 3), f"{total:.3f}", fmt(ds, 3),
                          f"{total / ds:.2f}×" if ds else "–"])
    if pairs:
        print("\nCPU-seconds per cycle, Pier beside Docker (Swarm's one dockerd is manager and device at once)")
        print(h.table(["mode", "task", "Pier device", "Pier manager", "Pier total", "Docker/Swarm", "Pier/Docker"],
                      pairs, left=(0, 1)))
    print("\nThe paper (Morabito et al., seed 003):")
    for k, v in out["paper"].items():
        print(f"  {k}: {v}")
    print(f"\n{out['energy_note']}")


def plot(out: dict, png: Path) -> Path:
    """Figs. 6–8 in one PNG with matplotlib; Debian's python3-matplotlib serves /usr/bin/python3,
    so another interpreter (pyenv) redraws through it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        system_python = Path("/usr/bin/python3")
        if Path(sys.executable).resolve() == system_python.resolve() or not system_python.exists():
            raise h.BenchError("matplotlib is missing: apt-get install python3-matplotlib (scripts/setup.sh --with-docker)")
        src = h.OUT_DIR / f"{OUT_NAME}.json"
        proc = subprocess.run([str(system_python), __file__, "--plot-only", str(src)], capture_output=True)
        if proc.returncode != 0 or not png.exists():
            raise h.BenchError(f"/usr/bin/python3 could not draw the figure: {h.tail(proc.stderr)}")
        return png
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cycles = out["cycles"]
    plan = cycles[0]["plan"]
    tasks = list(dict.fromkeys(c["task"] for c in cycles))
    styles = {"pier-cpis": ("tab:blue", "-"), "pier-cemc": ("tab:orange", "-"),
              "docker-cpis": ("tab:blue", "--"), "swarm-cemc": ("tab:orange", "--")}
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    # Fig. 6: average CPU per task, device (both modes) and manager (CEMC).
    ax = axes[0][0]
    bars = [("pier-cpis", "device"), ("pier-cemc", "device"), ("pier-cemc", "manager"),
            ("docker-cpis", "device"), ("swarm-cemc", "device")]
    bars = [b for b in bars if any(c["system"] == b[0] and b[1] in c["samples"] for c in cycles)]
    width = 0.8 / max(1, len(bars))
    for i, (key, node) in enumerate(bars):
        values = []
        for task in tasks:
            c = next((c for c in cycles if c["system"] == key and c["task"] == task), None)
            values.append(summarize(c["samples"][node], c["spans"])["cycle"]["mean"] if c else 0)
        label = next(c["label"] for c in cycles if c["system"] == key)
        ax.bar([t + (i - (len(bars) - 1) / 2) * width for t in range(len(tasks))], values, width,
               label=f"{label}, {'manager' if node == 'manager' else 'device'}", color=styles[key][0],
               hatch="//" if node == "manager" else ("xx" if key.startswith(("docker", "swarm")) else None),
               alpha=0.6 if node == "manager" else 1.0)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylabel("mean CPU over the cycle (% of one core)")
    ax.set_title("Fig. 6: average CPU of the manager and the device")
    ax.legend(fontsize=7)

    last = max(s["t"] for c in cycles for node in c["samples"].values() for s in node)

    def marks(ax):
        for key, name in (("activate", "activation"), ("task", "task"), ("remove", "removal")):
            ax.axvline(plan[key], color="0.6", linewidth=0.8, zorder=0)
            ax.text(plan[key] + 0.2, 0.98, name, transform=ax.get_xaxis_transform(), fontsize=7, va="top")
        ax.set_xlim(0, math.ceil(last))
        ax.set_xlabel("time (s)")
        ax.set_ylabel("CPU (% of one core)")

    # Fig. 7: device CPU per task, CPIS.
    ax = axes[0][1]
    for task, color in zip(tasks, ("tab:green", "tab:purple", "tab:red")):
        for key in ("pier-cpis", "docker-cpis"):
            c = next((c for c in cycles if c["system"] == key and c["task"] == task), None)
            if c:
                xs, ys = zip(*percent_series(c["samples"]["device"]))
                ax.plot(xs, ys, color=color, linestyle=styles[key][1], marker=".", label=f"{c['label']}, {task}")
    marks(ax)
    ax.set_title("Fig. 7: device CPU per task, CPIS")
    ax.legend(fontsize=7, loc="center right")
    # Fig. 8: device CPU, CPIS vs CEMC, for the heaviest task run.
    task = tasks[-1]
    for ax, keys, title in ((axes[1][0], ("pier-cpis", "pier-cemc"), "Pier"),
                            (axes[1][1], ("docker-cpis", "swarm-cemc"), "Docker")):
        shown = False
        for key in keys:
            c = next((c for c in cycles if c["system"] == key and c["task"] == task), None)
            if not c:
                continue
            shown = True
            xs, ys = zip(*percent_series(c["samples"]["device"]))
            ax.plot(xs, ys, color=styles[key][0], marker=".", label=f"{c['label']}, device")
            if "manager" in c["samples"]:
                xs, ys = zip(*percent_series(c["samples"]["manager"]))
                ax.plot(xs, ys, color=styles[key][0], linestyle=":", label=f"{c['label']}, manager")
        marks(ax)
        ax.set_title(f"Fig. 8: device CPU, CPIS vs CEMC ({title}, {task})")
        if shown:
            ax.legend(fontsize=7, loc="center right")
        else:
            ax.text(0.5, 0.5, "not run", transform=ax.transAxes, ha="center")
    host = out["host"]
    fig.suptitle(f"Seed 003 Figs. 6–8 on {host.get('cpus')} cores, {host.get('kernel')}; pier {host.get('pier', '?')}"
                 f"; docker {host.get('docker', 'not run')}; "
                 + ("RAPL energy in the JSON" if out.get("rapl") else "no RAPL here: CPU-seconds only"), fontsize=9)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


if __name__ == "__main__":
    sys.exit(main())
