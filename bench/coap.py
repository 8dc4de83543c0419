#!/usr/bin/env python3
"""CoAP figures of issue 5, each Pier against its peer on this machine in one run.

1. Seed 003, Fig. 5: response time of PUT /average, /mergesort and /bubblesort with 1000 and 2000
   integers, for pier-compute as a native process, in a container on the host network, in a
   container on the bridge network (a published UDP port on the bridge's address), and the same
   three tasks on txThings (bench/txthings_compute.py, the papers' own CoAP server) as the
   baseline. Targets: ≥ 10× faster than txThings; container (host) overhead ≤ 5 %.
2. Activation through CoAP (seed 003, Fig. 10): from the activation request to the activated
   pier-compute answering CoAP, for CPIS (PUT to the agent's CoAP interface) and CEMC (PUT to the
   manager's, `pier up`), and the same through the HTTP API (`pier run -d`, `pier service create`).
3. Server throughput: GETs per second of a small resource from many clients, pier-compute against
   libcoap's coap-server-notls and an aiocoap server.

One client, `pier-coap-bench` (Swift, on PierCoAP), measures every server, so servers are compared
and not clients; it runs on the same 2 cores as the servers. Every response is checked (the sorts
against Python's sorted()). Raw numbers go to bench/out/coap.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon, wait_for  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
IMAGE = "pier/compute:bench"
AGENT_BRIDGE = ("pbcoap0", "10.251.20.0/24")
UP_BRIDGE = ("pbcoapup0", "10.251.21.0/24")
TOKEN = "bench-token-0123456789abcdef"
TASKS = ["average", "mergesort", "bubblesort"]


def binaries() -> dict[str, Path]:
    """pier (harness), and pier-compute and pier-coap-bench beside it, built in release if missing."""
    pier = h.pier_binary()
    out = {"pier": pier}
    for product in ("pier-compute", "pier-coap-bench"):
        path = pier.parent / product
        if not path.exists():
            h.log(f"{path} is missing; building it (swift build -c release --static-swift-stdlib)")
            subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", product],
                           cwd=REPO, check=True, stdout=sys.stderr, stderr=sys.stderr)
        out[product] = path
    return out


def ensure_python_peers() -> None:
    """txThings (with Twisted) and aiocoap from PyPI, as setup.sh installs aiocoap."""
    missing = [m for m, mod in (("txThings", "txthings"), ("twisted", "twisted"), ("aiocoap", "aiocoap"))
               if subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True).returncode != 0]
    if missing:
        h.log(f"pip install {' '.join(missing)}")
        if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing]).returncode != 0:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--break-system-packages", *missing],
                           check=True)


class Server:
    """A CoAP server process started by this benchmark, stopped by its PID."""

    def __init__(self, name: str, argv: list[str], port: int, ready: str | None = None):
        self.name, self.port = name, port
        self.log = Path(f"/tmp/pb-coap-{name}-{os.getpid()}.log")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while ready and ready not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise h.BenchError(f"{name} did not start: {h.tail(self.log.read_text(errors='replace'))}")
            time.sleep(0.05)
        if not ready:
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            h.stop_pid(self.proc.pid, self.name, grace=5)
        self.proc.wait()
        self.log.unlink(missing_ok=True)


def client(bench: Path, *args: str, env: dict | None = None, timeout: float = 600) -> dict:
    proc = h.run([str(bench), *args], env=env, timeout=timeout)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def expected(task: str, numbers: list[int]) -> str:
    if task == "average":
        mean = sum(numbers) / len(numbers)
        return str(int(mean)) if mean == int(mean) else repr(mean)
    return "[" + ",".join(map(str, sorted(numbers))) + "]"


# ------------------------------------------------------------------------------------------------
# 1. Response times (Fig. 5)

def response_times(args, bins, agent: PierDaemon, work: Path) -> dict:
    rng = random.Random(2024)
    payloads = {}
    for n in args.sizes:
        numbers = [rng.randint(-100000, 100000) for _ in range(n)]
        path = work / f"ints-{n}.json"
        path.write_text("[" + ",".join(map(str, numbers)) + "]")
        payloads[n] = (path, numbers)

    servers: dict[str, tuple[str, int]] = {}
    started: list[Callable[[], None]] = []
    try:
        port = h.free_port(socket.SOCK_DGRAM)
        tx = Server("txthings", [sys.executable, str(BENCH / "txthings_compute.py"), str(port)], port, "ready")
        started.append(tx.stop)
        servers["txThings (Python)"] = ("127.0.0.1", port)
        port = h.free_port(socket.SOCK_DGRAM)
        native = Server("pier-compute", [str(bins["pier-compute"]), "--host", "127.0.0.1", "--port", str(port)], port,
                        "listening")
        started.append(native.stop)
        servers["pier-compute native"] = ("127.0.0.1", port)
        port = h.free_port(socket.SOCK_DGRAM)
        agent.cli("run", "-d", "--name", "fig5-host", "--network", "host", IMAGE, "--host", "127.0.0.1", "--port", str(port))
        started.append(lambda: agent.cli("rm", "-f", "fig5-host", timeout=60))
        servers["container, host network"] = ("127.0.0.1", port)
        port = h.free_port(socket.SOCK_DGRAM)
        agent.cli("run", "-d", "--name", "fig5-bridge", "-p", f"{port}:5683/udp", IMAGE)
        started.append(lambda: agent.cli("rm", "-f", "fig5-bridge", timeout=60))
        gateway = AGENT_BRIDGE[1].rsplit(".", 1)[0] + ".1"
        servers["container, bridge network"] = (gateway, port)

        for name, (host, port) in servers.items():  # every server answers before anything is timed
            client(bins["pier-coap-bench"], "request", "--repeat", "1", "--warmup", "0", "--method", "put",
                   "--payload", "[1,2,3]", f"coap://{host}:{port}/average")

        results: dict[str, dict] = {name: {} for name in servers}
        names = list(servers)
        for n, (path, numbers) in payloads.items():
            for task in TASKS:
                want = expected(task, numbers)
                # Pier's three servers in turn in every round; txThings apart (far slower, fewer runs for bubble sort).
                pier_names = [name for name in names if not name.startswith("txThings")]
                groups = [(pier_names, args.runs), (["txThings (Python)"], args.runs if task != "bubblesort" else max(5, args.runs // 3))]
                for group, runs in groups:
                    r = client(bins["pier-coap-bench"], "request", "--method", "put", "--payload-file", str(path),
                               "--repeat", str(runs), "--warmup", "2",
                               *(f"coap://{servers[name][0]}:{servers[name][1]}/{task}" for name in group))
                    entries = r["servers"] if "servers" in r else [r]
                    for name, entry in zip(group, entries):
                        if entry["response"] != want:
                            raise h.BenchError(f"{name} {task} n={n}: wrong result {entry['response'][:80]}…")
                        results[name][f"{task}/{n}"] = entry["times_ms"]
                        h.log(f"{name:28} {task:10} n={n}: median {entry['median_ms']:.2f} ms")
        return results
    finally:
        for stop in reversed(started):
            try:
                stop()
            except h.BenchError as e:
                h.warn(str(e))


# ------------------------------------------------------------------------------------------------
# 2. Activation through CoAP and HTTP

def activation(args, bins, agent: PierDaemon, up: PierDaemon, agent_coap: int, up_coap: int) -> dict:
    bench = str(bins["pier-coap-bench"])
    samples: dict[str, list[float]] = {k: [] for k in ("CPIS, CoAP PUT to the agent", "CPIS, HTTP: pier run -d",
                                                        "CEMC, CoAP PUT to the manager", "CEMC, HTTP: pier service create")}

    def wait_gone(daemon: PierDaemon) -> None:
        wait_for("containers removed", lambda: not daemon.containers(), timeout=30, interval=0.02)

    for i in range(args.activations + 1):
        record = i > 0  # the first round warms caches up
        port = h.free_port(socket.SOCK_DGRAM)
        service_args = ["--host", "127.0.0.1", "--port", str(port)]
        body = json.dumps({"image": IMAGE, "network": "host", "command": service_args})
        probe = f"coap://127.0.0.1:{port}/average"

        r = client(bench, "activate", "--put", f"coap://127.0.0.1:{agent_coap}/services/act{i}", "--body", body,
                   "--token", TOKEN, "--probe", probe)
        client(bench, "request", "--method", "delete", "--token", TOKEN, "--repeat", "1", "--warmup", "0",
               f"coap://127.0.0.1:{agent_coap}/services/act{i}")
        if record:
            samples["CPIS, CoAP PUT to the agent"].append(r["answering_ms"])

        r = client(bench, "activate", "--probe", probe, "--", str(bins["pier"]), "run", "-d", "--name", f"http{i}",
                   "--network", "host", IMAGE, *service_args, env=agent.env)
        agent.cli("rm", "-f", f"http{i}")
        if record:
            samples["CPIS, HTTP: pier run -d"].append(r["answering_ms"])

        r = client(bench, "activate", "--put", f"coap://127.0.0.1:{up_coap}/services/act{i}", "--body", body,
                   "--token", TOKEN, "--probe", probe)
        client(bench, "request", "--method", "delete", "--token", TOKEN, "--repeat", "1", "--warmup", "0",
               f"coap://127.0.0.1:{up_coap}/services/act{i}")
        wait_gone(up)
        if record:
            samples["CEMC, CoAP PUT to the manager"].append(r["answering_ms"])

        r = client(bench, "activate", "--probe", probe, "--", str(bins["pier"]), "service", "create", "--name",
                   f"http{i}", "--network", "host", IMAGE, *service_args, env=up.env)
        up.cli("service", "rm", f"http{i}")
        wait_gone(up)
        if record:
            samples["CEMC, HTTP: pier service create"].append(r["answering_ms"])
        h.log(f"activation round {i}: " + ", ".join(f"{k.split(',')[0]} {v[-1]:.0f} ms" for k, v in samples.items() if v and record))
    return samples


# ------------------------------------------------------------------------------------------------
# 3. Throughput

def throughput(args, bins, work: Path) -> dict:
    servers = []
    results = {}
    try:
        port = h.free_port(socket.SOCK_DGRAM)
        servers.append(Server("pier-compute", [str(bins["pier-compute"]), "--host", "127.0.0.1", "--port", str(port)],
                              port, "listening"))
        targets = {"pier-compute (GET /average)": f"coap://127.0.0.1:{port}/average"}
        port = h.free_port(socket.SOCK_DGRAM)
        servers.append(Server("coap-server-notls", ["coap-server-notls", "-A", "127.0.0.1", "-p", str(port)], port))
        targets["libcoap coap-server-notls (GET /)"] = f"coap://127.0.0.1:{port}/"
        port = h.free_port(socket.SOCK_DGRAM)
        servers.append(Server("aiocoap", [sys.executable, str(REPO / "Tests/PierCoAPInteropTests/aiocoap_server.py"),
                                          str(port)], port, "ready"))
        targets["aiocoap (GET /hello)"] = f"coap://127.0.0.1:{port}/hello"
        for name, url in targets.items():
            client(bins["pier-coap-bench"], "load", "--clients", "2", "--duration", "1", url)  # warm-up
            r = client(bins["pier-coap-bench"], "load", "--clients", str(args.clients), "--duration",
                       str(args.load_seconds), url)
            if r["requests"] == 0:
                raise h.BenchError(f"{name}: no request answered ({r})")
            results[name] = r
            h.log(f"{name}: {r['rps']:.0f} requests/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, {r['errors']} errors")
        return results
    finally:
        for s in servers:
            s.stop()


# ------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per server, task and size (default 40)")
    parser.add_argument("--sizes", default="1000,2000", help="array sizes (default 1000,2000)")
    parser.add_argument("--activations", type=int, default=10, help="activation rounds (default 10, after one warm-up)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients for throughput (default 16)")
    parser.add_argument("--load-seconds", type=float, default=5, help="seconds per throughput run (default 5)")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=False)
    ensure_python_peers()
    bins = binaries()
    info = h.host_info()
    out: dict = {"host": info, "args": vars(args)}
    cleanups: list[Callable[[], None]] = []
    try:
        work = h.new_workdir("coap")
        cleanups.append(lambda: h.rmtree(work))
        # The figures predate OSCORE and compare activation paths, not security: one token client
        # (--coap-insecure-token) allowed everything. bench/oscore.py measures what OSCORE costs.
        keys = work / "coap-keys.json"
        keys.write_text(json.dumps({"clients": [{"name": "bench", "token": TOKEN, "scope": {
            "services": ["*"], "verbs": ["list", "status", "activate", "stop", "start", "remove"],
            "allow": ["host-network", "bind-mounts", "devices", "capabilities", "privileged"]}}]}))
        keys.chmod(0o600)
        agent_coap, up_coap = h.free_port(socket.SOCK_DGRAM), h.free_port(socket.SOCK_DGRAM)
        agent = PierDaemon(h.new_workdir("cagent"), bins["pier"], ["agent"], AGENT_BRIDGE, "pb-coap-agent")
        cleanups.append(agent.cleanup)
        agent.start(extra=["--coap", f"udp://127.0.0.1:{agent_coap}", "--coap-keys", str(keys), "--coap-insecure-token"])
        up = PierDaemon(h.new_workdir("cup"), bins["pier"], ["up"], UP_BRIDGE, "pb-coap-up")
        cleanups.append(up.cleanup)
        up.start(extra=["--coap", f"udp://127.0.0.1:{up_coap}", "--coap-keys", str(keys), "--coap-insecure-token"])
        for daemon in (agent, up):
            daemon.cli("image", "build", "--tag", IMAGE, "--from", "scratch", "--with-libs",
                       "--add", f"{bins['pier-compute']}:/usr/bin/pier-compute", "--entrypoint", "/usr/bin/pier-compute")
        info["pier"] = agent.version()

        out["response_ms"] = response_times(args, bins, agent, work)
        out["activation_ms"] = activation(args, bins, agent, up, agent_coap, up_coap)
        out["throughput"] = throughput(args, bins, work)
    except h.BenchError as e:
        h.warn(str(e))
        out["error"] = str(e)
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json("coap", out)
    report(out, args)
    print(f"\nraw numbers: {path}")
    return 1 if "error" in out else 0


def report(out: dict, args) -> None:
    if "response_ms" in out:
        res = out["response_ms"]
        names = list(res)
        base = "txThings (Python)"
        print("\nResponse time, PUT of n integers (median ms; × = txThings / Pier; overhead vs native)")
        rows = []
        for n in args.sizes:
            for task in TASKS:
                key = f"{task}/{n}"
                med = {name: h.median(res[name][key]) for name in names}
                native = med["pier-compute native"]
                rows.append([task, n] + [f"{med[name]:.2f}" for name in names] + [
                    f"{med[base] / native:.1f}×",
                    f"{(med['container, host network'] / native - 1) * 100:+.1f} %",
                    f"{(med['container, bridge network'] / native - 1) * 100:+.1f} %"])
        print(h.table(["task", "n", *names, "txThings/native", "host vs native", "bridge vs native"], rows, left=(0,)))
    if "activation_ms" in out:
        print("\nActivation: request → the activated service answering CoAP (median ms, p90)")
        rows = [[name, f"{h.median(s):.0f}", f"{h.percentile(s, 90):.0f}", len(s)] for name, s in out["activation_ms"].items() if s]
        print(h.table(["path", "median", "p90", "runs"], rows))
    if "throughput" in out:
        print(f"\nThroughput: {args.clients} clients, {args.load_seconds:.0f} s, confirmable GET of a small resource")
        rows = [[name, f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", r["errors"]] for name, r in out["throughput"].items()]
        print(h.table(["server", "requests/s", "p50 ms", "p99 ms", "errors"], rows))


if __name__ == "__main__":
    sys.exit(main())
