#!/usr/bin/env python3
"""The Edge Manager against Docker Swarm on this machine: how fast services start, recover and move.

Cases (busybox-static root filesystem, `sleep 1000`, image present on every node, restart delay 0):
  create      `service create --replicas 1 IMG sleep 1000` → the task is running
                Pier: `pier up` (manager + agent in one process); Swarm: `docker swarm init` on a
                dockerd started here, `docker service create --detach --no-resolve-image`
  kill        SIGKILL of the task's container (`pier kill` / `docker kill`) → a replacement task is running
  node lost   Pier only: `pier manager` + two `pier agent --join` on this host, a service with 2
                replicas, SIGKILL of one agent → both replicas running on the survivor
  drain       Pier only, same cluster: a service with 1 replica, `pier node update --availability drain`
                of its node → the task running on the other node

"Running" is the manager's view: the task's state is `running` (and desired `running`) in
`GET /v1/services/NAME/tasks` (Pier) or `GET /tasks?filters=…` (Docker), polled over the unix socket
every --poll seconds. The container's own start, as the node's API lists it, is recorded beside it.
The clock starts just before the command that triggers the change (CLI start-up included on both sides).
create and kill run interleaved, Pier then Swarm in each round. Swarm's node-lost figure is its
documented default (not measured: it would need a second Swarm node). With PIER_BASELINE=/path/to/an
earlier/pier, that build's `pier up` runs create and kill in the same rounds (a change's cost, in one
run). Raw samples: bench/out/cluster.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

# Targets (issue 3, PRODUCT.md) and the figures of the papers we compare with.
TARGET_CREATE_VS_SWARM = 0.2
TARGET_KILL_VS_SWARM = 0.3
TARGET_NODE_LOST_S = 3.0
RUFINO_MIGRATION_S = 1.8
RUFINO_RESTART_S = 0.876
# Swarm's defaults (dispatcher heartbeat period 5 s, a node is down after 3 missed periods, then
# its tasks are rescheduled): the ~15-20 s issue 3 quotes. Not measured here.
SWARM_NODE_LOST_DOC = "~15-20 s (documented defaults, not measured)"

PIER_TASK_LABEL = "pier.service.name"
SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"

# Each Pier daemon of this benchmark gets its own bridge and subnet (not pier0, not the other benches').
UP_BRIDGE = ("pbup0", "10.251.10.0/24")
UP_BASELINE_BRIDGE = ("pbup1", "10.251.14.0/24")
MANAGER_BRIDGE = ("pbmgr0", "10.251.13.0/24")
AGENT_BRIDGES = [("pba1", "10.251.11.0/24"), ("pba2", "10.251.12.0/24")]
# Swarm's gateway bridge is made here, so it gets our name and subnet instead of docker_gwbridge's.
SWARM_GW_BRIDGE = ("pbgw0", "172.30.252.0/24")
SWARM_ADDR_POOL = "10.254.0.0/16"


# --------------------------------------------------------------------------------------------
# Parsing and statistics (pure; tested in bench/test_cluster.py)


def pier_running(tasks: list[dict]) -> list[tuple[str, str | None]]:
    """(task id, node id) of each Pier task that runs and should: state and desired state `running`."""
    out = []
    for t in tasks:
        if t.get("desiredState") == "running" and (t.get("status") or {}).get("state") == "running":
            out.append((t["id"], t.get("nodeID")))
    return out


def swarm_running(tasks: list[dict]) -> list[tuple[str, str | None]]:
    """(task id, node id) of each Swarm task that runs and should (Docker API `Task` objects)."""
    out = []
    for t in tasks:
        if t.get("DesiredState") == "running" and (t.get("Status") or {}).get("State") == "running":
            out.append((t["ID"], t.get("NodeID")))
    return out


def pier_container_ids(tasks: list[dict]) -> list[str]:
    """Container ids of the running Pier tasks (from `status.containerID`)."""
    ids = []
    for t in tasks:
        status = t.get("status") or {}
        if t.get("desiredState") == "running" and status.get("state") == "running" and status.get("containerID"):
            ids.append(status["containerID"])
    return ids


def running_containers(summaries: list[dict], label: str, service: str, *, docker: bool) -> list[str]:
    """Ids of running containers of `service` in a node's container list (Pier's or Docker's API)."""
    out = []
    for c in summaries:
        labels = c.get("Labels" if docker else "labels") or {}
        state = c.get("State" if docker else "state")
        if labels.get(label) == service and state == "running":
            out.append(c.get("Id" if docker else "id"))
    return out


def count_on(running: list[tuple[str, str | None]], node: str | None = None, *,
             exclude: set[str] = frozenset()) -> int:
    """How many of `running` are on `node` (any node when None) and not in `exclude`."""
    return sum(1 for tid, nid in running if tid not in exclude and (node is None or nid == node))


def summarize(samples: list[float]) -> dict:
    """n, median, p90 (nearest rank), min and max of samples in seconds, as milliseconds."""
    if not samples:
        return {"n": 0}
    return {"n": len(samples), "median_ms": h.median(samples) * 1000, "p90_ms": h.percentile(samples, 90) * 1000,
            "min_ms": min(samples) * 1000, "max_ms": max(samples) * 1000}


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not checked (no result)"
    return "met" if value <= target else "MISSED"


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


TRACE_LINE = re.compile(r"^trace (\d+(?:\.\d+)?) (.+)$")


def trace_events(text: str) -> list[tuple[float, str]]:
    """The `trace SECONDS LABEL` lines (CLOCK_MONOTONIC, as time.monotonic()) a Pier daemon prints with PIER_TRACE=1, in order."""
    out = []
    for line in text.splitlines():
        m = TRACE_LINE.match(line.strip())
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


def first_offsets(events: list[tuple[float, str]], start: float, end: float) -> dict[str, float]:
    """Milliseconds from `start` to the first event of each label within [start, end], in time order."""
    out: dict[str, float] = {}
    for t, label in sorted(events):
        if start <= t <= end and label not in out:
            out[label] = (t - start) * 1000
    return out


def median_offsets(windows: list[dict[str, float]]) -> list[tuple[str, float, int]]:
    """(label, median ms, how many windows had it) over several `first_offsets`, by median."""
    labels: dict[str, list[float]] = {}
    for w in windows:
        for label, ms in w.items():
            labels.setdefault(label, []).append(ms)
    return sorted(((label, h.median(v), len(v)) for label, v in labels.items()), key=lambda x: x[1])


def docker_filters(**filters: str) -> str:
    """A Docker API `filters` query value: {"key": {"value": true}}."""
    return urllib.parse.quote(json.dumps({k.replace("_", "-"): {v: True} for k, v in filters.items()}))


# --------------------------------------------------------------------------------------------
# Polling


class Timeout(h.BenchError):
    pass


def get_json(sock: Path, path: str):
    status, body = h.http_get(sock, path)
    if status != 200:
        raise h.BenchError(f"GET {path} on {sock}: HTTP {status}: {body[:300].decode(errors='replace')}")
    return json.loads(body)


def wait_for(what: str, check: Callable[[], bool], *, timeout: float, interval: float) -> float:
    """Poll `check` until it holds; returns time.perf_counter() of the poll that saw it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return time.perf_counter()
        except (OSError, ValueError) as e:  # the API may be briefly unreachable; keep polling
            last = e
        else:
            last = None
        if time.monotonic() > deadline:
            raise Timeout(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


class Watch:
    """Polls a manager's task view and a node's container list until both show what is wanted.

    `task_ok()` and `container_ok()` read the APIs; the first poll at which each holds is recorded.
    """

    def __init__(self, task_ok: Callable[[], bool], container_ok: Callable[[], bool] | None, interval: float):
        self.task_ok, self.container_ok, self.interval = task_ok, container_ok, interval

    def run(self, start: float, timeout: float) -> tuple[float, float | None]:
        task_at = container_at = None
        deadline = time.monotonic() + timeout
        while task_at is None or (self.container_ok is not None and container_at is None):
            if container_at is None and self.container_ok is not None:
                try:
                    if self.container_ok():
                        container_at = time.perf_counter()
                except (OSError, ValueError):
                    pass
            if task_at is None:
                try:
                    if self.task_ok():
                        task_at = time.perf_counter()
                except (OSError, ValueError):
                    pass
            if time.monotonic() > deadline:
                raise Timeout(f"not within {timeout:.0f} s (task running: {task_at is not None}, "
                              f"container running: {container_at is not None})")
            if task_at is None or (self.container_ok is not None and container_at is None):
                time.sleep(self.interval)
        return task_at - start, (container_at - start if container_at is not None else None)


# --------------------------------------------------------------------------------------------
# Pier daemons: `pier up`, `pier manager`, `pier agent --join`


class PierDaemon(h.PierAgent):
    """A Pier daemon of this benchmark: own data root, socket, bridge and subnet; stopped by its PID.

    Reuses `harness.PierAgent`'s stop and sweep (containers, shims, runc state, netns, cgroups,
    the bridge) and only changes how it is started.
    """

    def __init__(self, workdir: Path, pier: Path, role: list[str], bridge: tuple[str, str], hostname: str,
                 ready_path: str = "/v1/info"):
        super().__init__(workdir, pier)
        self.role = role
        self.bridge, self.subnet = bridge
        self.hostname = hostname
        self.ready_path = ready_path
        self.own_bridge = self.bridge
        self.trace = False
        # A node of a cluster (pier up, a joined agent) makes a mesh interface in its namespace,
        # whose wireguard-go outlives it by design: one name of this run's, stopped by cleanup().
        self.mesh: str | None = None

    def start(self, extra: list[str] | None = None, trace: bool | None = None) -> None:
        """Starts the daemon; a restart keeps the first start's PIER_TRACE setting."""
        if trace is not None:
            self.trace = trace
        self.data_root.mkdir(parents=True, exist_ok=True)
        argv = [str(self.pier), *self.role, "--data-root", str(self.data_root),
                "--listen", f"unix://{self.socket}", "--bridge", self.bridge, "--bridge-subnet", self.subnet,
                "--hostname", self.hostname, *(extra or [])]
        if (self.role[0] == "up" or "--join" in argv) and "--mesh-interface" not in argv:
            if self.mesh is None and "--mesh-interface" in h.run([str(self.pier), self.role[0], "--help"], check=False).stdout.decode():
                self.mesh = f"pbw{os.getpid() % 0x1000:03x}{len(self.hostname):x}{sum(map(ord, self.hostname)) % 0x100:02x}"
            if self.mesh:
                argv += ["--mesh-interface", self.mesh]
        env = dict(self.env, PIER_TRACE="1") if self.trace else self.env
        h.log(f"starting pier {' '.join(self.role)} {self.hostname} (data root {self.data_root})")
        with open(self.logfile, "ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(f"pier {self.role[0]} {self.hostname} answering GET {self.ready_path} on {self.socket}",
                 lambda: self._ready(), timeout=30, interval=0.05)
        h.log(f"pier {self.role[0]} {self.hostname} up (pid {self.proc.pid})")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise h.BenchError(f"pier {self.role[0]} {self.hostname} exited with {self.proc.returncode}: "
                               f"{h.tail(self.logfile.read_text(errors='replace'), 8)}")
        if not self.socket.exists():
            return False
        status, _ = h.http_get(self.socket, self.ready_path)
        return status == 200

    def kill_hard(self) -> None:
        """SIGKILL, as a crash would; the containers it runs stay up."""
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.role[0] == "manager":
            # The manager runs no containers: nothing to sweep with `pier ps`.
            h.stop_pid(self.proc.pid, "pier manager")
            self.proc.wait()
            self.proc = None
            return
        super().stop()

    def cleanup(self) -> None:
        try:
            super().cleanup()
        finally:
            if self.mesh:
                h.stop_mesh({self.mesh})

    def api(self, path: str):
        return get_json(self.socket, path)

    def containers(self) -> list[dict]:
        return self.api("/v1/containers")


# --------------------------------------------------------------------------------------------
# Swarm on a dockerd of our own


class Swarm:
    """A one-node swarm on a `harness.Dockerd`, with its gateway bridge and address pool chosen here."""

    def __init__(self, dockerd: h.Dockerd):
        self.dockerd = dockerd
        self.initialized = False
        self.gw_created = False

    def start(self) -> None:
        # dockerd's swarm executor pulls a task's image on every start unless it is pinned by id or
        # this is set; the image is local and the machine may be offline, as Pier's nodes pull nothing.
        previous = os.environ.get("DOCKER_SERVICE_PREFER_OFFLINE_IMAGE")
        os.environ["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"] = "1"
        try:
            self.dockerd.start()
        finally:
            if previous is None:
                os.environ.pop("DOCKER_SERVICE_PREFER_OFFLINE_IMAGE", None)
            else:
                os.environ["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"] = previous
        name, subnet = SWARM_GW_BRIDGE
        self.dockerd.docker("network", "create", "--driver", "bridge", "--subnet", subnet,
                            "--opt", f"com.docker.network.bridge.name={name}",
                            "--opt", "com.docker.network.bridge.enable_icc=false",
                            "--opt", "com.docker.network.bridge.enable_ip_masquerade=false", "docker_gwbridge")
        self.gw_created = True
        port = h.free_port()
        self.dockerd.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", f"127.0.0.1:{port}",
                            "--default-addr-pool", SWARM_ADDR_POOL)
        self.initialized = True
        h.log(f"swarm initialized on dockerd pid {self.dockerd.proc.pid} (port {port})")

    def api(self, path: str):
        return get_json(self.dockerd.socket, path)

    def tasks(self, service: str) -> list[dict]:
        return self.api(f"/tasks?filters={docker_filters(service=service)}")

    def containers(self, service: str) -> list[str]:
        summaries = self.api(f"/containers/json?filters={docker_filters(label=f'{SWARM_SERVICE_LABEL}={service}')}")
        return running_containers(summaries, SWARM_SERVICE_LABEL, service, docker=True)

    def cleanup(self) -> None:
        d = self.dockerd
        if d.proc is not None and d.proc.poll() is None:
            if self.initialized:
                ids = h.run(d.cmd("service", "ls", "-q"), env=d.env, check=False).stdout.decode().split()
                if ids:
                    h.run(d.cmd("service", "rm", *ids), env=d.env, check=False)
                h.run(d.cmd("swarm", "leave", "--force"), env=d.env, check=False, timeout=60)
            if self.gw_created:
                ids = h.run(d.cmd("ps", "-aq"), env=d.env, check=False).stdout.decode().split()
                if ids:
                    h.run(d.cmd("rm", "-f", *ids), env=d.env, check=False)
                h.run(d.cmd("network", "rm", "docker_gwbridge"), env=d.env, check=False)
        d.cleanup()
        if h.link_exists(SWARM_GW_BRIDGE[0]):
            h.warn(f"bridge {SWARM_GW_BRIDGE[0]} left by Swarm; deleting it")
            h.run(["ip", "link", "del", SWARM_GW_BRIDGE[0]], check=False)


# --------------------------------------------------------------------------------------------
# Cases


class Case:
    def __init__(self, key: str, title: str, system: str):
        self.key, self.title, self.system = key, title, system
        self.samples: list[float] = []      # manager: task running
        self.container: list[float] = []    # node: container running
        self.command: list[float] = []      # the triggering command returned
        self.error: str | None = None
        # Wall-clock windows (start, end, the daemon log whose trace covers them) of measured runs.
        self.windows: list[tuple[float, float, Path]] = []
        self.breakdown: list[tuple[str, float, int]] = []

    def add(self, task_s: float, container_s: float | None, wall_start: float | None = None,
            log: Path | None = None) -> None:
        self.samples.append(task_s)
        if container_s is not None:
            self.container.append(container_s)
        if wall_start is not None and log is not None:
            self.windows.append((wall_start, wall_start + task_s, log))

    def analyse_trace(self) -> None:
        """With PIER_TRACE=1 daemons: when, in the median run, the node reached each traced step."""
        logs: dict[Path, list[tuple[float, str]]] = {}
        found = []
        for start, end, log in self.windows:
            if log not in logs:
                logs[log] = trace_events(log.read_text(errors="replace")) if log.exists() else []
            found.append(first_offsets(logs[log], start, end))
        self.breakdown = median_offsets([f for f in found if f])

    def row(self) -> dict:
        return {"case": self.key, "system": self.system, "title": self.title, "error": self.error,
                "samples_ms": [round(s * 1000, 2) for s in self.samples],
                "container_samples_ms": [round(s * 1000, 2) for s in self.container],
                **summarize(self.samples),
                "container_median_ms": h.median(self.container) * 1000 if self.container else None,
                "command_samples_ms": [round(s * 1000, 2) for s in self.command],
                "command_median_ms": h.median(self.command) * 1000 if self.command else None,
                "trace_median_ms": [{"step": s, "median_ms": round(ms, 2), "runs": n} for s, ms, n in self.breakdown]}


class PierUpBench:
    """create and kill on `pier up`."""

    def __init__(self, up: PierDaemon, poll: float):
        self.up, self.poll = up, poll
        self.seq = 0

    def tasks(self, name: str) -> list[dict]:
        return self.up.api(f"/v1/services/{name}/tasks")

    def round(self, create: Case, kill: Case, record: bool) -> None:
        self.seq += 1
        name = f"pbc{self.seq}"
        up = self.up
        svc = lambda: pier_running(self.tasks(name))  # noqa: E731
        mine = lambda: running_containers(up.containers(), PIER_TASK_LABEL, name, docker=False)  # noqa: E731
        try:
            wall, start = time.monotonic(), time.perf_counter()
            up.cli("service", "create", "--name", name, "--replicas", "1", "--restart-delay", "0s",
                   h.IMAGE_REF, "sleep", "1000")
            if record:
                create.command.append(time.perf_counter() - start)
            t, c = Watch(lambda: count_on(svc()) >= 1, lambda: len(mine()) >= 1, self.poll).run(start, 30)
            if record:
                create.add(t, c, wall, up.logfile)
            time.sleep(0.3)
            tasks = self.tasks(name)
            old = {tid for tid, _ in pier_running(tasks)}
            old_containers = set(pier_container_ids(tasks))
            if not old_containers:
                raise h.BenchError(f"service {name}: the running task has no container id in GET /v1/services/{name}/tasks")
            wall, start = time.monotonic(), time.perf_counter()
            up.cli("kill", *sorted(old_containers))
            if record:
                kill.command.append(time.perf_counter() - start)
            t, c = Watch(lambda: count_on(svc(), exclude=old) >= 1,
                         lambda: len(set(mine()) - old_containers) >= 1, self.poll).run(start, 30)
            if record:
                kill.add(t, c, wall, up.logfile)
        finally:
            up.cli("service", "rm", name)
            # Every container of the service gone, exited ones too (their teardown included), as
            # the Swarm rounds wait for `docker ps -a` to be empty: each create starts on an idle node.
            gone = lambda: not [c for c in up.api("/v1/containers?all=1")  # noqa: E731
                                if (c.get("labels") or {}).get(PIER_TASK_LABEL) == name]
            wait_for(f"containers of service {name} gone", gone, timeout=30, interval=0.05)


class SwarmBench:
    """create and kill on a one-node swarm."""

    def __init__(self, swarm: Swarm, poll: float):
        self.swarm, self.poll = swarm, poll
        self.seq = 0

    def round(self, create: Case, kill: Case, record: bool) -> None:
        self.seq += 1
        name = f"pbc{self.seq}"
        s, d = self.swarm, self.swarm.dockerd
        svc = lambda: swarm_running(s.tasks(name))  # noqa: E731
        try:
            start = time.perf_counter()
            d.docker("service", "create", "--detach", "--no-resolve-image", "--name", name, "--replicas", "1",
                     "--restart-delay", "0s", h.IMAGE_REF, "sleep", "1000")
            if record:
                create.command.append(time.perf_counter() - start)
            t, c = Watch(lambda: count_on(svc()) >= 1, lambda: len(s.containers(name)) >= 1, self.poll).run(start, 60)
            if record:
                create.add(t, c)
            time.sleep(0.3)
            old = {tid for tid, _ in svc()}
            old_containers = set(s.containers(name))
            start = time.perf_counter()
            d.docker("kill", *sorted(old_containers))
            if record:
                kill.command.append(time.perf_counter() - start)
            t, c = Watch(lambda: count_on(svc(), exclude=old) >= 1,
                         lambda: len(set(s.containers(name)) - old_containers) >= 1, self.poll).run(start, 60)
            if record:
                kill.add(t, c)
        finally:
            d.docker("service", "rm", name)
            wait_for(f"swarm containers of service {name} gone",
                     lambda: not h.run(d.cmd("ps", "-aq", "--filter", f"label={SWARM_SERVICE_LABEL}={name}"),
                                       env=d.env).stdout.strip(),
                     timeout=60, interval=0.1)


class ClusterBench:
    """node lost and drain on `pier manager` + two joined agents on this host."""

    def __init__(self, manager: PierDaemon, agents: list[PierDaemon], poll: float):
        self.manager, self.agents, self.poll = manager, agents, poll
        self.seq = 0
        self.node_ids: dict[str, str] = {}   # hostname -> node id

    def tasks(self, name: str) -> list[dict]:
        return self.manager.api(f"/v1/services/{name}/tasks")

    def nodes(self) -> list[dict]:
        return self.manager.api("/v1/nodes")

    def wait_nodes_ready(self, timeout: float = 30) -> None:
        want = {a.hostname for a in self.agents}

        def ready():
            ok = {n["description"]["hostname"]: n["id"] for n in self.nodes()
                  if n.get("state") == "ready" and n.get("availability") == "active"}
            self.node_ids.update(ok)
            return want <= set(ok)
        wait_for(f"nodes {sorted(want)} ready and active in GET /v1/nodes", ready, timeout=timeout, interval=0.1)

    def agent_on(self, node_id: str) -> PierDaemon:
        for a in self.agents:
            if self.node_ids.get(a.hostname) == node_id:
                return a
        raise h.BenchError(f"task placed on node {node_id}, which is none of this benchmark's agents {self.node_ids}")

    def create(self, name: str, replicas: int, extra: list[str] = ()) -> list[tuple[str, str | None]]:
        self.manager.cli("service", "create", "--name", name, "--replicas", str(replicas), "--restart-delay", "0s",
                         *extra, h.IMAGE_REF, "sleep", "1000")
        wait_for(f"service {name}: {replicas} tasks running", lambda: count_on(pier_running(self.tasks(name))) >= replicas,
                 timeout=60, interval=0.05)
        return pier_running(self.tasks(name))

    def remove(self, name: str) -> None:
        self.manager.cli("service", "rm", name)

        def gone():
            return all(not running_containers(a.containers(), PIER_TASK_LABEL, name, docker=False)
                       for a in self.agents if a.proc is not None)
        wait_for(f"containers of service {name} gone on every agent", gone, timeout=30, interval=0.05)

    def warm_up(self) -> None:
        """Puts the image on both agents (each pulls it from the manager's registry once)."""
        self.wait_nodes_ready()
        self.seq += 1
        name = f"pbw{self.seq}"
        running = self.create(name, 2, ["--max-replicas-per-node", "1"])
        h.log(f"image present on both agents (tasks on {sorted({n for _, n in running})})")
        self.remove(name)

    def node_lost(self, case: Case, record: bool, round_no: int) -> None:
        self.seq += 1
        name = f"pbn{self.seq}"
        self.wait_nodes_ready()
        restart: PierDaemon | None = None
        try:
            running = self.create(name, 2)
            placed = sorted({nid for _, nid in running})
            victim_node = placed[round_no % len(placed)]
            victim = self.agent_on(victim_node)
            survivor = next(a for a in self.agents if a is not victim)
            survivor_node = self.node_ids[survivor.hostname]
            if len(placed) < 2:
                h.warn(f"service {name}: both replicas on {victim.hostname}; killing it all the same")
            svc = lambda: pier_running(self.tasks(name))  # noqa: E731
            wall, start = time.monotonic(), time.perf_counter()
            victim.kill_hard()
            restart = victim
            t, c = Watch(lambda: count_on(svc(), survivor_node) >= 2,
                         lambda: len(running_containers(survivor.containers(), PIER_TASK_LABEL, name,
                                                        docker=False)) >= 2, self.poll).run(start, 60)
            if record:
                case.add(t, c, wall, survivor.logfile)
        finally:
            if restart is not None:
                restart.start()  # rejoins with its stored certificate; the manager stops its stale task
                self.wait_nodes_ready()
            self.remove(name)

    def drain(self, case: Case, record: bool) -> None:
        self.seq += 1
        name = f"pbd{self.seq}"
        self.wait_nodes_ready()
        drained: str | None = None
        try:
            running = self.create(name, 1)
            (old_task, node), = running
            other = next(a for a in self.agents if self.node_ids[a.hostname] != node)
            other_node = self.node_ids[other.hostname]
            svc = lambda: pier_running(self.tasks(name))  # noqa: E731
            wall, start = time.monotonic(), time.perf_counter()
            self.manager.cli("node", "update", "--availability", "drain", node)
            if record:
                case.command.append(time.perf_counter() - start)
            drained = node
            t, c = Watch(lambda: count_on(svc(), other_node, exclude={old_task}) >= 1,
                         lambda: len(running_containers(other.containers(), PIER_TASK_LABEL, name, docker=False)) >= 1,
                         self.poll).run(start, 60)
            if record:
                case.add(t, c, wall, other.logfile)
        finally:
            if drained:
                self.manager.cli("node", "update", "--availability", "active", drained)
            self.remove(name)


# --------------------------------------------------------------------------------------------
# Main


def run_rounds(label: str, total: int, warmup: int, steps: list[tuple[list[Case], Callable[[int, bool], None]]]) -> None:
    """Runs each step once per round, interleaved; a step that fails marks its cases and is skipped after."""
    for i in range(total):
        record = i >= warmup
        h.log(f"{label}: round {i + 1}/{total}{'' if record else ' (warm-up)'}")
        for cases, step in steps:
            if any(c.error for c in cases):
                continue
            try:
                step(i, record)
            except h.BenchError as e:
                for c in cases:
                    c.error = f"round {i + 1}: {e}"
                h.warn(f"{'/'.join(c.key + ' ' + c.system for c in cases)}: {e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="measured runs per case (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs per case first (default 1)")
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between API polls (default 0.005)")
    parser.add_argument("--no-swarm", action="store_true", help="skip Docker Swarm")
    parser.add_argument("--no-single", action="store_true", help="skip create and kill (pier up, Swarm)")
    parser.add_argument("--no-multi", action="store_true", help="skip node lost and drain (manager + 2 agents)")
    parser.add_argument("--trace", action="store_true", help="start the Pier daemons with PIER_TRACE=1 (logs kept "
                        "in bench/out/cluster-logs/)")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.poll <= 0:
        parser.error("--runs must be ≥ 1, --warmup ≥ 0 and --poll > 0")
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=not args.no_swarm)

    cases = {
        ("create", "pier"): Case("create", "service create → task running", "pier"),
        ("create", "swarm"): Case("create", "service create → task running", "swarm"),
        ("kill", "pier"): Case("kill", "task killed → replacement running", "pier"),
        ("kill", "swarm"): Case("kill", "task killed → replacement running", "swarm"),
        ("node-lost", "pier"): Case("node-lost", "agent killed → tasks running elsewhere", "pier"),
        ("drain", "pier"): Case("drain", "node drained → task running elsewhere", "pier"),
    }
    baseline = h.baseline_pier_binary()
    if baseline is not None and not args.no_single:
        cases["create", "pier (baseline)"] = Case("create", "service create → task running", "pier (baseline)")
        cases["kill", "pier (baseline)"] = Case("kill", "task killed → replacement running", "pier (baseline)")
    info = h.host_info()
    total = args.warmup + args.runs
    cleanups: list[Callable[[], None]] = []
    try:
        work = h.new_workdir("clu")
        cleanups.append(lambda: h.rmtree(work))
        rootfs = h.make_busybox_rootfs(work / "rootfs")
        layer = h.write_layer_tar(rootfs, work / "layer.tar")
        archive = work / "image.oci.tar"
        h.write_oci_archive(layer, archive, h.IMAGE_REF, ["sh"])
        pier = h.pier_binary()

        if not args.no_single:
            phase: list[Callable[[], None]] = []
            swarm: Swarm | None = None
            try:
                steps = []
                try:
                    up = PierDaemon(h.new_workdir("up"), pier, ["up"], UP_BRIDGE, "pb-up")
                    phase.append(up.cleanup)
                    phase.append(lambda: keep_logs(args, up))
                    up.start(trace=args.trace)
                    up.load_image(archive, rootfs, h.IMAGE_REF)
                    info["pier"] = up.version()
                    pb = PierUpBench(up, args.poll)
                    steps.append(([cases["create", "pier"], cases["kill", "pier"]],
                                  lambda i, rec: pb.round(cases["create", "pier"], cases["kill", "pier"], rec)))
                except h.BenchError as e:
                    cases["create", "pier"].error = cases["kill", "pier"].error = str(e)
                    h.warn(f"pier up: {e}")
                if baseline is not None:
                    # An earlier build's `pier up` in the same rounds: what a change cost.
                    try:
                        base = PierDaemon(h.new_workdir("up-base"), baseline, ["up"], UP_BASELINE_BRIDGE, "pb-up-base")
                        phase.append(base.cleanup)
                        base.start(trace=False)
                        base.load_image(archive, rootfs, h.IMAGE_REF)
                        info["pier_baseline"] = base.version()
                        bb = PierUpBench(base, args.poll)
                        bc, bk = cases["create", "pier (baseline)"], cases["kill", "pier (baseline)"]
                        steps.append(([bc, bk], lambda i, rec: bb.round(bc, bk, rec)))
                    except h.BenchError as e:
                        cases["create", "pier (baseline)"].error = cases["kill", "pier (baseline)"].error = str(e)
                        h.warn(f"pier up (baseline): {e}")
                if not args.no_swarm:
                    try:
                        swarm = Swarm(h.Dockerd(h.new_workdir("dock")))
                        phase.append(swarm.cleanup)
                        swarm.start()
                        swarm.dockerd.load_rootfs(layer, h.IMAGE_REF)
                        info["docker"] = swarm.dockerd.server_version()
                        sb = SwarmBench(swarm, args.poll)
                        steps.append(([cases["create", "swarm"], cases["kill", "swarm"]],
                                      lambda i, rec: sb.round(cases["create", "swarm"], cases["kill", "swarm"], rec)))
                    except h.BenchError as e:
                        cases["create", "swarm"].error = cases["kill", "swarm"].error = str(e)
                        h.warn(f"swarm: {e}")
                run_rounds("create/kill", total, args.warmup, steps)
                if args.trace:
                    cases["create", "pier"].analyse_trace()
                    cases["kill", "pier"].analyse_trace()
                if swarm is not None and swarm.dockerd.logfile.exists():
                    pulls = swarm.dockerd.logfile.read_text(errors="replace").count("pulling image failed")
                    if pulls:
                        h.warn(f"dockerd tried to pull the task image {pulls} times (see its log): Swarm's figures include that")
            finally:
                h.with_cleanup(phase)

        if not args.no_multi:
            phase = []
            try:
                mgr = PierDaemon(h.new_workdir("mgr"), pier, ["manager"], MANAGER_BRIDGE, "pb-mgr",
                                 ready_path="/v1/cluster")
                phase.append(mgr.cleanup)
                phase.append(lambda: keep_logs(args, mgr))
                port = h.free_port()
                mgr.start(["--listen", f"tcp://127.0.0.1:{port}"], trace=args.trace)
                mgr.load_image(archive, rootfs, h.IMAGE_REF)
                token = mgr.cli("join-token", "-q", "worker").stdout.decode().strip()
                agents = []
                for i, bridge in enumerate(AGENT_BRIDGES, 1):
                    a = PierDaemon(h.new_workdir(f"a{i}"), pier, ["agent"], bridge, f"pb-agent{i}")
                    phase.append(a.cleanup)
                    phase.append(lambda a=a: keep_logs(args, a))
                    agents.append(a)
                    # The token from a file, as users pass it (on the command line it is refused).
                    token_file = os.path.join(a.workdir, "join-token")
                    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                        f.write(token)
                    a.start(["--join", f"tcp://127.0.0.1:{port}", "--token-file", token_file], trace=args.trace)
                cb = ClusterBench(mgr, agents, args.poll)
                # The last cleanup to run first: remove services while the agents are still up.
                phase.append(lambda: remove_all_services(mgr))
                cb.warm_up()
                run_rounds("node-lost/drain", total, args.warmup, [
                    ([cases["drain", "pier"]], lambda i, rec: cb.drain(cases["drain", "pier"], rec)),
                    ([cases["node-lost", "pier"]], lambda i, rec: cb.node_lost(cases["node-lost", "pier"], rec, i)),
                ])
                if args.trace:
                    cases["drain", "pier"].analyse_trace()
                    cases["node-lost", "pier"].analyse_trace()
            except h.BenchError as e:
                for key in ("node-lost", "drain"):
                    if not cases[key, "pier"].error:
                        cases[key, "pier"].error = str(e)
                h.warn(f"pier cluster: {e}")
            finally:
                h.with_cleanup(phase)
    finally:
        h.with_cleanup(cleanups)

    selected = [c for c in cases.values()
                if not (args.no_swarm and c.system == "swarm")
                and not (args.no_single and c.key in ("create", "kill"))
                and not (args.no_multi and c.key in ("node-lost", "drain"))]
    report(selected, info, args)
    return 0 if all(c.error is None for c in selected) else 1


def keep_logs(args, daemon: PierDaemon) -> None:
    if not args.trace or not daemon.logfile.exists():
        return
    out = h.OUT_DIR / "cluster-logs"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{daemon.hostname}.log").write_bytes(daemon.logfile.read_bytes())


def remove_all_services(manager: PierDaemon) -> None:
    if manager.proc is None:
        return
    for s in manager.api("/v1/services"):
        h.run(manager.pier_cmd("service", "rm", s["id"]), env=manager.env, check=False)
    time.sleep(1)  # the agents stop and remove the tasks' containers; their own sweep catches the rest


def report(cases: list[Case], info: dict, args) -> None:
    rows = {(c.key, c.system): c.row() for c in cases}

    def med(key, system):
        r = rows.get((key, system))
        return r.get("median_ms") if r and not r["error"] else None

    def p90(key, system):
        r = rows.get((key, system))
        return r.get("p90_ms") if r and not r["error"] else None

    def cont(key, system):
        r = rows.get((key, system))
        return r.get("container_median_ms") if r and not r["error"] else None

    table = []
    for key, title in (("create", "service create → task running (1 node)"),
                       ("kill", "task killed → replacement running"),
                       ("node-lost", "agent killed → tasks on the other node"),
                       ("drain", "drain → task running on the other node")):
        if (key, "pier") not in rows and (key, "swarm") not in rows:
            continue
        if key in ("create", "kill"):
            peer = f"swarm {fmt_ms(med(key, 'swarm'))} / p90 {fmt_ms(p90(key, 'swarm'))} ms"
            ratio = fmt_ratio(med(key, "pier"), med(key, "swarm"))
        elif key == "node-lost":
            peer, ratio = f"swarm {SWARM_NODE_LOST_DOC}", "-"
        else:
            peer = f"Rufino et al. migration {RUFINO_MIGRATION_S * 1000:.0f} ms (paper)"
            ratio = fmt_ratio(med(key, "pier"), RUFINO_MIGRATION_S * 1000)
        pr = rows.get((key, "pier"))
        n = pr["n"] if pr and not pr["error"] else "-"
        table.append([title, n, fmt_ms(med(key, "pier")), fmt_ms(p90(key, "pier")), fmt_ms(cont(key, "pier")),
                      peer, ratio])
        br = rows.get((key, "pier (baseline)"))
        if br is not None:
            table.append([f"  the same, baseline build", br["n"] if not br["error"] else "-", fmt_ms(med(key, "pier (baseline)")),
                          fmt_ms(p90(key, "pier (baseline)")), fmt_ms(cont(key, "pier (baseline)")), "pier / baseline",
                          fmt_ratio(med(key, "pier"), med(key, "pier (baseline)"))])

    print()
    print(f"Edge Manager against Docker Swarm: {args.runs} runs per case after {args.warmup} warm-up, "
          f"busybox `sleep 1000`, image present, restart delay 0; poll every {args.poll * 1000:.0f} ms")
    print(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; {info.get('runc') or 'runc ?'}; "
          f"docker {info.get('docker', '-')}; pier {info.get('pier', '-')} (git {info.get('git') or '?'})")
    print()
    print(h.table(["case", "n", "pier median ms", "p90 ms", "container ms", "peer (median)", "pier / peer"], table,
                  left=(0, 5)))
    print("(\"container ms\": median time until the node's API lists the new container as running; the other "
          "columns wait for the manager's task state)")
    swarm_cont = [(k, cont(k, "swarm")) for k in ("create", "kill") if cont(k, "swarm") is not None]
    if swarm_cont:
        print("swarm container running (median): " + ", ".join(f"{k} {v:.0f} ms" for k, v in swarm_cont))
    returned = [f"{c.key} {c.system} {h.median(c.command) * 1000:.0f} ms" for c in cases if c.command and not c.error]
    if returned:
        print("the triggering command itself returned after (median): " + ", ".join(returned))
    print()
    for c in cases:
        if c.breakdown:
            steps = ", ".join(f"{label} +{ms:.0f}" for label, ms, _ in c.breakdown)
            print(f"{c.key} ({c.system}), node trace, median ms after the trigger: {steps}; "
                  f"manager shows running +{fmt_ms(med(c.key, c.system))}")
    for c in cases:
        if c.error:
            print(f"{c.key} ({c.system}) FAILED: {c.error}")

    def ratio(key):
        a, b = med(key, "pier"), med(key, "swarm")
        return a / b if a is not None and b else None

    targets = []
    r = ratio("create")
    targets.append(f"create → running: {'-' if r is None else f'{r:.2f}x'} Swarm, target ≤ {TARGET_CREATE_VS_SWARM}x: "
                   f"{verdict(r, TARGET_CREATE_VS_SWARM)}")
    r = ratio("kill")
    k = med("kill", "pier")
    targets.append(f"kill → replacement: {'-' if r is None else f'{r:.2f}x'} Swarm, target ≤ {TARGET_KILL_VS_SWARM}x: "
                   f"{verdict(r, TARGET_KILL_VS_SWARM)}"
                   + ("" if k is None else f" (Rufino et al. restart {RUFINO_RESTART_S * 1000:.0f} ms: "
                                           f"{k / (RUFINO_RESTART_S * 1000):.2f}x)"))
    n = med("node-lost", "pier")
    targets.append(f"agent killed → elsewhere: {fmt_ms(n)} ms median, p90 {fmt_ms(p90('node-lost', 'pier'))} ms, "
                   f"target ≤ {TARGET_NODE_LOST_S * 1000:.0f} ms: "
                   f"{verdict(None if n is None else n / 1000, TARGET_NODE_LOST_S)}")
    d = med("drain", "pier")
    targets.append(f"drain → elsewhere: {fmt_ms(d)} ms median (Rufino et al. migration {RUFINO_MIGRATION_S * 1000:.0f} ms; "
                   "no numeric target)")
    for line in targets:
        print(line)
    path = h.write_json("cluster", {
        "benchmark": "cluster", "host": info, "runs": args.runs, "warmup": args.warmup, "poll_s": args.poll,
        "targets": {"create_vs_swarm": TARGET_CREATE_VS_SWARM, "kill_vs_swarm": TARGET_KILL_VS_SWARM,
                    "node_lost_s": TARGET_NODE_LOST_S},
        "references": {"rufino_migration_s": RUFINO_MIGRATION_S, "rufino_restart_s": RUFINO_RESTART_S,
                       "swarm_node_lost": SWARM_NODE_LOST_DOC},
        "cases": list(rows.values()), "verdicts": targets})
    print(f"raw samples: {path}")


if __name__ == "__main__":
    sys.exit(main())
