#!/usr/bin/env python3
"""Seed 004 (Rufino et al.): publisher → Redis on the gateway → subscriber, with migration, on Pier and Swarm.

Three nodes as network namespaces on one LAN bridge (the paper's wired gateway and two end devices):

    root ns: bridge pbs4l<tag> 10.253.4.1/24
      ├── ns pbs<tag>-gw    10.253.4.10  gateway: the manager, and Redis (node label role=gateway)
      ├── ns pbs<tag>-dev1  10.253.4.11  end device 1 (label device=1)
      └── ns pbs<tag>-dev2  10.253.4.12  end device 2 (label device=2)

Pier: `pier manager` and `pier agent --join` in gw, `pier agent --join` in dev1 and dev2 (`nsenter
--net`), the nodes' mesh `--data-path vxlan` by default (the paper's devices share a wired LAN;
`--data-path wireguard` for WireGuard through wireguard-go). Images: the OCI layout that
examples/images/build.sh writes, imported into the manager, from whose registry the agents pull.
Swarm: dockerd in each namespace (`nsenter --net`), `docker swarm init` on gw, dev1 and dev2 join;
Debian's docker-registry (distribution 2.8, plain HTTP, each dockerd's `insecure-registries`) in gw at
10.253.4.10:5000, to which skopeo pushes the same three images from the same layout; the stack's
images are named in it and the nodes pull from it (`--resolve-image never`: the tag is not pinned, so
every task start asks the registry for the manifest, and downloads only what the node lacks).
Both deploy examples/seed004.yml, whose containers reach Redis as `redis` across the nodes.

Per system, in one run:
  starts     --rounds times, publisher and subscriber deployed on dev2 and removed again: deploy →
             first publish (publisher start) and → first update displayed. The first round pulls the
             images from the registry (dev2 never had them); the others find them on the node.
  scenario   the paper's 60 s script (--quick: 30 s): deploy on dev1 at 0 s (a pull: dev1 never had
             the images; its start is the second "start with a pull" figure); at 20 s the placement
             constraint of both services changes from node.labels.device==1 to ==2 (`service update
             --constraint-rm/--constraint-add`, both commands at once; stop-first) and they move to
             dev2, whose images are there; at 35 s
             the subscriber is restarted: its container on dev2 is stopped through the node's own
             API (`pier stop` / `docker stop`, SIGTERM) and the orchestrator starts the task again
             (restart_policy condition any, delay 0), the image and the node's state present. (A
             `docker restart`/`pier restart` behind the orchestrator's back leaves two subscribers
             running on both systems: the restarted container and the task's replacement.)
The publisher appends every published epoch time to published.log and the subscriber every update to
displayed.log (bind-mounted host directory): one machine, one clock. From them: publishes/s and
updates/s (median of per-second counts), the display delay (receive − publish time, p50/p99/mean),
the migration and restart time (command → first update displayed after the outage) and the messages
published but never displayed while the clock moved. Raw figures: bench/out/seed004.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import network  # noqa: E402
from registry import DockerRegistry  # noqa: E402

REPO = h.REPO
STACK_FILE = REPO / "examples" / "seed004.yml"
BUILD = REPO / "examples" / "images" / "build.sh"
LAYOUT = Path(os.environ.get("PIER_EXAMPLES_DIR", "/var/lib/pier-examples")) / "oci"
REDIS, PUBLISHER, SUBSCRIBER = "pier-examples/redis:7", "pier-examples/redis-publisher:1", "pier-examples/redis-subscriber:1"
IMAGES = [REDIS, PUBLISHER, SUBSCRIBER]
BUILD_ONLY = ["pier-examples/debian:bookworm", "pier-examples/python:3.11", *IMAGES]
STACK = "clock"
LAN = "10.253.4"
NODES = {"gw": f"{LAN}.10", "dev1": f"{LAN}.11", "dev2": f"{LAN}.12"}
LABELS = {"gw": "role=gateway", "dev1": "device=1", "dev2": "device=2"}
CLUSTER_CIDR = "10.87.0.0/16"
SWARM_POOL = "10.254.40.0/24"
MANAGER_PORT = 7443
REGISTRY_PORT = 5000   # Swarm's registry, docker-registry on the gateway (plain HTTP, an insecure registry)
REQUIRED_TOOLS = ["ip", "iptables", "nsenter", "skopeo", "buildah", "mmdebstrap"]

# The paper's figures (Rufino et al., section V): Raspberry Pi B+ devices, Docker 1.12 Swarm.
PAPER = {
    "start_pull_s": "3.89 (laptop); ~9 (SBC)",   # "downloaded from the registry, compiled and used"
    "start_present_s": None,
    "migration_s": "1.8",
    "restart_s": "0.876",
    "publishes_s": "362",
    "updates_s": "220",
    "delay_p50_ms": "281 (mean)",
    "delay_p99_ms": None,
    "lost": None,
}
# (length, migrate at, restart at) of the scenario, seconds.
TIMELINE = {"full": (60.0, 20.0, 35.0), "quick": (30.0, 10.0, 20.0)}


# --------------------------------------------------------------------------------------------
# Pure parts: the two files, and the figures (bench/test_seed004.py)


def micros(text: str) -> int:
    """An epoch time as the programs print it ("1765130000.123456") → integer microseconds."""
    whole, _, frac = text.strip().partition(".")
    if not whole.isdigit() or not frac.isdigit() or len(frac) > 6:
        raise ValueError(f"not an epoch time with up to 6 decimals: {text!r}")
    return int(whole) * 1_000_000 + int(frac.ljust(6, "0"))


def parse_published(text: str) -> list[int]:
    """published.log: one epoch time per line → microseconds, in file order. A last line cut short
    by a stopped writer is skipped."""
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(micros(line))
        except ValueError:
            if i == len(lines) - 1:   # no newline yet: cut short
                continue
            raise ValueError(f"published.log line {i + 1}: {line[:60]!r} is not an epoch time") from None
    return out


def parse_displayed(text: str) -> list[tuple[int, int]]:
    """displayed.log: "HH:MM:SS PUBLISHED RECEIVED" per line → (published µs, received µs)."""
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 3 or len(parts[0]) != 8 or parts[0].count(":") != 2:
                raise ValueError
            out.append((micros(parts[1]), micros(parts[2])))
        except ValueError:
            if i == len(lines) - 1:
                continue
            raise ValueError(f"displayed.log line {i + 1}: {line[:80]!r} is not 'HH:MM:SS PUBLISHED RECEIVED'") from None
    return out


def first_at_or_after(times: list[int], t: int) -> int | None:
    """The first of the sorted `times` at or after `t`."""
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return times[lo] if lo < len(times) else None


def outage(times: list[int], start: int, end: int) -> tuple[int, int] | None:
    """The longest pause between consecutive sorted `times` that ends in (start, end], counting the last
    time before `start` as the pause's possible beginning: (last before it, first after it), µs."""
    before = [t for t in times if t < start]
    window = [t for t in times if start <= t <= end]
    points = ([before[-1]] if before else [start]) + window
    best = None
    for a, b in zip(points, points[1:]):
        if best is None or b - a > best[1] - best[0]:
            best = (a, b)
    return best


def per_second(times: list[int], start: int, end: int) -> list[int]:
    """How many of `times` fall in each whole second from `start` (µs) until `end`."""
    n = max(0, (end - start) // 1_000_000)
    counts = [0] * n
    for t in times:
        i = (t - start) // 1_000_000
        if 0 <= i < n:
            counts[i] += 1
    return counts


def lost_between(published: list[int], displayed: set[int], start: int, end: int) -> int:
    """Messages published in [start, end] that were never displayed."""
    return sum(1 for t in published if start <= t <= end and t not in displayed)


@dataclass
class Events:
    """When the scenario's commands were issued (epoch µs, the clock the programs use)."""
    deploy: int
    migrate: int
    restart: int
    end: int


@dataclass
class Figures:
    start_publish_s: float | None = None
    start_display_s: float | None = None
    migration_s: float | None = None          # migrate command → first update displayed after the outage
    migration_outage_s: float | None = None   # the display's pause around the migration
    restart_s: float | None = None
    restart_outage_s: float | None = None
    publishes_s: float | None = None          # median of per-second counts
    updates_s: float | None = None
    delay_p50_ms: float | None = None
    delay_p99_ms: float | None = None
    delay_mean_ms: float | None = None
    lost_migration: int | None = None
    lost_restart: int | None = None
    lost_total: int | None = None
    published: int = 0
    displayed: int = 0
    duplicates: int = 0                       # updates of a time already displayed: two subscribers at once
    notes: list[str] = field(default_factory=list)


def analyse(published: list[int], displayed: list[tuple[int, int]], ev: Events) -> Figures:
    """The scenario's figures from the two files and the command times."""
    f = Figures(published=len(published), displayed=len(displayed))
    f.duplicates = len(displayed) - len({p for p, _ in displayed})
    pub = sorted(published)
    recv = sorted(r for _, r in displayed)
    shown = {p for p, _ in displayed}
    first_pub, first_disp = first_at_or_after(pub, ev.deploy), first_at_or_after(recv, ev.deploy)
    if first_pub is not None:
        f.start_publish_s = (first_pub - ev.deploy) / 1e6
    if first_disp is not None:
        f.start_display_s = (first_disp - ev.deploy) / 1e6
    else:
        f.notes.append("nothing was displayed")
        return f
    for name, at, until in (("migration", ev.migrate, ev.restart), ("restart", ev.restart, ev.end)):
        gap = outage(recv, at, until)
        if gap is None or gap[1] <= at:
            f.notes.append(f"no update displayed after the {name} command")
            continue
        setattr(f, f"{name}_s", (gap[1] - at) / 1e6)
        setattr(f, f"{name}_outage_s", (gap[1] - gap[0]) / 1e6)
        setattr(f, f"lost_{name}", lost_between(pub, shown, gap[0], gap[1]))
    f.lost_total = lost_between(pub, shown, first_disp, recv[-1])
    start_s = (first_disp // 1_000_000 + 1) * 1_000_000
    if ev.end - start_s >= 2_000_000:
        f.publishes_s = h.median(per_second(pub, start_s, ev.end))
        f.updates_s = h.median(per_second(recv, start_s, ev.end))
    delays = [(r - p) / 1000 for p, r in displayed if r >= ev.deploy]
    if delays:
        f.delay_p50_ms = h.percentile(delays, 50)
        f.delay_p99_ms = h.percentile(delays, 99)
        f.delay_mean_ms = sum(delays) / len(delays)
    return f


def start_times(published: list[int], displayed: list[tuple[int, int]], deploy: int) -> tuple[float | None, float | None]:
    """(deploy → first publish, deploy → first update displayed) in seconds."""
    p = first_at_or_after(sorted(published), deploy)
    d = first_at_or_after(sorted(r for _, r in displayed), deploy)
    return (None if p is None else (p - deploy) / 1e6, None if d is None else (d - deploy) / 1e6)


def stack_variant(text: str, device: str, only: list[str] | None = None, registry: str | None = None) -> str:
    """The stack file with publisher and subscriber placed on `device` ("1" or "2"), with only the
    services in `only` (by name) when given, and with every image named in `registry` ("host:port")
    when given. The file is YAML; it is read and written with PyYAML."""
    import yaml
    doc = yaml.safe_load(text)
    services = doc.get("services") or {}
    if only is not None:
        unknown = set(only) - set(services)
        if unknown:
            raise ValueError(f"the stack file has no service {sorted(unknown)}")
        doc["services"] = {k: v for k, v in services.items() if k in only}
    for svc in doc["services"].values():
        if registry is not None:
            svc["image"] = f"{registry}/{svc['image']}"
        placement = (svc.get("deploy") or {}).get("placement") or {}
        placement["constraints"] = [c.replace("node.labels.device==1", f"node.labels.device=={device}")
                                    for c in placement.get("constraints", [])]
    return yaml.safe_dump(doc, sort_keys=False)


# --------------------------------------------------------------------------------------------
# The network: three namespaces on one LAN bridge (network.Topology's parts)


class Lan(network.Topology):
    def __init__(self):
        super().__init__()
        self.bridge = f"pbs4l{self.tag}"
        self.addr = dict(NODES)

    def ns(self, node: str) -> str:
        return f"pbs{self.tag}-{node}"

    def lan_link(self, node: str) -> str:
        return f"pbs{self.tag}{node}"

    def create(self) -> None:
        used = h.run(["ip", "-4", "-o", "addr"]).stdout.decode()
        if f" {LAN}." in used:
            raise h.BenchError(f"{LAN}.0/24 is already on an interface of this machine (an earlier run's leftover?): "
                               f"`ip -4 -o addr | grep {LAN}.`")
        h.run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.bridge_made = True
        h.run(["ip", "addr", "add", f"{LAN}.1/24", "dev", self.bridge])
        h.run(["ip", "link", "set", self.bridge, "up"])
        for node in NODES:
            self._lan_member(node)

    def cleanup(self) -> None:
        super().cleanup()
        left = [n for n in h.netns_names() if n.startswith(f"pbs{self.tag}-")]
        if left:
            h.warn(f"network namespaces left behind: {left}")


# --------------------------------------------------------------------------------------------
# The two systems, behind one interface


class System:
    name = "?"
    registry: str | None = None   # "host:port" the stack's images are named in; None: the orchestrator's own

    def deploy(self, compose: Path, data: Path) -> None: ...
    def remove_clock(self) -> None: ...
    def migrate(self, service: str) -> None: ...
    def restart_subscriber(self, node: str) -> None: ...
    def running_on(self, service: str) -> str | None: ...
    def running_on_gateway(self) -> bool: ...
    def cleanup(self) -> None: ...


class PierSystem(System):
    name = "Pier"

    def __init__(self, pier: Path, lan: Lan, work: Path, data_path: str):
        self.pier, self.lan, self.work, self.data_path = pier, lan, work, data_path
        self.manager = network.PierNode(pier, work, "pbs4-mgr", lan.ns("gw"))
        self.agents: dict[str, network.PierNode] = {}
        self.token_file = work / "join-token"

    def start(self) -> None:
        gw = NODES["gw"]
        self.manager.start(["manager"], ["--listen", f"tcp://{gw}:{MANAGER_PORT}", "--bridge", "pbs4m0",
                                         "--bridge-subnet", "10.251.40.0/24", "--data-path", self.data_path,
                                         "--cluster-cidr", CLUSTER_CIDR, "--node-prefix", "24"], ready="/v1/cluster")
        h.log("pier: importing the three images into the manager (its registry)")
        self.manager.cli("image", "import", str(self.work.parent / "oci"), timeout=600)
        token = self.manager.cli("join-token", "-q", "worker").stdout.decode().strip()
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(token)
        for node in NODES:
            a = network.PierNode(self.pier, self.work, f"pbs4-{node}", self.lan.ns(node))
            self.agents[node] = a
            a.start(["agent"], ["--join", f"tcp://{gw}:{MANAGER_PORT}", "--token-file", str(self.token_file),
                                "--bridge", f"pbs4b{node}", "--mesh-interface", self.interface(node),
                                "--mesh-port", "51820"])
        for node, label in LABELS.items():
            wait_for(f"node pbs4-{node} in the manager's node list",
                     lambda: f"pbs4-{node}" in self.manager.cli("node", "ls").stdout.decode(), 30)
            self.manager.cli("node", "update", "--label-add", label, f"pbs4-{node}")

    def interface(self, node: str) -> str:
        return f"pb{'x' if self.data_path == 'vxlan' else 'w'}{self.lan.tag}{node}"

    def deploy(self, compose: Path, data: Path) -> None:
        h.run([str(self.pier), "stack", "deploy", "-c", str(compose), STACK],
              env=dict(self.manager.env, SEED004_DATA=str(data)), timeout=120)

    def remove_clock(self) -> None:
        self.manager.cli("service", "rm", f"{STACK}_publisher", f"{STACK}_subscriber")
        wait_for("the clock's containers gone", lambda: all(
            a.service_container(f"{STACK}_{s}") is None for a in self.agents.values() for s in ("publisher", "subscriber")), 60)

    def migrate(self, service: str) -> None:
        self.manager.cli("service", "update", "--constraint-rm", "node.labels.device==1",
                         "--constraint-add", "node.labels.device==2", f"{STACK}_{service}")

    def restart_subscriber(self, node: str) -> None:
        a = self.agents[node]
        c = a.service_container(f"{STACK}_subscriber")
        if c is None:
            raise h.BenchError(f"no running subscriber container on {node} to restart")
        a.cli("stop", c["id"])

    def running_on_gateway(self) -> bool:
        return self.agents["gw"].service_container(f"{STACK}_redis") is not None

    def running_on(self, service: str) -> str | None:
        for node, a in self.agents.items():
            if a.service_container(f"{STACK}_{service}") is not None:
                return node
        return None

    def cleanup(self) -> None:
        if self.manager.proc is not None and self.manager.proc.poll() is None:
            for s in h.run([str(self.pier), "service", "ls", "-q"], env=self.manager.env, check=False).stdout.decode().split():
                h.run([str(self.pier), "service", "rm", s], env=self.manager.env, check=False)
        for a in self.agents.values():
            a.cleanup()
        self.manager.cleanup()
        h.stop_mesh({self.interface(n) for n in self.agents})


class SwarmSystem(System):
    name = "Swarm"

    def __init__(self, lan: Lan, work: Path):
        self.lan, self.work = lan, work
        self.docker: dict[str, h.Dockerd] = {}
        self.node_ids: dict[str, str] = {}
        self.registry = f"{NODES['gw']}:{REGISTRY_PORT}"
        self.docker_registry: DockerRegistry | None = None

    def start(self) -> None:
        # The registry on the gateway, as Pier's is its manager's: docker-registry, plain HTTP, with the
        # three images pushed from the run's OCI layout. The nodes start with no image and pull.
        self.docker_registry = DockerRegistry(self.work / "registry", REGISTRY_PORT, host=NODES["gw"],
                                              netns=self.lan.ns("gw"), tls=False)
        h.log(f"swarm: pushing the three images to docker-registry at {self.registry}")
        for ref in IMAGES:
            h.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{self.work.parent / 'oci'}:{ref}",
                   f"docker://{self.registry}/{ref}"], timeout=300)
        for node in NODES:
            d = h.Dockerd(self.work / f"docker-{node}", config={"insecure-registries": [self.registry]},
                          netns=self.lan.ns(node), iptables=True)
            d.workdir.mkdir(parents=True, exist_ok=True)
            self.docker[node] = d
            d.start()
        gw = self.docker["gw"]
        gw.docker("swarm", "init", "--advertise-addr", NODES["gw"], "--listen-addr", f"{NODES['gw']}:2377",
                  "--default-addr-pool", SWARM_POOL, "--default-addr-pool-mask-length", "26")
        token = gw.docker("swarm", "join-token", "-q", "worker").stdout.decode().strip()
        for node in ("dev1", "dev2"):
            self.docker[node].docker("swarm", "join", "--token", token, "--advertise-addr", NODES[node],
                                     f"{NODES['gw']}:2377")
        for node, d in self.docker.items():
            self.node_ids[node] = d.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.decode().strip()
            gw.docker("node", "update", "--label-add", LABELS[node], self.node_ids[node])

    def deploy(self, compose: Path, data: Path) -> None:
        gw = self.docker["gw"]
        h.run([gw.client, "stack", "deploy", "--resolve-image", "never", "-c", str(compose), STACK],
              env=dict(gw.env, SEED004_DATA=str(data)), timeout=120)

    def remove_clock(self) -> None:
        self.docker["gw"].docker("service", "rm", f"{STACK}_publisher", f"{STACK}_subscriber")
        wait_for("the clock's containers gone", lambda: all(
            not self.containers(n, s, all_states=True) for n in ("dev1", "dev2") for s in ("publisher", "subscriber")), 60)

    def containers(self, node: str, service: str, all_states: bool = False) -> list[str]:
        d = self.docker[node]
        args = ["ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}"]
        return d.docker(*(args + (["-a"] if all_states else []))).stdout.decode().split()

    def migrate(self, service: str) -> None:
        self.docker["gw"].docker("service", "update", "--detach", "--constraint-rm", "node.labels.device==1",
                                 "--constraint-add", "node.labels.device==2", f"{STACK}_{service}")

    def restart_subscriber(self, node: str) -> None:
        ids = self.containers(node, "subscriber")
        if not ids:
            raise h.BenchError(f"no running subscriber container on {node} to restart")
        self.docker[node].docker("stop", ids[0])

    def running_on_gateway(self) -> bool:
        return bool(self.containers("gw", "redis"))

    def running_on(self, service: str) -> str | None:
        for node in ("dev1", "dev2"):
            if self.containers(node, service):
                return node
        return None

    def cleanup(self) -> None:
        for node in ("dev2", "dev1", "gw"):
            d = self.docker.get(node)
            if d is None:
                continue
            if d.proc is not None and d.proc.poll() is None:
                h.run(d.cmd("swarm", "leave", "--force"), env=d.env, check=False, timeout=60)
            d.cleanup()
        if self.docker_registry is not None:
            self.docker_registry.stop()


def wait_for(what: str, check, timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise h.BenchError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def now_us() -> int:
    return time.time_ns() // 1000


# --------------------------------------------------------------------------------------------
# The runs


@dataclass
class Outcome:
    system: str
    starts_pull: list[tuple[float | None, float | None]] = field(default_factory=list)
    starts_present: list[tuple[float | None, float | None]] = field(default_factory=list)
    figures: Figures | None = None
    events: dict = field(default_factory=dict)
    error: str | None = None
    version: str = "?"


def read_logs(data: Path) -> tuple[list[int], list[tuple[int, int]]]:
    pub = data / "published.log"
    disp = data / "displayed.log"
    return (parse_published(pub.read_text()) if pub.exists() else [],
            parse_displayed(disp.read_text()) if disp.exists() else [])


def wait_displayed(data: Path, since: int, timeout: float) -> None:
    def shown() -> bool:
        _, disp = read_logs(data)
        return any(r >= since for _, r in disp)
    wait_for(f"an update displayed ({data / 'displayed.log'})", shown, timeout, interval=0.05)


def run_system(system: System, work: Path, args, out: Outcome) -> None:
    text = STACK_FILE.read_text()
    compose = {dev: work / f"stack-dev{dev}.yml" for dev in ("1", "2")}
    for dev, path in compose.items():
        path.write_text(stack_variant(text, dev, registry=system.registry))
    redis_only = work / "stack-redis.yml"
    redis_only.write_text(stack_variant(text, "1", only=["redis"], registry=system.registry))
    # Redis runs on the gateway before anything is measured, as in the paper.
    system.deploy(redis_only, work / "data-redis")
    wait_for("Redis running on the gateway", lambda: system.running_on_gateway(), 180)
    # Starts on dev2: the first pulls the images from the registry, the others find them on the node.
    for i in range(args.rounds):
        data = work / f"data-start{i}"
        data.mkdir()
        t0 = now_us()
        system.deploy(compose["2"], data)
        wait_displayed(data, t0, 300)
        pub, disp = read_logs(data)
        got = start_times(pub, disp, t0)
        (out.starts_pull if i == 0 else out.starts_present).append(got)
        h.log(f"{system.name}: start round {i + 1} on dev2: first publish {got[0]:.2f} s, first display {got[1]:.2f} s"
              + (" (pull)" if i == 0 else ""))
        system.remove_clock()
    # The scenario.
    length, at_migrate, at_restart = TIMELINE["quick" if args.quick else "full"]
    data = work / "data-scenario"
    data.mkdir()
    h.log(f"{system.name}: the scenario ({length:.0f} s): deploy on dev1, move to dev2 at {at_migrate:.0f} s, "
          f"restart the subscriber at {at_restart:.0f} s")
    t0 = now_us()
    system.deploy(compose["1"], data)
    time.sleep(max(0.0, at_migrate - (now_us() - t0) / 1e6))
    t_migrate = now_us()
    threads = [threading.Thread(target=system.migrate, args=(s,)) for s in ("publisher", "subscriber")]
    errors: list[Exception] = []
    for t in threads:
        t.run = (lambda f: lambda: _catch(f, errors))(t.run)
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise h.BenchError(f"migration: {errors[0]}")
    wait_for("the subscriber running on dev2", lambda: system.running_on("subscriber") == "dev2", max(5.0, at_restart - at_migrate))
    time.sleep(max(0.0, at_restart - (now_us() - t0) / 1e6))
    t_restart = now_us()
    restart_note = None
    try:
        system.restart_subscriber("dev2")
    except h.BenchError as e:
        restart_note = f"the node's stop command failed ({e}); the figure is when the display came back anyway"
        h.warn(f"{system.name}: {restart_note}")
    time.sleep(max(0.0, length - (now_us() - t0) / 1e6))
    t_end = now_us()
    pub, disp = read_logs(data)
    out.events = {"deploy": t0, "migrate": t_migrate, "restart": t_restart, "end": t_end}
    out.figures = analyse(pub, disp, Events(t0, t_migrate, t_restart, t_end))
    if restart_note:
        out.figures.notes.append(restart_note)
    if args.keep_logs:
        keep = Path(args.keep_logs) / system.name.lower()
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("published.log", "displayed.log"):
            if (data / name).exists():
                shutil.copy(data / name, keep / name)
    out.starts_pull.append((out.figures.start_publish_s, out.figures.start_display_s))
    f = out.figures
    h.log(f"{system.name}: {f.published} published, {f.displayed} displayed; migration {f.migration_s} s, "
          f"restart {f.restart_s} s, lost in migration {f.lost_migration}")


def _catch(fn, errors: list) -> None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - handed to the caller
        errors.append(e)


# --------------------------------------------------------------------------------------------
# Report


def fmt(v, spec=".2f") -> str:
    return "-" if v is None else format(v, spec)


def median_of(pairs: list[tuple[float | None, float | None]], i: int) -> float | None:
    vals = [p[i] for p in pairs if p[i] is not None]
    return h.median(vals) if vals else None


def report_rows(outcomes: dict[str, Outcome]) -> list[list[str]]:
    def col(o: Outcome | None, key: str) -> str:
        if o is None:
            return "not run"
        f = o.figures
        if key == "start_pull_s":
            v = median_of(o.starts_pull, 0)
            return fmt(v)
        if key == "start_present_s":
            return fmt(median_of(o.starts_present, 0))
        if key == "display_pull_s":
            return fmt(median_of(o.starts_pull, 1))
        if key == "display_present_s":
            return fmt(median_of(o.starts_present, 1))
        if f is None:
            return "FAILED"
        v = getattr(f, key)
        if key in ("publishes_s", "updates_s"):
            return fmt(v, ".0f")
        if key.startswith("lost") or key == "duplicates":
            return "-" if v is None else str(v)
        if key.endswith("_ms"):
            return fmt(v, ".2f")
        return fmt(v)
    rows = [
        ("start, pull from the registry: → first publish (s)", "start_pull_s"),
        ("  → first update displayed (s)", "display_pull_s"),
        ("start, image on the node: → first publish (s)", "start_present_s"),
        ("  → first update displayed (s)", "display_present_s"),
        ("migration: command → displayed again on dev2 (s)", "migration_s"),
        ("  the display's outage (s)", "migration_outage_s"),
        ("restart: command → displayed again (s)", "restart_s"),
        ("  the display's outage (s)", "restart_outage_s"),
        ("publishes/s (median of per-second counts)", "publishes_s"),
        ("updates/s (median of per-second counts)", "updates_s"),
        ("display delay p50 (ms)", "delay_p50_ms"),
        ("display delay p99 (ms)", "delay_p99_ms"),
        ("display delay mean (ms)", "delay_mean_ms"),
        ("messages lost in the migration", "lost_migration"),
        ("messages lost in the restart", "lost_restart"),
        ("messages lost in the whole run", "lost_total"),
        ("updates of a time already displayed", "duplicates"),
    ]
    paper = dict(PAPER, display_pull_s=None, display_present_s=None, migration_outage_s=None, restart_outage_s=None,
                 delay_mean_ms="281", lost_restart=None, lost_total=None)
    paper["delay_p50_ms"] = None
    return [[title, paper.get(key) or "-", col(outcomes.get("Swarm"), key), col(outcomes.get("Pier"), key)]
            for title, key in rows]


def report(outcomes: dict[str, Outcome], args, info: dict) -> None:
    length, at_migrate, at_restart = TIMELINE["quick" if args.quick else "full"]
    print(f"\nSeed 004: publisher → Redis on the gateway → subscriber; {length:.0f} s scenario (migration at "
          f"{at_migrate:.0f} s, restart at {at_restart:.0f} s), {args.rounds} start round(s); three nodes as network "
          f"namespaces; Pier mesh: {args.data_path}; " + "; ".join(f"{o.system} {o.version}" for o in outcomes.values())
          + f"; load average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    print(h.table(["", "paper (RPi B+, Docker 1.12)", "Swarm", "Pier"], report_rows(outcomes)))
    for o in outcomes.values():
        if o.error:
            print(f"\n{o.system} INCOMPLETE: {o.error}")
        if o.figures and o.figures.notes:
            print(f"\n{o.system}: " + "; ".join(o.figures.notes))
    payload = {"benchmark": "seed004", "host": info, "quick": args.quick, "rounds": args.rounds,
               "data_path": args.data_path, "timeline_s": TIMELINE["quick" if args.quick else "full"],
               "paper": PAPER,
               "systems": {name: {"version": o.version, "error": o.error, "events_us": o.events,
                                  "starts_pull_s": o.starts_pull, "starts_present_s": o.starts_present,
                                  "figures": None if o.figures is None else o.figures.__dict__}
                           for name, o in outcomes.items()}}
    print(f"\nraw figures: {h.write_json('seed004', payload)}")


# --------------------------------------------------------------------------------------------


def prerequisites(args) -> None:
    tools = REQUIRED_TOOLS + ([] if args.no_swarm else ["dockerd", "docker-registry"])
    missing = [t for t in tools if not shutil.which(t) and not Path(f"/usr/sbin/{t}").exists()]
    if args.data_path == "wireguard" and not shutil.which("wireguard-go"):
        missing.append("wireguard-go")
    if missing:
        sys.exit(f"bench/seed004.py needs {', '.join(missing)}: run scripts/setup.sh --no-build --with-docker")
    try:
        import yaml  # noqa: F401
    except ImportError:
        sys.exit("bench/seed004.py needs PyYAML (Debian python3-yaml): run scripts/setup.sh --no-build")


def ensure_images(work: Path) -> None:
    """build.sh for the three images and their parents (quick when up to date), then a copy of the three
    in a layout of this run's own, so a rebuild during the run cannot change what is measured."""
    args = [str(BUILD)] + [a for name in BUILD_ONLY for a in ("--only", name)]
    h.log("examples/images/build.sh (Redis, the publisher and subscriber, and their parents)")
    proc = subprocess.run(args, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0:
        raise h.BenchError(f"examples/images/build.sh exited with {proc.returncode}")
    for ref in IMAGES:
        h.run(["skopeo", "copy", "--quiet", f"oci:{LAYOUT}:{ref}", f"oci:{work / 'oci'}:{ref}"], timeout=300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 30 s scenario and 2 start rounds (development)")
    parser.add_argument("--rounds", type=int, help="start rounds on dev2 before the scenario (default 3; --quick 2)")
    parser.add_argument("--data-path", choices=["vxlan", "wireguard"], default="vxlan",
                        help="Pier's node mesh (default vxlan: the paper's devices share a LAN)")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the scenario's published.log and displayed.log here")
    parser.add_argument("--no-swarm", action="store_true", help="skip Docker Swarm")
    parser.add_argument("--no-pier", action="store_true", help="skip Pier")
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 2 if args.quick else 3
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    h.require_root()
    h.install_signal_handlers()
    prerequisites(args)
    info = h.host_info()
    outcomes: dict[str, Outcome] = {}
    cleanups: list = []
    try:
        work = h.new_workdir("s4")
        cleanups.append(lambda: h.rmtree(work))
        ensure_images(work)
        systems = ([] if args.no_swarm else ["Swarm"]) + ([] if args.no_pier else ["Pier"])
        for name in systems:
            out = outcomes[name] = Outcome(name)
            phase: list = []
            try:
                lan = Lan()
                phase.append(lan.cleanup)
                lan.create()
                sys_work = work / name.lower()
                sys_work.mkdir()
                if name == "Swarm":
                    system = SwarmSystem(lan, sys_work)
                    phase.append(system.cleanup)
                    system.start()
                    registry = h.run(["docker-registry", "--version"], check=False).stdout.decode().split()
                    out.version = (f"docker {system.docker['gw'].server_version()}, docker-registry "
                                   + (registry[-1] if registry else "?"))
                else:
                    pier = h.pier_binary()
                    out.version = "pier " + (h.run([str(pier), "--version"], check=False).stdout.decode().strip() or str(pier))
                    system = PierSystem(pier, lan, sys_work, args.data_path)
                    phase.append(system.cleanup)
                    system.start()
                run_system(system, sys_work, args, out)
            except (h.BenchError, ValueError) as e:
                out.error = str(e)
                h.warn(f"{name}: {e}")
            finally:
                h.with_cleanup(phase)
                if args.keep_logs and (work / name.lower()).is_dir():
                    keep = Path(args.keep_logs) / name.lower()
                    keep.mkdir(parents=True, exist_ok=True)
                    for log in (work / name.lower()).glob("*.log"):   # the Pier daemons' logs
                        shutil.copy(log, keep / log.name)
    except h.BenchError as e:
        h.warn(str(e))
        print(f"seed004 benchmark FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        h.with_cleanup(cleanups)
    report(outcomes, args, info)
    return 1 if any(o.error for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
