#!/usr/bin/env python3
"""Seed 000: ZMQ publish/subscribe latency and throughput, host vs container, bridge vs host network.

The paper's application (a Python pyzmq publisher and subscriber) timed in five setups, in one run:
  host           both programs as processes on this machine, Debian's python3 and python3-zmq
  Pier bridge    two Pier containers on the bridge network, the subscriber given the publisher's address
  Pier host      two Pier containers with --network host
  Docker bridge  the same two containers on dockerd's bridge (Debian's docker.io, started here)
  Docker host    the same with --network host
The containers run the images pier-examples/zmq-publisher:1 and zmq-subscriber:1 (examples/images/,
built here if missing); the host runs the same two scripts with the same Debian packages, and Docker
runs the same image bytes (copied from the OCI layout with skopeo).

Each run: warm-up until the subscriber's subscription has reached the publisher, then --count messages
of --size bytes paced at --rate per second, whose latency is the receive time minus the send time in
the message (CLOCK_MONOTONIC, one clock for the host and every container), then --burst messages as
fast as the publisher sends them, whose throughput is messages received / (last receive - first send).
Setups alternate within each of --rounds rounds. The table: latency p50/p99 over all rounds' messages
and the median of the rounds' throughputs; each setup against the host and Pier against Docker as the
median of the rounds' ratios (paired by round, so load from other work that changes between rounds
moves both sides). Raw numbers: bench/out/seed000.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

REPO = h.REPO
APPS = REPO / "examples" / "images" / "apps" / "zmq"
BUILD = REPO / "examples" / "images" / "build.sh"
LAYOUT = Path(os.environ.get("PIER_EXAMPLES_DIR", "/var/lib/pier-examples")) / "oci"
PUBLISHER = "pier-examples/zmq-publisher:1"
SUBSCRIBER = "pier-examples/zmq-subscriber:1"
BUILD_ONLY = ["pier-examples/debian:bookworm", "pier-examples/python:3.11", PUBLISHER, SUBSCRIBER]
DEBIAN_PYTHON = "/usr/bin/python3"  # the python the images have, with Debian's python3-zmq
PIER_BRIDGE = ("pbzmq0", "10.251.30.0/24")
SETUPS = ["host", "Pier bridge", "Pier host", "Docker bridge", "Docker host"]


# --------------------------------------------------------------------------------------------
# Pure parts: the subscriber's output, and the statistics (bench/test_seed000.py)


@dataclass
class Result:
    """One run's raw results, as zmq_sub.py prints them."""
    latencies_ns: list[int]
    latency_sent: int
    burst_sent: int
    burst_received: int
    burst_first_send_ns: int | None
    burst_last_recv_ns: int | None
    size: int

    @property
    def lost(self) -> int:
        return (self.latency_sent - len(self.latencies_ns)) + (self.burst_sent - self.burst_received)

    @property
    def throughput(self) -> float | None:
        """Burst messages per second, first send to last receive; None without a burst."""
        if not self.burst_received or self.burst_first_send_ns is None or self.burst_last_recv_ns is None:
            return None
        span = self.burst_last_recv_ns - self.burst_first_send_ns
        if span <= 0:
            raise ValueError(f"the burst's last receive ({self.burst_last_recv_ns}) is not after its first send "
                             f"({self.burst_first_send_ns})")
        return self.burst_received / (span / 1e9)


def parse_result(text: str) -> Result:
    """The RESULT-LAT and RESULT lines of a subscriber's output (other lines are ignored)."""
    latencies: list[int] = []
    summary = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("RESULT-LAT "):
            try:
                values = [int(v) for v in line[len("RESULT-LAT "):].split()]
            except ValueError:
                raise ValueError(f"a RESULT-LAT line holds something else than integers: {line[:80]!r}") from None
            if any(v < 0 for v in values):
                raise ValueError(f"a negative latency in {line[:80]!r}: the clocks of publisher and subscriber differ")
            latencies += values
        elif line.startswith("RESULT "):
            if summary is not None:
                raise ValueError("two RESULT lines: the output of two runs")
            try:
                summary = json.loads(line[len("RESULT "):])
            except json.JSONDecodeError as e:
                raise ValueError(f"the RESULT line is not JSON ({e}): {line[:80]!r}") from None
    if summary is None:
        raise ValueError("no RESULT line: the subscriber did not finish")
    try:
        result = Result(latencies, int(summary["latency_sent"]), int(summary["burst_sent"]),
                        int(summary["burst_received"]), summary.get("burst_first_send_ns"),
                        summary.get("burst_last_recv_ns"), int(summary["size"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"the RESULT line lacks a field or has a wrong one ({e!r}): {summary}") from None
    if len(latencies) != int(summary["latency_received"]):
        raise ValueError(f"{len(latencies)} latencies in RESULT-LAT lines but RESULT says "
                         f"{summary['latency_received']}: output lines were lost")
    if len(latencies) > result.latency_sent or result.burst_received > result.burst_sent:
        raise ValueError(f"more messages received than sent: {summary}")
    return result


@dataclass
class Summary:
    rounds: int
    messages: int
    lost: int
    p50_us: float
    p99_us: float
    throughput: float | None  # median over rounds, messages/s
    throughputs: list[float | None] = field(default_factory=list)  # per round
    round_p50s: list[float] = field(default_factory=list)  # µs, per round
    round_p99s: list[float] = field(default_factory=list)


def summarize(results: list[Result]) -> Summary:
    """Latency percentiles over every message of every round; the median of the rounds' throughputs;
    and each round's own figures, for paired ratios."""
    latencies = [v for r in results for v in r.latencies_ns]
    if not latencies or any(not r.latencies_ns for r in results):
        raise ValueError("a run without latency samples")
    rates = [r.throughput for r in results]
    known = [t for t in rates if t is not None]
    return Summary(len(results), len(latencies), sum(r.lost for r in results),
                   h.percentile(latencies, 50) / 1000, h.percentile(latencies, 99) / 1000,
                   h.median(known) if known else None, rates,
                   [h.percentile(r.latencies_ns, 50) / 1000 for r in results],
                   [h.percentile(r.latencies_ns, 99) / 1000 for r in results])


def paired(setup: Summary, base: Summary, metric: str) -> float | None:
    """The median over rounds of setup / base for one metric ("p50", "p99" or "throughput"): each
    round's runs follow each other, so the ratio of a round is not moved by load that changes between
    rounds (other work on the machine)."""
    pick = {"p50": lambda s: s.round_p50s, "p99": lambda s: s.round_p99s, "throughput": lambda s: s.throughputs}[metric]
    ratios = [a / b for a, b in zip(pick(setup), pick(base)) if a is not None and b]
    return h.median(ratios) if ratios else None


def ratio(value: float | None) -> str:
    """A ratio as "1.23×", or "—" when it is missing."""
    return "—" if value is None else f"{value:.2f}×"


def report_rows(summaries: dict[str, Summary]) -> list[list[str]]:
    """One row per setup: latency p50/p99, throughput, and each against the host's (paired by round)."""
    host = summaries.get("host")
    rows = []
    for name in SETUPS:
        s = summaries.get(name)
        if s is None:
            rows.append([name, "—", "—", "—", "—", "—", "—", "not run"])
            continue
        rows.append([
            name, f"{s.p50_us:.0f}", f"{s.p99_us:.0f}",
            f"{s.throughput:,.0f}" if s.throughput is not None else "—",
            "" if name == "host" else ratio(paired(s, host, "p50") if host else None),
            "" if name == "host" else ratio(paired(s, host, "p99") if host else None),
            "" if name == "host" else ratio(paired(s, host, "throughput") if host else None),
            f"{s.lost} lost" if s.lost else "",
        ])
    return rows


def versus_rows(summaries: dict[str, Summary]) -> list[list[str]]:
    """Pier against Docker for each network: < 1× is Pier faster in latency, > 1× in throughput."""
    rows = []
    for network in ("bridge", "host"):
        p, d = summaries.get(f"Pier {network}"), summaries.get(f"Docker {network}")
        if p is None or d is None:
            continue
        rows.append([network, ratio(paired(p, d, "p50")), ratio(paired(p, d, "p99")),
                     ratio(paired(p, d, "throughput"))])
    return rows


# --------------------------------------------------------------------------------------------
# Running the publisher and subscriber


@dataclass
class Params:
    count: int
    rate: float
    burst: int
    size: int
    timeout: float

    def publisher_args(self, bind_host: str, ports: tuple[int, int]) -> list[str]:
        return ["--bind", f"tcp://{bind_host}:{ports[0]}", "--sync", f"tcp://{bind_host}:{ports[1]}",
                "--count", str(self.count), "--rate", f"{self.rate:g}", "--burst", str(self.burst),
                "--size", str(self.size), "--wait", "60"]

    def subscriber_args(self, address: str, ports: tuple[int, int]) -> list[str]:
        return ["--connect", f"tcp://{address}:{ports[0]}", "--sync", f"tcp://{address}:{ports[1]}",
                "--size", str(self.size), "--wait", "60"]


def run_on_host(params: Params) -> Result:
    ports = (h.free_port(), h.free_port())
    pub = subprocess.Popen([DEBIAN_PYTHON, str(APPS / "zmq_pub.py"), *params.publisher_args("127.0.0.1", ports)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    sub = None
    try:
        sub = subprocess.Popen([DEBIAN_PYTHON, str(APPS / "zmq_sub.py"), *params.subscriber_args("127.0.0.1", ports)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = sub.communicate(timeout=params.timeout)
        except subprocess.TimeoutExpired:
            raise h.BenchError(f"the host subscriber did not finish within {params.timeout:.0f} s") from None
        if sub.returncode != 0:
            raise h.BenchError(f"the host subscriber exited with {sub.returncode}: {h.tail(err)}")
        try:
            pub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise h.BenchError("the host publisher did not exit after the subscriber said done") from None
        return parse_result(out.decode())
    finally:
        for p in (sub, pub):
            if p is not None and p.poll() is None:
                h.stop_pid(p.pid, "zmq host process", grace=5)
                p.wait()


class Engine:
    """Pier's or Docker's CLI, as far as the two are alike: run -d, inspect, wait, logs, rm -f."""

    def __init__(self, name: str, cmd: list[str], env: dict):
        self.name, self.cmd, self.env = name, cmd, env

    def cli(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return h.run([*self.cmd, *args], env=self.env, timeout=timeout, check=check)

    def address(self, container: str) -> str:
        info = json.loads(self.cli("inspect", container).stdout)[0]
        if self.name == "Pier":
            address = info.get("ipAddress")
        else:
            address = info["NetworkSettings"].get("IPAddress")
        if not address:
            raise h.BenchError(f"{self.name} inspect {container} shows no address")
        return address

    def run_pair(self, network: str, params: Params, tag: str) -> Result:
        pub, sub = f"pb-zpub-{tag}", f"pb-zsub-{tag}"
        ports = (5556, 5557) if network == "bridge" else (h.free_port(), h.free_port())
        bind = "*" if network == "bridge" else "127.0.0.1"
        try:
            self.cli("run", "-d", "--name", pub, "--network", network, PUBLISHER, *params.publisher_args(bind, ports))
            address = self.address(pub) if network == "bridge" else "127.0.0.1"
            self.cli("run", "-d", "--name", sub, "--network", network, SUBSCRIBER,
                     *params.subscriber_args(address, ports))
            code = self.cli("wait", sub, timeout=params.timeout).stdout.decode().strip()
            logs = self.cli("logs", sub)
            text = logs.stdout.decode(errors="replace") + "\n" + logs.stderr.decode(errors="replace")
            if code != "0":
                raise h.BenchError(f"the {self.name} subscriber ({network}) exited with {code}: {h.tail(text)}")
            self.cli("wait", pub, timeout=60)
            return parse_result(text)
        finally:
            self.cli("rm", "-f", sub, pub, check=False, timeout=60)


# --------------------------------------------------------------------------------------------
# Setting up: prerequisites, images


def check_prerequisites(skip_docker: bool) -> None:
    if subprocess.run([DEBIAN_PYTHON, "-c", "import zmq"], capture_output=True).returncode != 0:
        sys.exit(f"{DEBIAN_PYTHON} cannot import zmq: install python3-zmq (scripts/setup.sh --no-build --with-docker)")
    for tool in ["skopeo", "buildah", "mmdebstrap"] + ([] if skip_docker else ["dockerd"]):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/setup.sh --no-build --with-docker")


def ensure_images() -> None:
    """examples/images/build.sh for the two images and their parents: quick when they are up to date."""
    args = [str(BUILD)] + [a for name in BUILD_ONLY for a in ("--only", name)]
    h.log("examples/images/build.sh (the zmq images and their parents; nothing to do when up to date)")
    proc = subprocess.run(args, stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0:
        raise h.BenchError(f"examples/images/build.sh exited with {proc.returncode}")


def load_docker(d: h.Dockerd, work: Path) -> None:
    # docker-archive holds one image per copy: the subscriber goes in a second archive.
    for ref in (PUBLISHER, SUBSCRIBER):
        archive = work / f"{ref.split('/')[-1].replace(':', '-')}.tar"
        h.run(["skopeo", "copy", "--quiet", f"oci:{LAYOUT}:{ref}", f"docker-archive:{archive}:{ref}"], timeout=300)
        d.docker("load", "-i", str(archive), timeout=300)
        archive.unlink()


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each running every setup once (default 5)")
    parser.add_argument("--count", type=int, default=3000, help="latency messages per run (default 3000)")
    parser.add_argument("--rate", type=float, default=1000, help="latency messages per second (default 1000)")
    parser.add_argument("--burst", type=int, default=100000, help="throughput messages per run (default 100000)")
    parser.add_argument("--size", type=int, default=64, help="message size in bytes (default 64)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1000 latency and 20000 throughput messages")
    parser.add_argument("--no-docker", action="store_true", help="skip the Docker setups")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.count, args.burst = 1, 1000, 20000
    if not 1 <= args.rounds <= 100 or not 1 <= args.count <= 1_000_000 or not 0 <= args.burst <= 10_000_000:
        parser.error("--rounds must be 1..100, --count 1..10^6, --burst 0..10^7")
    if not 1 <= args.rate <= 100_000 or not 13 <= args.size <= 65536:
        parser.error("--rate must be 1..100000 and --size 13..65536")
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=not args.no_docker)
    check_prerequisites(args.no_docker)
    params = Params(args.count, args.rate, args.burst, args.size,
                    timeout=120 + args.count / args.rate + args.burst / 5000)

    info = h.host_info()
    cleanups = []
    results: dict[str, list[Result]] = {name: [] for name in SETUPS}
    error = None
    versions = {}
    try:
        ensure_images()
        work = h.new_workdir("zmq")
        cleanups.append(lambda: h.rmtree(work))
        layout = work / "oci"
        for ref in (PUBLISHER, SUBSCRIBER):
            h.run(["skopeo", "copy", "--quiet", f"oci:{LAYOUT}:{ref}", f"oci:{layout}:{ref}"], timeout=300)

        pier = h.pier_binary()
        agent = h.PierAgent(h.new_workdir("pier"), pier, *PIER_BRIDGE)
        cleanups.append(agent.cleanup)
        agent.start()
        versions["pier"] = agent.version()
        agent.cli("image", "import", str(layout), timeout=300)
        engines = {"Pier": Engine("Pier", agent.pier_cmd(), agent.env)}

        if not args.no_docker:
            dockerd = h.Dockerd(h.new_workdir("dock"))
            cleanups.append(dockerd.cleanup)
            dockerd.start()
            versions["docker"] = dockerd.server_version()
            load_docker(dockerd, work)
            engines["Docker"] = Engine("Docker", [dockerd.client], dockerd.env)

        setups = [s for s in SETUPS if not (args.no_docker and s.startswith("Docker"))]
        for round_no in range(1, args.rounds + 1):
            for setup in setups:
                started = time.monotonic()
                if setup == "host":
                    result = run_on_host(params)
                else:
                    engine, network = setup.split()
                    result = engines[engine].run_pair(network, params, f"{round_no}")
                results[setup].append(result)
                h.log(f"round {round_no}/{args.rounds} {setup}: {len(result.latencies_ns)} messages, "
                      f"p50 {h.percentile(result.latencies_ns, 50) / 1000:.0f} µs, "
                      f"{(result.throughput or 0):,.0f} msgs/s, {result.lost} lost "
                      f"({time.monotonic() - started:.1f} s)")
    except (h.BenchError, ValueError) as e:
        error = str(e)
        h.warn(error)
    finally:
        h.with_cleanup(cleanups)

    summaries = {name: summarize(rs) for name, rs in results.items() if rs}
    report(summaries, results, params, args, info, versions, error)
    return 0 if error is None else 1


def report(summaries: dict[str, Summary], results: dict[str, list[Result]], params: Params, args,
           info: dict, versions: dict, error: str | None) -> None:
    print(f"\nSeed 000: ZMQ pub/sub (pyzmq {zmq_version()}), {params.size}-byte messages; latency: {params.count} "
          f"messages at {params.rate:g}/s per run; throughput: {params.burst} messages as fast as sent; "
          f"{args.rounds} round(s); pier {versions.get('pier', '?')}, docker {versions.get('docker', '—')}; "
          f"load average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    print(h.table(["setup", "p50 µs", "p99 µs", "msgs/s", "p50 vs host", "p99 vs host", "msgs/s vs host", ""],
                  report_rows(summaries)))
    print("\n(p50, p99: over every round's messages; msgs/s: the median round; vs host: the median of the "
          "rounds' ratios)")
    versus = versus_rows(summaries)
    if versus:
        print("\nPier against Docker, medians of the rounds' ratios (latency: below 1× is Pier faster; "
              "throughput: above 1× is)\n")
        print(h.table(["network", "p50", "p99", "msgs/s"], versus))
    if error:
        print(f"\nINCOMPLETE: {error}")
    payload = {
        "benchmark": "seed000", "host": info, "versions": versions, "error": error,
        "params": {"rounds": args.rounds, "count": params.count, "rate": params.rate, "burst": params.burst,
                   "size": params.size},
        "summary": {name: {"p50_us": s.p50_us, "p99_us": s.p99_us, "throughput": s.throughput,
                           "throughputs": s.throughputs, "round_p50s_us": s.round_p50s,
                           "round_p99s_us": s.round_p99s, "messages": s.messages, "lost": s.lost}
                    for name, s in summaries.items()},
        "runs": {name: [{"latencies_ns": r.latencies_ns, "throughput": r.throughput, "lost": r.lost}
                        for r in rs] for name, rs in results.items()},
    }
    print(f"\nraw numbers: {h.write_json('seed000', payload)}")


def zmq_version() -> str:
    proc = subprocess.run([DEBIAN_PYTHON, "-c", "import zmq; print(zmq.__version__, 'libzmq', zmq.zmq_version())"],
                          capture_output=True, text=True)
    return proc.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
