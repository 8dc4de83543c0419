#!/usr/bin/env python3
"""Traffic between containers on different nodes, and service names, against Docker Swarm on this machine.

Nodes are network namespaces on one LAN bridge in the root namespace (the manager's host); two of them
sit behind their own MASQUERADE router namespace, as gateways on a cellular or home router would:

    root ns: bridge pbnl<tag> 10.252.0.1/24 ── pier manager (tcp://10.252.0.1:PORT)
      ├── ns pbn<tag>-up  10.252.0.2   upstream DNS (dnsmasq) for forwarded names
      ├── ns pbn<tag>-a   10.252.0.11  LAN node (Swarm manager; Pier relay)
      ├── ns pbn<tag>-b   10.252.0.12  LAN node (Swarm worker)
      ├── ns pbn<tag>-e   10.252.0.13  LAN node (Pier VXLAN, measured while Swarm runs in a and b)
      ├── ns pbn<tag>-f   10.252.0.14  LAN node (Pier VXLAN)
      ├── ns pbn<tag>-rc  10.252.0.21 ── 192.168.77.1 ── ns pbn<tag>-c 192.168.77.2 (behind NAT)
      └── ns pbn<tag>-rd  10.252.0.22 ── 192.168.77.1 ── ns pbn<tag>-d 192.168.77.2 (behind NAT)

Rows of the one table (container rows measure between the containers' own network namespaces):
  host             a → b namespace to namespace on the LAN bridge; c → a through c's NAT router
  reference        a → b through a VXLAN device and through wireguard-go set up by hand (`ip link`, `wg
                   set`; no containers, no Pier): what the tunnels cost by themselves
  swarm overlay    two dockerd started in a and b with `nsenter --net`, `docker swarm init/join`, an
                   attachable overlay network, one container on each node, task addresses (no VIP:
                   this kernel has no IPVS)
  pier vxlan       `pier manager --data-path vxlan`, agents in e and f (`pier agent --join`), measured
                   paired with Swarm's overlay: both up at once, their rounds alternating, so the
                   machine's other load falls on both (in a and b instead with --no-swarm)
  pier wireguard   `pier manager` (WireGuard, the default), agents in a (relay), b, c, d: a ↔ b
                   direct, c → a through NAT, c ↔ d through the relay a
Each: ping RTT median and p99 (--pings pings every 10 ms), the "busy" RTT (average of --flood back-to-back
pings, `ping -f`: the path's own cost, without the vCPU wake-ups that dominate at 10 ms) and iperf3, one
TCP stream (--seconds).
DNS, from inside a container (dnsperf; a cluster name and a name forwarded to the upstream): queries/s
at up to 100 queries in flight and the average latency one query at a time; Docker's embedded DNS
(127.0.0.11 on a user-defined network) against Pier's per-node resolver on the bridge gateway. Then the
time from a task's start (its container running) to its name answering, and from its stop to the name
gone, polled every 5 ms. Node join → the first ping between containers; link flap (a router's LAN link
down --flap seconds) → the first ping reply after it is up again. Resident memory of dnsmasq and
wireguard-go per node.

Where this build of Pier lacks what a row needs, the row says "Pier: <case> unavailable: <reason>" and
the others go on. Raw figures: bench/out/network.json (--json prints them on stdout instead of the table).
Everything created (namespaces, veths, bridge, processes by PID, docker state) is removed at the end,
also after Ctrl-C.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

# Targets (the networking issue).
TARGET_VXLAN_RTT_VS_SWARM = 1.1        # at most 1.1x Swarm's overlay latency
TARGET_VXLAN_TPUT_VS_SWARM = 0.9       # at least 0.9x its throughput
TARGET_NAME_FOLLOW_S = 1.0             # names follow task changes within 1 s

LAN = "10.252.0"
UPSTREAM = f"{LAN}.2"
PRIVATE = "192.168.77"                 # the same private range behind both routers, as two home routers have
SWARM_POOL = "10.254.0.0/16"
SWARM_OVERLAY = "10.254.1.0/24"
DOCKER_DNS_NET = "172.30.60.0/24"
PIER_CLUSTER_CIDR = "10.86.0.0/16"
PIER_MANAGER_BRIDGE = ("pbnm0", "10.251.30.0/24")
PIER_UP_BRIDGE = ("pbnu0", "10.251.31.0/24")
PIER_UP_CLUSTER_CIDR = "10.251.64.0/20"
FORWARDED_NAME = "fwd.bench.test"
FORWARDED_ADDR = "10.99.0.1"
REQUIRED_TOOLS = ["ip", "iptables", "nsenter", "ping", "iperf3", "dnsperf", "dnsmasq", "dockerd"]
PACKAGES = "iputils-ping iperf3 dnsperf dnsmasq-base docker.io"


# --------------------------------------------------------------------------------------------
# Parsing (pure; tested in bench/test_network.py)


PING_TIME = re.compile(r"icmp_seq=(\d+) .*time=([0-9.]+) ms")
PING_STAMPED = re.compile(r"^\[(\d+\.\d+)\] .*icmp_seq=(\d+) .*time=([0-9.]+) ms")


def ping_rtts(text: str) -> list[float]:
    """RTTs in ms of each reply line of iputils `ping` output."""
    return [float(m.group(2)) for m in PING_TIME.finditer(text)]


PING_SUMMARY = re.compile(r"rtt min/avg/max/mdev = ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms")


def ping_average(text: str) -> float | None:
    """The average RTT in ms of iputils `ping -q` output's summary line, or None without one."""
    m = PING_SUMMARY.search(text)
    return float(m.group(2)) if m else None


def ping_replies(text: str) -> list[float]:
    """Wall-clock times (`ping -D`) of the replies, in order."""
    return [float(m.group(1)) for m in (PING_STAMPED.match(l) for l in text.splitlines()) if m]


def first_after(stamps: list[float], t: float) -> float | None:
    """Seconds from `t` to the first stamp at or after it, or None."""
    later = [s for s in stamps if s >= t]
    return min(later) - t if later else None


def iperf3_bps(report: dict) -> float:
    """Bits per second the receiver saw in an `iperf3 -J` client report."""
    end = report.get("end") or {}
    if report.get("error"):
        raise ValueError(report["error"])
    received = end.get("sum_received") or {}
    if "bits_per_second" not in received:
        raise ValueError("no end.sum_received.bits_per_second in the iperf3 report")
    return float(received["bits_per_second"])


DNSPERF_QPS = re.compile(r"Queries per second:\s+([0-9.]+)")
DNSPERF_LAT = re.compile(r"Average Latency \(s\):\s+([0-9.]+)")
DNSPERF_LOST = re.compile(r"Queries lost:\s+(\d+)")
DNSPERF_COMPLETED = re.compile(r"Queries completed:\s+(\d+)")
DNSPERF_NOERROR = re.compile(r"Response codes:\s+NOERROR (\d+)")


def dnsperf_figures(text: str) -> dict:
    """Queries/s, average latency (ms), completed, lost and NOERROR answers from dnsperf's summary."""
    def grab(rx, cast=float):
        m = rx.search(text)
        return cast(m.group(1)) if m else None
    qps, lat = grab(DNSPERF_QPS), grab(DNSPERF_LAT)
    if qps is None or lat is None:
        raise ValueError(f"no summary in dnsperf's output: {h.tail(text)}")
    return {"qps": qps, "latency_ms": lat * 1000, "completed": grab(DNSPERF_COMPLETED, int),
            "lost": grab(DNSPERF_LOST, int), "noerror": grab(DNSPERF_NOERROR, int)}


def dns_query(name: str, ident: int, qtype: int = 1) -> bytes:
    """A DNS query (recursion desired) for `name`, type A by default."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".") if p)
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def _skip_name(msg: bytes, off: int) -> int:
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += 1 + n


def dns_answer(msg: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, IPv4 addresses of the A records) of a DNS response."""
    if len(msg) < 12:
        raise ValueError("short DNS message")
    ident, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    addrs = []
    for _ in range(an):
        off = _skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return ident, flags & 0xF, addrs


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def verdict(ok: bool | None) -> str:
    return "not checked (no result)" if ok is None else ("met" if ok else "MISSED")


# --------------------------------------------------------------------------------------------
# Network namespaces


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in_netns(netns_path: str, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    """A socket of the network namespace at `netns_path`: made in a thread that joined it (setns
    changes only the calling thread; the socket keeps its namespace when the thread ends)."""
    out: dict = {}

    def target():
        try:
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            out["sock"] = socket.socket(socket.AF_INET, kind)
        except Exception as e:  # noqa: BLE001 - handed to the caller
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise h.BenchError(str(out["error"]))
    return out["sock"]


def netns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


class Topology:
    """The LAN bridge, the node and router namespaces and their links; see the module's docstring."""

    def __init__(self):
        self.tag = "%03x" % random.randrange(0x1000)
        self.bridge = f"pbnl{self.tag}"
        self.namespaces: list[str] = []
        self.root_links: list[str] = []
        self.bridge_made = False
        self.addr = {"up": UPSTREAM, "a": f"{LAN}.11", "b": f"{LAN}.12", "e": f"{LAN}.13", "f": f"{LAN}.14",
                     "rc": f"{LAN}.21", "rd": f"{LAN}.22",
                     "c": f"{PRIVATE}.2", "d": f"{PRIVATE}.2"}

    def ns(self, node: str) -> str:
        return f"pbn{self.tag}-{node}"

    def path(self, node: str) -> str:
        return f"/var/run/netns/{self.ns(node)}"

    def lan_link(self, node: str) -> str:
        """The root-side end of a node's (or router's) link to the LAN bridge."""
        return f"pbn{self.tag}{node}"

    def enter(self, node: str) -> list[str]:
        return ["nsenter", f"--net={self.path(node)}"]

    def sh(self, node: str, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return h.run([*self.enter(node), *cmd], check=check, timeout=timeout)

    def create(self) -> None:
        used = h.run(["ip", "-4", "-o", "addr"]).stdout.decode()
        if f" {LAN}." in used:
            raise h.BenchError(f"{LAN}.0/24 is already on an interface of this machine (an earlier run's "
                               "leftover?): `ip -4 -o addr | grep {LAN}.`")
        h.run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.bridge_made = True
        h.run(["ip", "addr", "add", f"{LAN}.1/24", "dev", self.bridge])
        h.run(["ip", "link", "set", self.bridge, "up"])
        for node in ("up", "a", "b", "e", "f", "rc", "rd"):
            self._lan_member(node)
        for node, router in (("c", "rc"), ("d", "rd")):
            self._behind_nat(node, router)

    def _add_ns(self, node: str) -> None:
        h.run(["ip", "netns", "add", self.ns(node)])
        self.namespaces.append(self.ns(node))
        h.run(["ip", "-n", self.ns(node), "link", "set", "lo", "up"])

    def _lan_member(self, node: str) -> None:
        self._add_ns(node)
        outer = self.lan_link(node)
        h.run(["ip", "link", "add", outer, "type", "veth", "peer", "name", "lan0", "netns", self.ns(node)])
        self.root_links.append(outer)
        h.run(["ip", "link", "set", outer, "master", self.bridge])
        h.run(["ip", "link", "set", outer, "up"])
        h.run(["ip", "-n", self.ns(node), "addr", "add", f"{self.addr[node]}/24", "dev", "lan0"])
        h.run(["ip", "-n", self.ns(node), "link", "set", "lan0", "up"])

    def renew_nodes(self) -> None:
        """Fresh namespaces for the nodes a-d (the LAN, the routers and their rules stay): nothing the
        previous cluster's agents left in them (mesh interfaces, routes, rules) carries over."""
        for node in ("a", "b", "c", "d"):
            h.run(["ip", "netns", "delete", self.ns(node)], check=False)
            self.namespaces.remove(self.ns(node))
        for node in ("a", "b"):
            # The root-side end goes with its peer, but not at once.
            h.run(["ip", "link", "del", self.lan_link(node)], check=False)
            deadline = time.monotonic() + 10
            while h.link_exists(self.lan_link(node)) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.root_links.remove(self.lan_link(node))
            self._lan_member(node)
        for node, router in (("c", "rc"), ("d", "rd")):
            self.sh(router, "ip", "link", "del", "priv0", check=False)
            deadline = time.monotonic() + 10
            while self.sh(router, "ip", "link", "show", "priv0", check=False).returncode == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            self._private_link(node, router)

    def _private_link(self, node: str, router: str) -> None:
        self._add_ns(node)
        r = self.ns(router)
        h.run(["ip", "-n", r, "link", "add", "priv0", "type", "veth", "peer", "name", "lan0", "netns", self.ns(node)])
        h.run(["ip", "-n", r, "addr", "add", f"{PRIVATE}.1/24", "dev", "priv0"])
        h.run(["ip", "-n", r, "link", "set", "priv0", "up"])
        h.run(["ip", "-n", self.ns(node), "addr", "add", f"{self.addr[node]}/24", "dev", "lan0"])
        h.run(["ip", "-n", self.ns(node), "link", "set", "lan0", "up"])
        h.run(["ip", "-n", self.ns(node), "route", "add", "default", "via", f"{PRIVATE}.1"])

    def _behind_nat(self, node: str, router: str) -> None:
        """`node` on a private link to `router`, which masquerades it onto the LAN and drops what
        the LAN starts towards it (a home router without port forwards)."""
        self._private_link(node, router)
        self._router_rules(router)

    def _router_rules(self, router: str) -> None:
        r = self.ns(router)
        self.sh(router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        for rule in (["-t", "nat", "-A", "POSTROUTING", "-o", "lan0", "-j", "MASQUERADE"],
                     ["-A", "FORWARD", "-i", "lan0", "-o", "priv0", "-m", "conntrack", "--ctstate",
                      "ESTABLISHED,RELATED", "-j", "ACCEPT"],
                     ["-A", "FORWARD", "-i", "lan0", "-o", "priv0", "-j", "DROP"]):
            self.sh(router, "iptables", *rule)

    def set_lan_link(self, node: str, up: bool) -> None:
        h.run(["ip", "link", "set", self.lan_link(node), "up" if up else "down"])

    def cleanup(self) -> None:
        for ns in reversed(self.namespaces):
            h.run(["ip", "netns", "delete", ns], check=False)
        for link in self.root_links:
            if h.link_exists(link):
                h.run(["ip", "link", "del", link], check=False)
        if self.bridge_made and h.link_exists(self.bridge):
            h.run(["ip", "link", "del", self.bridge], check=False)
        left = [n for n in h.netns_names() if n.startswith(f"pbn{self.tag}-")]
        if left:
            h.warn(f"network namespaces left behind: {left}")


class Children:
    """Background processes of this run (iperf3 servers, dnsmasq, ping), stopped by PID."""

    def __init__(self):
        self.procs: list[tuple[subprocess.Popen, str]] = []

    def start(self, argv: list[str], name: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True,
                             stdout=kw.pop("stdout", subprocess.DEVNULL), stderr=kw.pop("stderr", subprocess.DEVNULL), **kw)
        self.procs.append((p, name))
        return p

    def stop(self, p: subprocess.Popen) -> None:
        if p.poll() is None:
            os.kill(p.pid, 9)
        p.wait()

    def cleanup(self) -> None:
        for p, _ in reversed(self.procs):
            self.stop(p)


# --------------------------------------------------------------------------------------------
# Measurements between two network namespaces


class Endpoint:
    def __init__(self, label: str, netns: str, addr: str):
        self.label, self.netns, self.addr = label, netns, addr

    def enter(self) -> list[str]:
        return ["nsenter", f"--net={self.netns}"]


class Row:
    def __init__(self, system: str, case: str):
        self.system, self.case = system, case
        self.rtt: list[float] = []
        self.bps: float | None = None
        # Average RTT of a flood ping (`ping -f`): back to back, so no CPU idles between packets.
        self.busy_rtt: float | None = None
        self.error: str | None = None
        self.unavailable: str | None = None

    def rtt_median(self) -> float | None:
        return h.median(self.rtt) if self.rtt else None

    def rtt_p99(self) -> float | None:
        return h.percentile(self.rtt, 99) if self.rtt else None

    def as_dict(self) -> dict:
        return {"system": self.system, "case": self.case, "rtt_median_ms": self.rtt_median(),
                "rtt_p99_ms": self.rtt_p99(), "pings": len(self.rtt), "rtt_samples_ms": self.rtt,
                "busy_rtt_ms": self.busy_rtt,
                "gbit_s": None if self.bps is None else self.bps / 1e9, "error": self.error,
                "unavailable": self.unavailable}


def wait_reachable(src: Endpoint, dst: Endpoint, timeout: float) -> float:
    """Pings every 10 ms until `dst` answers; returns the seconds it took."""
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        p = h.run([*src.enter(), "ping", "-n", "-c", "1", "-W", "0.2", dst.addr], check=False, timeout=10)
        if p.returncode == 0:
            return time.perf_counter() - start
        if time.monotonic() > deadline:
            raise h.BenchError(f"{dst.label} ({dst.addr}) did not answer pings from {src.label} within {timeout:.0f} s")
        time.sleep(0.01)


def iperf_between(src: Endpoint, dst: Endpoint, seconds: int, children: Children) -> float:
    """Bits/s of one iperf3 TCP stream from `src` to `dst` for `seconds`."""
    port = str(5201 + random.randrange(500))
    server = children.start([*dst.enter(), "iperf3", "-s", "-1", "-B", dst.addr, "-p", port], "iperf3 server")
    try:
        deadline = time.monotonic() + 10
        while True:
            c = h.run([*src.enter(), "iperf3", "-c", dst.addr, "-p", port, "-t", str(seconds), "-J"],
                      check=False, timeout=seconds + 30)
            try:
                return iperf3_bps(json.loads(c.stdout or b"{}"))
            except ValueError as e:
                if "refused" not in str(e) or time.monotonic() > deadline:
                    raise h.BenchError(f"iperf3 {src.label} → {dst.label}: {e}") from None
                time.sleep(0.1)
    finally:
        children.stop(server)


def busy_rtt(src: Endpoint, dst: Endpoint, count: int) -> float | None:
    """Average RTT in ms of `count` back-to-back pings (`ping -f`): the path's own cost. At one ping
    per 10 ms both vCPUs idle between packets and their wake-ups dominate (and vary by ±25% from run
    to run here); back to back they do not."""
    p = h.run([*src.enter(), "ping", "-n", "-q", "-f", "-c", str(count), "-W", "1", dst.addr], check=False, timeout=120)
    return ping_average(p.stdout.decode())


def interval_rtts(src: Endpoint, dst: Endpoint, count: int) -> list[float]:
    p = h.run([*src.enter(), "ping", "-n", "-c", str(count), "-i", "0.01", "-W", "1", dst.addr],
              check=False, timeout=count * 0.05 + 30)
    rtts = ping_rtts(p.stdout.decode())
    if not rtts:
        raise h.BenchError(f"no ping replies from {dst.label}: {h.tail(p.stdout + p.stderr)}")
    return rtts


def log_row(row: Row, note: str = "") -> None:
    h.log(f"{row.system} {row.case}: RTT median {fmt(row.rtt_median())} ms, p99 {fmt(row.rtt_p99())} ms, "
          f"busy {fmt(row.busy_rtt, '.4f')} ms, {fmt(row.bps and row.bps / 1e9, '.2f')} Gbit/s{note}")


def paired_rounds(n: int, rounds: int) -> list[int]:
    """`n` split into `rounds` near-equal parts, each at least 1."""
    rounds = max(1, min(rounds, n))
    return [n // rounds + (1 if i < n % rounds else 0) for i in range(rounds)]


def measure_paired(paths: list[tuple[Row, Endpoint, Endpoint]], args, children: Children, rounds: int = 5) -> None:
    """The same figures as `measure_path`, for paths that are all up at once, in alternating rounds
    (the order flips every round): whatever else loads the machine meanwhile falls on each alike.
    Busy RTT and throughput are the medians of the rounds'."""
    for row, src, dst in paths:
        wait_reachable(src, dst, 30)
    busy: dict[int, list[float]] = {id(r): [] for r, _, _ in paths}
    bps: dict[int, list[float]] = {id(r): [] for r, _, _ in paths}
    pings, floods = paired_rounds(args.pings, rounds), paired_rounds(args.flood, rounds)
    for i in range(rounds):
        order = paths if i % 2 == 0 else list(reversed(paths))
        for row, src, dst in order:
            row.rtt += interval_rtts(src, dst, pings[min(i, len(pings) - 1)])
            b = busy_rtt(src, dst, floods[min(i, len(floods) - 1)])
            if b is not None:
                busy[id(row)].append(b)
        if i < 3:  # three throughput rounds each
            for row, src, dst in order:
                bps[id(row)].append(iperf_between(src, dst, args.seconds, children))
    for row, _, _ in paths:
        row.busy_rtt = h.median(busy[id(row)]) if busy[id(row)] else None
        row.bps = h.median(bps[id(row)]) if bps[id(row)] else None
        log_row(row, f" (paired, {rounds} rounds)")


def measure_path(row: Row, src: Endpoint, dst: Endpoint, args, children: Children) -> None:
    """Ping RTTs and one iperf3 TCP stream from `src` to `dst` into `row`."""
    try:
        wait_reachable(src, dst, 30)
        row.rtt = interval_rtts(src, dst, args.pings)
        row.busy_rtt = busy_rtt(src, dst, args.flood)
        row.bps = iperf_between(src, dst, args.seconds, children)
        log_row(row)
    except h.BenchError as e:
        row.error = str(e)
        h.warn(f"{row.system} {row.case}: {e}")


def flap_recovery(src: Endpoint, dst: Endpoint, down: Callable[[], None], up: Callable[[], None],
                  seconds: float, children: Children) -> float:
    """Pings every 10 ms (ping -D) through a link taken down for `seconds`; returns the seconds from the
    link's return to the first reply."""
    wait_reachable(src, dst, 30)
    total = seconds + 60
    out = children.start([*src.enter(), "ping", "-D", "-n", "-i", "0.01", "-W", "0.5", "-w", str(int(total)), dst.addr],
                         "ping", stdout=subprocess.PIPE)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(l.decode(errors="replace") for l in out.stdout), daemon=True)
    reader.start()
    time.sleep(0.5)
    down()
    time.sleep(seconds)
    t_up = time.time()
    up()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            got = first_after(ping_replies("".join(lines)), t_up)
            if got is not None:
                return got
            time.sleep(0.05)
        raise h.BenchError(f"no reply from {dst.label} within 60 s of the link's return")
    finally:
        children.stop(out)
        reader.join(timeout=5)


# --------------------------------------------------------------------------------------------
# DNS


class Resolver:
    """Queries a DNS server from inside a network namespace (a container's)."""

    def __init__(self, netns: str, server: str):
        self.sock = socket_in_netns(netns)
        self.sock.settimeout(0.05)
        self.server = server
        self.ident = random.randrange(0x10000)

    def lookup(self, name: str) -> tuple[int, list[str]] | None:
        """(rcode, addresses), or None when no answer came within 50 ms."""
        self.ident = (self.ident + 1) & 0xFFFF
        self.sock.sendto(dns_query(name, self.ident), (self.server, 53))
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return None
            try:
                ident, rcode, addrs = dns_answer(data)
            except (ValueError, struct.error, IndexError):
                continue
            if ident == self.ident:
                return rcode, addrs
        return None

    def close(self) -> None:
        self.sock.close()


class NameWatch(threading.Thread):
    """Polls a name every 5 ms from a start until it resolves (present=True) or stops resolving."""

    def __init__(self, resolver: Resolver, name: str, present: bool, timeout: float):
        super().__init__(daemon=True)
        self.resolver, self.name, self.present, self.timeout = resolver, name, present, timeout
        self.seen: float | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            got = self.resolver.lookup(self.name)
            if got is not None and bool(got[1]) == self.present:
                self.seen = time.perf_counter()
                return
            time.sleep(0.005)


def run_dnsperf(client_netns: str, server: str, name: str, seconds: float, in_flight: int, work: Path) -> dict:
    queries = work / f"q-{abs(hash((name, in_flight)))}.txt"
    queries.write_text(f"{name} A\n")
    p = h.run(["nsenter", f"--net={client_netns}", "dnsperf", "-s", server, "-d", str(queries), "-l", str(seconds),
               "-q", str(in_flight), "-t", "2"], check=False, timeout=seconds + 30)
    figures = dnsperf_figures(p.stdout.decode(errors="replace"))
    if not figures["noerror"]:
        raise h.BenchError(f"dnsperf against {server} for {name}: no NOERROR answers ({h.tail(p.stdout)})")
    return figures


class DnsResult:
    def __init__(self, system: str):
        self.system = system
        self.perf: dict[str, dict] = {}          # "cluster"/"forwarded" → {"qps", "latency_ms", ...}
        self.visible: list[float] = []           # container running → name answers (s)
        self.gone: list[float] = []              # stop command → name gone (s)
        self.error: str | None = None
        self.unavailable: str | None = None
        self.notes: list[str] = []

    def as_dict(self) -> dict:
        return {"system": self.system, "perf": self.perf, "visible_s": self.visible, "gone_s": self.gone,
                "error": self.error, "unavailable": self.unavailable, "notes": self.notes}


def measure_dns(res: DnsResult, client_netns: str, server: str, cluster_name: str, args, work: Path) -> None:
    for kind, name in (("cluster", cluster_name), ("forwarded", FORWARDED_NAME)):
        try:
            full = run_dnsperf(client_netns, server, name, args.dns_seconds, 100, work)
            one = run_dnsperf(client_netns, server, name, args.dns_seconds, 1, work)
            res.perf[kind] = {"qps": full["qps"], "latency_ms": one["latency_ms"], "lost": full["lost"],
                              "qps_one_at_a_time": one["qps"], "latency_loaded_ms": full["latency_ms"]}
            h.log(f"{res.system} DNS {kind} name: {full['qps']:.0f} q/s, {one['latency_ms']:.3f} ms one at a time")
        except (h.BenchError, ValueError) as e:
            res.notes.append(f"{kind} name {name}: {e}")
            h.warn(f"{res.system} DNS {kind}: {e}")


def follow_names(res: DnsResult, resolver: Resolver, name: str, start: Callable[[], None],
                 running: Callable[[], bool], stop: Callable[[], None], rounds: int) -> None:
    """Per round: `start()` (returns once issued) → poll `running()` and the name; then `stop()`."""
    for i in range(rounds):
        watch = NameWatch(resolver, name, True, 30)
        watch.start()
        start()
        run_at = None
        deadline = time.monotonic() + 30
        while run_at is None and time.monotonic() < deadline:
            if running():
                run_at = time.perf_counter()
            else:
                time.sleep(0.005)
        watch.join()
        if run_at is None or watch.seen is None:
            raise h.BenchError(f"round {i + 1}: {'the task did not run' if run_at is None else f'{name} did not resolve'} within 30 s")
        res.visible.append(max(0.0, watch.seen - run_at))
        gone = NameWatch(resolver, name, False, 30)
        gone.start()
        t0 = time.perf_counter()
        stop()
        gone.join()
        if gone.seen is None:
            raise h.BenchError(f"round {i + 1}: {name} still resolved 30 s after the stop")
        res.gone.append(gone.seen - t0)
        # The name is gone; let the next round start from a quiet resolver.
        time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# Docker Swarm: two dockerd in namespaces a and b


class SwarmSide:
    def __init__(self, topo: Topology, work: Path, layer: Path):
        self.topo, self.work, self.layer = topo, work, layer
        self.docker: dict[str, h.Dockerd] = {}
        self.join_to_first_packet: float | None = None

    def start(self) -> None:
        for node in ("a", "b"):
            d = h.Dockerd(self.work / f"docker-{node}", config={"dns": [UPSTREAM]}, netns=self.topo.ns(node), iptables=True)
            d.workdir.mkdir(parents=True, exist_ok=True)
            self.docker[node] = d
            d.start()
            d.load_rootfs(self.layer, h.IMAGE_REF)
        a, b = self.docker["a"], self.docker["b"]
        a.docker("swarm", "init", "--advertise-addr", self.topo.addr["a"], "--listen-addr", f"{self.topo.addr['a']}:2377",
                 "--default-addr-pool", SWARM_POOL)
        a.docker("network", "create", "--driver", "overlay", "--attachable", "--subnet", SWARM_OVERLAY, "pbov")
        self.run_container(a, "pbsa")
        token = a.docker("swarm", "join-token", "-q", "worker").stdout.decode().strip()
        # Node join → first packet: b joins, starts a container on the overlay, which pings a's.
        t0 = time.perf_counter()
        b.docker("swarm", "join", "--token", token, "--advertise-addr", self.topo.addr["b"], f"{self.topo.addr['a']}:2377")
        self.run_container(b, "pbsb")
        wait_reachable(self.endpoint("b", "pbsb"), self.endpoint("a", "pbsa"), 60)
        self.join_to_first_packet = time.perf_counter() - t0
        h.log(f"swarm: join → first packet between containers {self.join_to_first_packet * 1000:.0f} ms")

    @staticmethod
    def run_container(d: h.Dockerd, name: str, network: str = "pbov") -> None:
        d.docker("run", "-d", "--name", name, "--network", network, h.IMAGE_REF, "sleep", "100000")

    def endpoint(self, node: str, name: str, network: str = "pbov") -> Endpoint:
        d = self.docker[node]
        info = json.loads(d.docker("inspect", name).stdout)[0]
        pid = info["State"]["Pid"]
        addr = info["NetworkSettings"]["Networks"][network]["IPAddress"]
        return Endpoint(f"{name} on {node}", f"/proc/{pid}/ns/net", addr)

    def rss_mb(self, node: str) -> float:
        d = self.docker[node]
        total = h.memory_of(d.proc.pid)[0] + sum(h.memory_of(p)[0] for p in d.containerd_pids if h.pid_alive(p))
        return total / 2**20

    def dns(self, res: DnsResult, args, work: Path) -> None:
        """Docker's embedded DNS on a user-defined bridge network of dockerd a."""
        a = self.docker["a"]
        a.docker("network", "create", "--driver", "bridge", "--subnet", DOCKER_DNS_NET, "pbdns")
        self.run_container(a, "pbdcli", "pbdns")
        self.run_container(a, "pbdsrv", "pbdns")
        client = self.endpoint("a", "pbdcli", "pbdns")
        measure_dns(res, client.netns, "127.0.0.11", "pbdsrv", args, work)
        resolver = Resolver(client.netns, "127.0.0.11")
        try:
            def running() -> bool:
                p = a.docker("inspect", "-f", "{{.State.Running}}", "pbdnew")
                return p.stdout.decode().strip() == "true"
            follow_names(res, resolver, "pbdnew",
                         start=lambda: self.run_container(a, "pbdnew", "pbdns"), running=running,
                         stop=lambda: (a.docker("kill", "pbdnew"), a.docker("rm", "-f", "pbdnew")),
                         rounds=args.name_rounds)
        finally:
            resolver.close()

    def cleanup(self) -> None:
        for node in ("b", "a"):
            d = self.docker.get(node)
            if d is None:
                continue
            if d.proc is not None and d.proc.poll() is None:
                h.run(d.cmd("swarm", "leave", "--force"), env=d.env, check=False, timeout=60)
            d.cleanup()


# --------------------------------------------------------------------------------------------
# Pier: manager in the root namespace, agents in the node namespaces


def help_text(pier: Path, *role: str) -> str:
    return h.run([str(pier), *role, "--help"], check=False).stdout.decode(errors="replace")


def missing_flags(pier: Path) -> dict[str, str]:
    """What each Pier case lacks in this build, by the options its commands offer."""
    manager, agent = help_text(pier, "manager"), help_text(pier, "agent")
    lacks = {}
    mesh = [f for f, text in (("manager --data-path", manager), ("manager --cluster-cidr", manager),
                              ("agent --mesh-interface", agent), ("agent --mesh-port", agent))
            if f"--{f.split('--')[1]}" not in text]
    why = (f"this pier has no {', '.join(mesh)} option{'s' if len(mesh) > 1 else ''} (the node mesh is not in "
           "this build)") if mesh else None
    for case in ("vxlan", "wireguard direct", "wireguard NAT", "join", "flap", "memory"):
        if why:
            lacks[case] = why
    if "--relay" not in agent:
        lacks.setdefault("wireguard relay", why or "this pier has no `agent --relay` option")
    elif why:
        lacks["wireguard relay"] = why
    return lacks


class PierNode:
    """A pier daemon started by this run (in a namespace with `nsenter --net`, or in the root one)."""

    def __init__(self, pier: Path, work: Path, name: str, netns: str | None):
        self.pier, self.name, self.netns = pier, name, netns
        self.root = work / name
        self.socket = self.root / "pier.sock"
        self.env = dict(os.environ, PIER_HOST=f"unix://{self.socket}")
        self.log = work / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.bridge: str | None = None

    def start(self, role: list[str], extra: list[str], ready: str = "/v1/info") -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        enter = ["nsenter", f"--net=/var/run/netns/{self.netns}"] if self.netns else []
        argv = [*enter, str(self.pier), *role, "--data-root", str(self.root), "--listen", f"unix://{self.socket}",
                "--hostname", self.name, *extra]
        shim = self.pier.parent / "pier-shim"
        if shim.exists():
            argv += ["--shim", str(shim)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise h.BenchError(f"pier {role[0]} {self.name} exited with {self.proc.returncode}: "
                                   f"{h.tail(self.log.read_text(errors='replace'), 6)}")
            try:
                if self.socket.exists() and h.http_get(self.socket, ready)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise h.BenchError(f"pier {role[0]} {self.name} did not answer within 30 s: "
                                   f"{h.tail(self.log.read_text(errors='replace'), 6)}")
            time.sleep(0.05)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return h.run([str(self.pier), *args], env=self.env, timeout=timeout)

    def containers(self) -> list[dict]:
        status, body = h.http_get(self.socket, "/v1/containers")
        return json.loads(body) if status == 200 else []

    def service_container(self, service: str) -> dict | None:
        for c in self.containers():
            if (c.get("labels") or {}).get("pier.service.name") == service and c.get("state") == "running":
                return c
        return None

    def endpoint(self, service: str, timeout: float = 60) -> Endpoint:
        """The running container of `service` on this node: its network namespace and address."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.service_container(service)
            if c is not None:
                # Its init's network namespace (a pooled namespace's name does not follow the container's id).
                status, body = h.http_get(self.socket, f"/v1/containers/{c['id']}")
                details = json.loads(body) if status == 200 else {}
                if details.get("pid") and details.get("ipAddress"):
                    return Endpoint(f"{service} on {self.name}", f"/proc/{details['pid']}/ns/net", details["ipAddress"])
            if time.monotonic() > deadline:
                raise h.BenchError(f"no running container of {service} on {self.name} within {timeout:.0f} s")
            time.sleep(0.05)

    def memory(self, comm: str) -> int | None:
        """RSS bytes of the `comm` processes in this node's network namespace."""
        if not self.netns:
            return None
        inode = netns_inode(f"/var/run/netns/{self.netns}")
        total, found = 0, False
        for p in h.processes():
            if p.comm == comm and netns_inode(f"/proc/{p.pid}/ns/net") == inode:
                total += h.memory_of(p.pid)[0]
                found = True
        return total if found else None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            ids = h.run([str(self.pier), "ps", "-aq"], env=self.env, check=False, timeout=30).stdout.decode().split()
            if ids:
                h.run([str(self.pier), "rm", "-f", *ids], env=self.env, check=False, timeout=60)
            h.stop_pid(self.proc.pid, f"pier {self.name}")
        self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            runc_root = self.root / "runc"
            if runc_root.is_dir():
                for cid in h.run(["runc", "--root", str(runc_root), "list", "-q"], check=False).stdout.decode().split():
                    h.warn(f"runc container {cid} of {self.name} left behind; deleting it")
                    h.run(["runc", "--root", str(runc_root), "delete", "-f", cid], check=False)
            for _, ns in h.cni_state_namespaces(self.root):
                if ns in h.netns_names():
                    h.warn(f"network namespace {ns} of {self.name} left behind; deleting it")
                    h.run(["ip", "netns", "delete", ns], check=False)
            if self.bridge and not self.netns and h.link_exists(self.bridge):
                h.run(["ip", "link", "del", self.bridge], check=False)


def children_rss(pid: int, comm: str) -> int | None:
    """RSS bytes of the `comm` processes descended from `pid`."""
    procs = h.processes()
    below, frontier = set(), {pid}
    while frontier:
        frontier = {p.pid for p in procs if p.ppid in frontier} - below
        below |= frontier
    found = [h.memory_of(p.pid)[0] for p in procs if p.pid in below and p.comm == comm]
    return sum(found) if found else None


class PierCluster:
    """`pier manager` in the root namespace and agents joined from node namespaces."""

    def __init__(self, topo: Topology, pier: Path, work: Path, archive: Path, rootfs: Path, data_path: str):
        self.topo, self.pier, self.work, self.data_path = topo, pier, work, data_path
        self.archive, self.rootfs = archive, rootfs
        self.port = h.free_port()
        self.manager = PierNode(pier, work, f"pbn-mgr-{data_path}", None)
        self.agents: dict[str, PierNode] = {}
        self.token_file = work / "join-token"

    def start_manager(self) -> None:
        bridge, subnet = PIER_MANAGER_BRIDGE
        self.manager.bridge = bridge
        self.manager.start(["manager"], ["--listen", f"tcp://{LAN}.1:{self.port}", "--bridge", bridge,
                                         "--bridge-subnet", subnet, "--data-path", self.data_path,
                                         "--cluster-cidr", PIER_CLUSTER_CIDR, "--node-prefix", "24"],
                           ready="/v1/cluster")
        agent = h.PierAgent.__new__(h.PierAgent)  # only for load_image's fallbacks
        agent.pier, agent.env = self.pier, self.manager.env
        h.PierAgent.load_image(agent, self.archive, self.rootfs, h.IMAGE_REF)
        token = self.manager.cli("join-token", "-q", "worker").stdout.decode().strip()
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(token)

    def start_agent(self, node: str, relay: bool = False) -> PierNode:
        a = PierNode(self.pier, self.work, f"pbn-{node}", self.topo.ns(node))
        self.agents[node] = a
        a.start(["agent"], ["--join", f"tcp://{LAN}.1:{self.port}", "--token-file", str(self.token_file),
                            "--bridge", f"pbnb{node}0", "--mesh-interface", self.interface(node),
                            "--mesh-port", "51820"] + (["--relay"] if relay else []))
        return a

    def interface(self, node: str) -> str:
        return f"pb{'x' if self.data_path == 'vxlan' else 'w'}{self.topo.tag}{node}"

    def service(self, name: str, node: str) -> None:
        self.manager.cli("service", "create", "--name", name, "--constraint", f"node.hostname==pbn-{node}",
                         h.IMAGE_REF, "sleep", "100000")

    def cleanup(self) -> None:
        if self.manager.proc is not None and self.manager.proc.poll() is None:
            for s in h.run([str(self.pier), "service", "ls", "-q"], env=self.manager.env, check=False).stdout.decode().split():
                h.run([str(self.pier), "service", "rm", s], env=self.manager.env, check=False)
        for a in self.agents.values():
            a.cleanup()
        self.manager.cleanup()
        h.stop_mesh({self.interface(n) for n in self.agents})


# --------------------------------------------------------------------------------------------
# The run


class Results:
    def __init__(self):
        self.rows: list[Row] = []
        self.dns: list[DnsResult] = []
        self.unavailable: list[str] = []
        self.events: dict[str, dict] = {}   # "join"/"flap" → {system: seconds or error}
        self.memory: dict[str, dict] = {}   # system → {node: {what: MB}}

    def row(self, system: str, case: str) -> Row:
        r = Row(system, case)
        self.rows.append(r)
        return r

    def say_unavailable(self, case: str, reason: str) -> None:
        line = f"Pier: {case} unavailable: {reason}"
        self.unavailable.append(line)
        print(line, file=sys.stderr, flush=True)

    def event(self, key: str, system: str, value) -> None:
        self.events.setdefault(key, {})[system] = value


def host_rows(topo: Topology, res: Results, args, children: Children) -> None:
    a, b, c = (Endpoint(f"node {n}", topo.path(n), topo.addr[n]) for n in ("a", "b", "c"))
    measure_path(res.row("host", "a → b (LAN)"), a, b, args, children)
    measure_path(res.row("host", "c → a (through NAT)"), c, a, args, children)


def reference_rows(topo: Topology, res: Results, args, work: Path, children: Children) -> None:
    """The two tunnels set up by hand between namespaces a and b (no containers, no Pier): what the
    kernel's VXLAN and the userspace wireguard-go cost by themselves, the floor under Pier's rows."""
    a, b = topo.addr["a"], topo.addr["b"]
    row = res.row("reference: vxlan by hand", "a → b, MTU 1450")
    made: list[str] = []
    try:
        for node, local, remote, inner in (("a", a, b, "10.85.0.1"), ("b", b, a, "10.85.0.2")):
            topo.sh(node, "ip", "link", "add", "vxr0", "type", "vxlan", "id", "4242", "local", local, "dstport", "4790",
                    "dev", "lan0", "nolearning")
            made.append(node)
            topo.sh(node, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxr0", "dst", remote)
            topo.sh(node, "ip", "link", "set", "vxr0", "mtu", "1450", "up")
            topo.sh(node, "ip", "addr", "add", f"{inner}/24", "dev", "vxr0")
        measure_path(row, Endpoint("a (vxlan)", topo.path("a"), "10.85.0.1"), Endpoint("b (vxlan)", topo.path("b"), "10.85.0.2"),
                     args, children)
    except h.BenchError as e:
        row.error = str(e)
    finally:
        for node in made:
            topo.sh(node, "ip", "link", "del", "vxr0", check=False)

    row = res.row("reference: wireguard-go by hand", "a → b, MTU 1420")
    if not shutil.which("wireguard-go") or not shutil.which("wg"):
        row.unavailable = "needs wireguard-go and wireguard-tools (Debian packages)"
        return
    procs: list[tuple[str, subprocess.Popen]] = []
    try:
        keys = {}
        for node in ("a", "b"):
            private = h.run(["wg", "genkey"]).stdout.strip()
            public = h.run(["wg", "pubkey"], input=private).stdout.decode().strip()
            key_file = work / f"wg-{node}.key"
            with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write(private + b"\n")
            keys[node] = (key_file, public)
        for node, peer, inner in (("a", "b", "10.84.0.1"), ("b", "a", "10.84.0.2")):
            name = f"pbwr{topo.tag}{node}"
            # -f: in the foreground, so this run holds its PID (it forks away otherwise).
            p = children.start([*topo.enter(node), "wireguard-go", "-f", name], f"wireguard-go {name}",
                               env=dict(os.environ, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD="1"))
            procs.append((node, p))
            sock = Path(f"/var/run/wireguard/{name}.sock")
            deadline = time.monotonic() + 10
            while not sock.exists():
                if p.poll() is not None or time.monotonic() > deadline:
                    raise h.BenchError(f"wireguard-go {name} did not open {sock}")
                time.sleep(0.02)
            peer_addr = topo.addr[peer]
            topo.sh(node, "wg", "set", name, "private-key", str(keys[node][0]), "listen-port", "51830",
                    "peer", keys[peer][1], "allowed-ips", "10.84.0.0/24", "endpoint", f"{peer_addr}:51830")
            topo.sh(node, "ip", "addr", "add", f"{inner}/24", "dev", name)
            topo.sh(node, "ip", "link", "set", name, "mtu", "1420", "up")
        measure_path(row, Endpoint("a (wireguard-go)", topo.path("a"), "10.84.0.1"),
                     Endpoint("b (wireguard-go)", topo.path("b"), "10.84.0.2"), args, children)
        res.memory["reference wireguard-go"] = {node: {"wireguard-go MB": round(h.memory_of(p.pid)[0] / 2**20, 1)}
                                                for node, p in procs if p.poll() is None}
    except h.BenchError as e:
        row.error = str(e)
    finally:
        for node, p in procs:
            children.stop(p)
            name = f"pbwr{topo.tag}{node}"
            topo.sh(node, "ip", "link", "del", name, check=False)
            Path(f"/var/run/wireguard/{name}.sock").unlink(missing_ok=True)


def swarm_rows(topo: Topology, res: Results, args, work: Path, layer: Path, children: Children,
               cleanups: list, beside: Callable[[Row, Endpoint, Endpoint], bool] | None = None) -> None:
    """Swarm's rows; `beside(row, a, b)`, when given, measures Swarm's overlay path paired with
    another (Pier's VXLAN) and says whether it did."""
    swarm = SwarmSide(topo, work, layer)
    cleanups.append(swarm.cleanup)
    row = res.row("swarm overlay", "a → b")
    dns = DnsResult("docker embedded DNS")
    res.dns.append(dns)
    try:
        swarm.start()
        res.event("join", "swarm", swarm.join_to_first_packet)
    except h.BenchError as e:
        row.error = dns.error = str(e)
        h.warn(f"swarm: {e}")
        return
    sa, sb = swarm.endpoint("a", "pbsa"), swarm.endpoint("b", "pbsb")
    if beside is None or not beside(row, sa, sb):
        measure_path(row, sa, sb, args, children)
    try:
        got = flap_recovery(sb, sa, lambda: topo.set_lan_link("b", False), lambda: topo.set_lan_link("b", True),
                            args.flap, children)
        res.event("flap", "swarm", got)
        h.log(f"swarm: link of b down {args.flap:.0f} s → first reply {got * 1000:.0f} ms after it is up")
    except h.BenchError as e:
        res.event("flap", "swarm", f"error: {e}")
    try:
        swarm.dns(dns, args, work)
    except h.BenchError as e:
        dns.error = str(e)
        h.warn(f"docker DNS: {e}")
    res.memory["docker"] = {n: {"dockerd+containerd MB": round(swarm.rss_mb(n), 1)} for n in ("a", "b")}


def pier_dns(res: Results, pier: Path, work: Path, archive: Path, rootfs: Path, args, cleanups: list) -> None:
    """Pier's resolver on one `pier up` (root namespace, own bridge): names from inside a container.
    The forwarded name goes to the node's upstream servers, which know `fwd.bench.test` only where they
    are this run's upstream dnsmasq; otherwise that row says so and the cluster-name rows stand."""
    dns = DnsResult("pier dnsmasq")
    res.dns.append(dns)
    up = PierNode(pier, work, "pbn-up", None)
    cleanups.append(up.cleanup)
    try:
        bridge, subnet = PIER_UP_BRIDGE
        up.bridge = bridge
        # This run's upstream, so the forwarded name has an answer (the host's resolvers lack it).
        up_help = help_text(pier, "up")
        upstream = ["--dns-upstream", UPSTREAM] if "--dns-upstream" in up_help else []
        # Its own cluster range: the node's bridge takes the leased subnet, not --bridge-subnet, and the
        # default range may be in use by another Pier on this host.
        cidr = ["--cluster-cidr", PIER_UP_CLUSTER_CIDR] if "--cluster-cidr" in up_help else []
        # A node of its own cluster: its mesh interface (and wireguard-go, which outlives pier up by
        # design) in the root namespace, under a name of this run's, stopped at the end.
        mesh = []
        if "--mesh-interface" in up_help:
            mesh_name = f"pbwu{random.randrange(0x10000):04x}"
            mesh = ["--mesh-interface", mesh_name]
            # Run after pier up has stopped (cleanups run in reverse).
            cleanups.insert(cleanups.index(up.cleanup), lambda: h.stop_mesh({mesh_name}))
        up.start(["up"], ["--bridge", bridge, "--bridge-subnet", subnet] + upstream + cidr + mesh)
        agent = h.PierAgent.__new__(h.PierAgent)
        agent.pier, agent.env = pier, up.env
        h.PierAgent.load_image(agent, archive, rootfs, h.IMAGE_REF)
        for name in ("pbpcli", "pbpsrv"):
            up.cli("service", "create", "--name", name, h.IMAGE_REF, "sleep", "100000")
        client = up.endpoint("pbpcli")
        route = h.run(["nsenter", f"--net={client.netns}", "ip", "-4", "route", "show", "default"]).stdout.decode()
        m = re.search(r"via (\S+)", route)
        if not m:
            raise h.BenchError(f"the container has no default route ({route.strip() or 'none'})")
        gateway = m.group(1)
        # The container's resolv.conf says `search pier` (ndots:2): its libc asks `pbpsrv.pier`
        # first, which is what the queries below send (Docker's resolver takes the bare name).
        resolver = Resolver(client.netns, gateway)
        try:
            # Until the task runs and its node's resolver has its record (or 15 s).
            deadline = time.monotonic() + 15
            answer = None
            while (answer is None or not answer[1]) and time.monotonic() < deadline:
                answer = resolver.lookup("pbpsrv.pier")
                if answer is not None and not answer[1]:
                    time.sleep(0.1)
            if answer is None:
                dns.unavailable = f"nothing answers DNS on the bridge gateway {gateway}:53 (no per-node resolver in this build)"
                res.say_unavailable("DNS", dns.unavailable)
                return
            if not answer[1]:
                dns.unavailable = f"the resolver on {gateway} does not know the service name pbpsrv.pier (rcode {answer[0]})"
                res.say_unavailable("DNS", dns.unavailable)
                return
            measure_dns(dns, client.netns, gateway, "pbpsrv.pier", args, work)
            follow_names(dns, resolver, "pbpnew.pier",
                         start=lambda: up.cli("service", "create", "--detach", "--name", "pbpnew", h.IMAGE_REF, "sleep", "100000")
                         if "--detach" in help_text(pier, "service", "create")
                         else up.cli("service", "create", "--name", "pbpnew", h.IMAGE_REF, "sleep", "100000"),
                         running=lambda: up.service_container("pbpnew") is not None,
                         stop=lambda: up.cli("service", "rm", "pbpnew"), rounds=args.name_rounds)
            rss = children_rss(up.proc.pid, "dnsmasq")
            res.memory["pier (pier up)"] = {"up": {"dnsmasq MB": None if rss is None else round(rss / 2**20, 1)}}
        finally:
            resolver.close()
    except h.BenchError as e:
        dns.error = str(e)
        h.warn(f"pier DNS: {e}")


def pier_vxlan_beside(topo: Topology, res: Results, pier: Path, work: Path, archive: Path, rootfs: Path, args,
                      children: Children) -> Callable[[Row, Endpoint, Endpoint], bool]:
    """Pier's VXLAN cluster on LAN nodes e and f, measured paired with Swarm's overlay path (a → b)
    while both run; False when Pier's side could not start (Swarm's row is then measured alone)."""
    def beside(swarm_row: Row, sa: Endpoint, sb: Endpoint) -> bool:
        row = res.row("pier vxlan", "e → f")
        lacks = missing_flags(pier)
        if "vxlan" in lacks:
            row.unavailable = lacks["vxlan"]
            res.say_unavailable("VXLAN", row.unavailable)
            return False
        cluster = PierCluster(topo, pier, work / "vx", archive, rootfs, "vxlan")
        (work / "vx").mkdir()
        try:
            try:
                cluster.start_manager()
                for n in ("e", "f"):
                    cluster.start_agent(n)
                    cluster.service(f"pbv{n}", n)
                pe, pf = cluster.agents["e"].endpoint("pbve"), cluster.agents["f"].endpoint("pbvf")
            except h.BenchError as e:
                row.error = str(e)
                h.warn(f"pier vxlan: {e}")
                return False
            try:
                measure_paired([(swarm_row, sa, sb), (row, pe, pf)], args, children)
            except h.BenchError as e:
                row.error = swarm_row.error = str(e)
                h.warn(f"paired swarm overlay / pier vxlan: {e}")
            return True
        finally:
            cluster.cleanup()
    return beside


def pier_rows(topo: Topology, res: Results, pier: Path, work: Path, archive: Path, rootfs: Path, args,
              children: Children, cleanups: list) -> None:
    lacks = missing_flags(pier)
    # VXLAN: two LAN nodes (unless measured beside Swarm already).
    done = any(r.system == "pier vxlan" for r in res.rows)
    row = None if done else res.row("pier vxlan", "a → b")
    if row is None:
        pass
    elif "vxlan" in lacks:
        row.unavailable = lacks["vxlan"]
        res.say_unavailable("VXLAN", row.unavailable)
    else:
        topo.renew_nodes()
        cluster = PierCluster(topo, pier, work / "vx", archive, rootfs, "vxlan")
        (work / "vx").mkdir()
        cleanups.append(cluster.cleanup)
        try:
            cluster.start_manager()
            for n in ("a", "b"):
                cluster.start_agent(n)
                cluster.service(f"pbv{n}", n)
            measure_path(row, cluster.agents["a"].endpoint("pbva"), cluster.agents["b"].endpoint("pbvb"), args, children)
        except h.BenchError as e:
            row.error = str(e)
            h.warn(f"pier vxlan: {e}")
        finally:
            cluster.cleanup()
    # WireGuard: a (relay), b on the LAN, c behind NAT; d joins later (join → first packet), also NAT'd.
    cases = [("wireguard direct", "a → b"), ("wireguard NAT", "c → a (through NAT)"),
             ("wireguard relay", "c → d (NAT to NAT, relay a)")]
    rows = {case: res.row(f"pier {case}", what) for case, what in cases}
    blocked = {case: lacks[case] for case, _ in cases if case in lacks}
    for case, reason in blocked.items():
        rows[case].unavailable = reason
        res.say_unavailable(case, reason)
    for key in ("join", "flap"):
        if key in lacks:
            res.event(key, "pier", f"unavailable: {lacks[key]}")
            res.say_unavailable({"join": "node join → first packet", "flap": "link flap recovery"}[key], lacks[key])
    if "memory" in lacks:
        res.say_unavailable("resolver and wireguard-go memory", lacks["memory"])
    if len(blocked) == len(cases):
        return
    (work / "wg").mkdir()
    topo.renew_nodes()
    cluster = PierCluster(topo, pier, work / "wg", archive, rootfs, "wireguard")
    cleanups.append(cluster.cleanup)
    try:
        cluster.start_manager()
        relay = "wireguard relay" not in blocked
        for n in ("a", "b", "c"):
            cluster.start_agent(n, relay=(n == "a" and relay))
            cluster.service(f"pbw{n}", n)
        ep = {n: cluster.agents[n].endpoint(f"pbw{n}") for n in ("a", "b", "c")}
        if "wireguard direct" not in blocked:
            measure_path(rows["wireguard direct"], ep["a"], ep["b"], args, children)
        if "wireguard NAT" not in blocked:
            measure_path(rows["wireguard NAT"], ep["c"], ep["a"], args, children)
        # Node join → first packet: d joins, a task is placed on it, its container pings a's.
        try:
            t0 = time.perf_counter()
            cluster.start_agent("d")
            cluster.service("pbwd", "d")
            ep["d"] = cluster.agents["d"].endpoint("pbwd")
            wait_reachable(ep["d"], ep["a"], 60)
            res.event("join", "pier", time.perf_counter() - t0)
        except h.BenchError as e:
            res.event("join", "pier", f"error: {e}")
        if "wireguard relay" not in blocked:
            measure_path(rows["wireguard relay"], ep["c"], ep["d"], args, children)
        try:
            got = flap_recovery(ep["c"], ep["a"], lambda: topo.set_lan_link("rc", False),
                                lambda: topo.set_lan_link("rc", True), args.flap, children)
            res.event("flap", "pier", got)
        except h.BenchError as e:
            res.event("flap", "pier", f"error: {e}")
        mem = {}
        for n, a in cluster.agents.items():
            mem[n] = {what: (None if (b := a.memory(comm)) is None else round(b / 2**20, 1))
                      for what, comm in (("dnsmasq MB", "dnsmasq"), ("wireguard-go MB", "wireguard-go"))}
        res.memory["pier"] = mem
    except h.BenchError as e:
        for case, r in rows.items():
            if case not in blocked and r.error is None and not r.rtt:
                r.error = str(e)
        h.warn(f"pier wireguard: {e}")
    finally:
        cluster.cleanup()


def upstream_dns(topo: Topology, children: Children, work: Path) -> None:
    """dnsmasq in namespace `up`: the upstream both systems forward other names to."""
    p = children.start([*topo.enter("up"), "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                        f"--listen-address={UPSTREAM}", "--user=root", f"--pid-file={work / 'upstream.pid'}",
                        f"--host-record={FORWARDED_NAME},{FORWARDED_ADDR}", "--cache-size=1000"], "upstream dnsmasq",
                       stderr=open(work / "upstream.log", "wb"))
    deadline = time.monotonic() + 10
    resolver = Resolver(topo.path("a"), UPSTREAM)
    try:
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise h.BenchError(f"upstream dnsmasq exited with {p.returncode}: {h.tail((work / 'upstream.log').read_text())}")
            got = resolver.lookup(FORWARDED_NAME)
            if got and got[1] == [FORWARDED_ADDR]:
                return
            time.sleep(0.05)
    finally:
        resolver.close()
    raise h.BenchError(f"the upstream dnsmasq on {UPSTREAM} did not answer {FORWARDED_NAME} within 10 s")


# --------------------------------------------------------------------------------------------
# Report


def fmt(v: float | None, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def fmt_s(v) -> str:
    """An event's figure for the table: milliseconds, or the word for why there is none (said in full below)."""
    if isinstance(v, (int, float)):
        return f"{v * 1000:.0f} ms"
    if v is None:
        return "-"
    return "unavailable" if str(v).startswith("unavailable") else "FAILED"


def report(res: Results, info: dict, args) -> dict:
    out = []
    lines = []
    for r in res.rows:
        note = r.unavailable and "unavailable" or (r.error and "FAILED") or ""
        lines.append([r.system, r.case, fmt(r.rtt_median()), fmt(r.rtt_p99()), fmt(r.busy_rtt, ".4f"),
                      fmt(r.bps and r.bps / 1e9, ".2f"), note])
    out.append(f"Traffic between containers on two nodes (namespaces on veth; relative figures): {args.pings} pings "
               f"every 10 ms; busy: average of {args.flood} back-to-back pings (ping -f); iperf3 one TCP stream {args.seconds} s")
    out.append(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; docker {info.get('docker', '-')}; "
               f"pier {info.get('pier', '-')} (git {info.get('git') or '?'})")
    out.append("")
    out.append(h.table(["path", "between", "RTT median ms", "p99 ms", "busy ms", "Gbit/s", ""], lines, left=(0, 1, 6)))
    out.append("")
    dl = []
    for d in res.dns:
        for kind in ("cluster", "forwarded"):
            p = d.perf.get(kind)
            note = "unavailable" if d.unavailable else ("FAILED" if d.error else ("" if p else "no result"))
            dl.append([d.system, kind, fmt(p and p["qps"], ".0f"), fmt(p and p["latency_ms"]), fmt(p and p["latency_loaded_ms"]),
                       fmt(h.median(d.visible) * 1000 if d.visible else None, ".0f"),
                       fmt(max(d.visible) * 1000 if d.visible else None, ".0f"),
                       fmt(h.median(d.gone) * 1000 if d.gone else None, ".0f"),
                       fmt(max(d.gone) * 1000 if d.gone else None, ".0f"), note] if kind == "cluster" else
                      [d.system, kind, fmt(p and p["qps"], ".0f"), fmt(p and p["latency_ms"]), fmt(p and p["latency_loaded_ms"]),
                       "", "", "", "", note])
    out.append(f"DNS from inside a container (dnsperf {args.dns_seconds} s: q/s and \"loaded\" latency with up to 100 queries "
               f"in flight, latency one at a time); name visible after the task runs / gone after the stop command "
               f"(median, max of {args.name_rounds} rounds)")
    out.append(h.table(["resolver", "name", "q/s", "latency ms", "loaded ms", "visible ms", "max", "gone ms", "max", ""], dl,
                       left=(0, 1, 9)))
    out.append("")
    ev = []
    for key, title in (("join", "node join → first packet between containers"),
                       ("flap", f"link down {args.flap:.0f} s → first reply after it is up")):
        e = res.events.get(key, {})
        ev.append([title, fmt_s(e.get("swarm")), fmt_s(e.get("pier"))])
    out.append(h.table(["event", "swarm", "pier"], ev, left=(0, 1, 2)))
    out.append("(swarm flap: node b's LAN link; pier flap: NAT'd node c's router's LAN link; swarm rows use task "
               "addresses: its VIPs need IPVS, which this kernel lacks)")
    for system, nodes in res.memory.items():
        out.append(f"resident memory, {system}: " + "; ".join(
            f"node {n}: " + ", ".join(f"{k} {'-' if v is None else v}" for k, v in m.items()) for n, m in nodes.items()))
    out.append("")
    for r in res.rows:
        if r.error:
            out.append(f"{r.system} {r.case} FAILED: {r.error}")
    for d in res.dns:
        if d.error:
            out.append(f"{d.system} FAILED: {d.error}")
        for n in d.notes:
            out.append(f"{d.system}: {n}")
    for key, by_system in res.events.items():
        for system, v in by_system.items():
            if isinstance(v, str) and v.startswith("error"):
                out.append(f"{key} ({system}) FAILED: {v[len('error: '):]}")
    out.extend(res.unavailable)

    def row_of(system):
        return next((r for r in res.rows if r.system == system and r.rtt), None)

    swarm, vx = row_of("swarm overlay"), row_of("pier vxlan")
    targets = []
    rr = ratio(vx and vx.rtt_median(), swarm and swarm.rtt_median())
    targets.append(f"VXLAN RTT: {fmt(rr, '.2f')} x Swarm's overlay, target ≤ {TARGET_VXLAN_RTT_VS_SWARM}x: "
                   f"{verdict(None if rr is None else rr <= TARGET_VXLAN_RTT_VS_SWARM)}")
    br = ratio(vx and vx.busy_rtt, swarm and swarm.busy_rtt)
    targets.append(f"VXLAN busy RTT (the path's own cost, no idle CPUs): {fmt(br, '.2f')} x Swarm's overlay, target ≤ "
                   f"{TARGET_VXLAN_RTT_VS_SWARM}x: {verdict(None if br is None else br <= TARGET_VXLAN_RTT_VS_SWARM)}")
    tr = ratio(vx and vx.bps, swarm and swarm.bps)
    targets.append(f"VXLAN throughput: {fmt(tr, '.2f')} x Swarm's overlay, target ≥ {TARGET_VXLAN_TPUT_VS_SWARM}x: "
                   f"{verdict(None if tr is None else tr >= TARGET_VXLAN_TPUT_VS_SWARM)}")
    docker = next((d for d in res.dns if d.system.startswith("docker")), None)
    pdns = next((d for d in res.dns if d.system.startswith("pier")), None)
    for kind in ("cluster", "forwarded"):
        a = pdns and pdns.perf.get(kind)
        b = docker and docker.perf.get(kind)
        ok = None if not (a and b) else a["qps"] >= b["qps"] and a["latency_ms"] <= b["latency_ms"]
        targets.append(f"DNS, {kind} name: pier {fmt(a and a['qps'], '.0f')} q/s {fmt(a and a['latency_ms'])} ms, docker "
                       f"{fmt(b and b['qps'], '.0f')} q/s {fmt(b and b['latency_ms'])} ms; target at least as fast: {verdict(ok)}")
    follow = None
    if pdns and pdns.visible and pdns.gone:
        follow = max(pdns.visible + pdns.gone)
    targets.append(f"names follow task changes: pier worst {fmt_s(follow)}, target ≤ {TARGET_NAME_FOLLOW_S * 1000:.0f} ms: "
                   f"{verdict(None if follow is None else follow <= TARGET_NAME_FOLLOW_S)}")
    wg, wg_ref = row_of("pier wireguard direct"), row_of("reference: wireguard-go by hand")
    if wg_ref and swarm:
        targets.append(f"wireguard-go by hand (no Pier): {fmt(ratio(wg_ref.rtt_median(), swarm.rtt_median()), '.1f')}x Swarm's "
                       f"RTT, {fmt(ratio(wg_ref.bps, swarm.bps), '.2f')}x its throughput: the userspace tunnel's own cost "
                       "(every packet crosses /dev/net/tun and a UDP socket in one Go process)")
    if wg and wg_ref:
        targets.append(f"Pier over WireGuard against wireguard-go by hand: {fmt(ratio(wg.rtt_median(), wg_ref.rtt_median()), '.2f')}x "
                       f"the RTT, {fmt(ratio(wg.bps, wg_ref.bps), '.2f')}x the throughput")
    if wg:
        targets.append(f"WireGuard (wireguard-go, userspace) direct: {fmt(ratio(wg.rtt_median(), swarm and swarm.rtt_median()), '.1f')}x "
                       f"Swarm's RTT, {fmt(ratio(wg.bps, swarm and swarm.bps), '.2f')}x its throughput: the cost of the "
                       "userspace tunnel (every packet crosses /dev/net/tun twice), not of Pier's control plane")
    out.append("")
    out.extend(targets)
    payload = {"benchmark": "network", "host": info, "pings": args.pings, "seconds": args.seconds,
               "quick": args.quick, "rows": [r.as_dict() for r in res.rows], "dns": [d.as_dict() for d in res.dns],
               "events": res.events, "memory": res.memory, "unavailable": res.unavailable, "verdicts": targets,
               "targets": {"vxlan_rtt_vs_swarm": TARGET_VXLAN_RTT_VS_SWARM,
                           "vxlan_throughput_vs_swarm": TARGET_VXLAN_TPUT_VS_SWARM,
                           "name_follow_s": TARGET_NAME_FOLLOW_S}}
    path = h.write_json("network", payload)
    text = "\n".join(out) + f"\nraw figures: {path}"
    print(text, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(payload, indent=2))
    return payload


def prerequisites(args) -> None:
    missing = [t for t in REQUIRED_TOOLS if not shutil.which(t) and not Path(f"/usr/sbin/{t}").exists()]
    if args.no_swarm and "dockerd" in missing:
        missing.remove("dockerd")
    if missing:
        sys.exit(f"bench/network.py needs {', '.join(missing)}: `scripts/setup.sh --no-build --with-docker` "
                 f"installs them (Debian: {PACKAGES})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer pings, shorter streams and flaps (a smoke run)")
    parser.add_argument("--pings", type=int, help="pings per path, every 10 ms (default 200; --quick 50)")
    parser.add_argument("--flood", type=int, help="back-to-back pings per path for the busy RTT (default 10000; --quick 3000)")
    parser.add_argument("--seconds", type=int, help="iperf3 stream length (default 5; --quick 2)")
    parser.add_argument("--flap", type=float, help="seconds a link stays down (default 30; --quick 5)")
    parser.add_argument("--dns-seconds", type=int, help="dnsperf run length (default 5; --quick 2)")
    parser.add_argument("--name-rounds", type=int, help="task start/stop rounds for names (default 10; --quick 3)")
    parser.add_argument("--no-swarm", action="store_true", help="skip Docker Swarm and Docker's DNS")
    parser.add_argument("--no-pier", action="store_true", help="skip the Pier rows")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON on stdout (the table on stderr)")
    args = parser.parse_args()
    for name, full, quick in (("pings", 200, 50), ("flood", 10000, 3000), ("seconds", 5, 2), ("flap", 30.0, 5.0), ("dns_seconds", 5, 2),
                              ("name_rounds", 10, 3)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0")
    h.require_root()
    h.install_signal_handlers()
    prerequisites(args)
    info = h.host_info()
    res = Results()
    children = Children()
    cleanups: list[Callable[[], None]] = []
    try:
        work = h.new_workdir("net")
        cleanups.append(lambda: h.rmtree(work))
        topo = Topology()
        cleanups.append(topo.cleanup)
        # Reversed at the end: processes by PID first, then the namespaces they ran in, then the files.
        cleanups.append(children.cleanup)
        topo.create()
        rootfs = h.make_busybox_rootfs(work / "rootfs")
        layer = h.write_layer_tar(rootfs, work / "layer.tar")
        archive = work / "image.oci.tar"
        h.write_oci_archive(layer, archive, h.IMAGE_REF, ["sh"])
        upstream_dns(topo, children, work)
        host_rows(topo, res, args, children)
        reference_rows(topo, res, args, work, children)
        pier = None
        if not args.no_pier:
            try:
                pier = h.pier_binary()
                info["pier"] = h.run([str(pier), "--version"], check=False).stdout.decode().strip() or str(pier)
            except h.BenchError as e:
                res.say_unavailable("all cases", str(e))
        if not args.no_swarm:
            phase: list[Callable[[], None]] = []
            try:
                beside = pier and pier_vxlan_beside(topo, res, pier, work, archive, rootfs, args, children)
                swarm_rows(topo, res, args, work, layer, children, phase, beside or None)
                d = shutil.which("dockerd")
                info["docker"] = h.run(["dockerd", "--version"], check=False).stdout.decode().strip() if d else None
            finally:
                h.with_cleanup(phase)
        if not args.no_pier:
            if pier is not None:
                phase = []
                try:
                    pier_dns(res, pier, work, archive, rootfs, args, phase)
                finally:
                    h.with_cleanup(phase)
                phase = []
                try:
                    pier_rows(topo, res, pier, work, archive, rootfs, args, children, phase)
                finally:
                    h.with_cleanup(phase)
    except h.BenchError as e:
        h.warn(str(e))
        print(f"network benchmark FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        h.with_cleanup(cleanups)
    report(res, info, args)
    failed = [r for r in res.rows if r.error] + [d for d in res.dns if d.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
