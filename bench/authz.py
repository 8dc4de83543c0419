#!/usr/bin/env python3
"""What the trust checks of issue 15 add to a request: one build before them, one after, in one run.

The checks: roles in certificates, one default-deny access table on every route, revocation checked
at the TLS handshake, the privilege review of a container create. Target: ≤ 5% added on `pier run`
over an agent's direct TLS port and on the manager's API.

Both builds run at the same time, each as a `pier manager` (unix socket and a TCP port on 127.0.0.1)
with one `pier agent` joined to it (its unix socket and a direct TCP port), each daemon with its own
data root, bridge and subnet; the busybox image is imported on both agents. Every sample of a case is
taken on both builds back to back, the order swapped every round, so drift of the machine (other
builds, thermal) hits both alike.

Cases:
  manager, new conn     GET /v1/services on the manager's TCP port, a new TLS connection per request
                        (TCP connect, TLS 1.3 handshake with the client certificate, request, answer)
  manager, keep-alive   the same request on one kept-alive TLS connection (the routes' checks only)
  agent, new conn       GET /v1/containers on the agent's direct port, a new TLS connection each
  run over TLS          `pier --host tcp://127.0.0.1:PORT --tls-dir DIR run --rm --network none IMG true`
                        against the agent's direct port (the whole CLI, wall clock)
  run over unix         `pier run --rm --network none IMG true` on the agent's unix socket
  control               `pier run --help`: the CLI's start-up alone, no request and no check. The two
                        `pier run` cases include it; a build linked differently (the Swift runtime and
                        Foundation static or shared) starts faster or slower, and this row shows by how much.

The client certificate is `pier cert create` of each manager: a manager-role one before (the only kind
there was), an admin one after. After, --revoked N more client certificates are created and revoked
first, so the revocation list that every handshake consults is not empty. The HTTP cases are Python's
ssl module (verifying the server against the cluster's ca.pem, without a host name check, as the two
builds put different names in their certificates); a fresh connection never resumes a TLS session.
Raw samples: bench/out/authz.json.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import ssl
import sys
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon, wait_for  # noqa: E402

TARGET_ADDED = 0.05
DEFAULT_BEFORE = Path("/work/baseline/.build/release/pier")
DEFAULT_AFTER = h.REPO / ".build" / "release" / "pier"

# Bridges and subnets of this benchmark's daemons (cluster.py has pbup0/pbmgr0/pba*, 10.251.10-13).
BRIDGES = {
    "before": {"manager": ("pbzm0", "10.251.20.0/24"), "agent": ("pbza0", "10.251.21.0/24")},
    "after": {"manager": ("pbzm1", "10.251.22.0/24"), "agent": ("pbza1", "10.251.23.0/24")},
}
SIDES = ("before", "after")


# --------------------------------------------------------------------------------------------
# TLS clients


def tls_context(cert_dir: Path) -> ssl.SSLContext:
    """Mutual TLS with a `pier cert create` directory; the server is checked against its ca.pem only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(cert_dir / "ca.pem"))
    ctx.load_cert_chain(certfile=str(cert_dir / "node.pem"), keyfile=str(cert_dir / "node-key.pem"))
    return ctx


def get_once(ctx: ssl.SSLContext, port: int, path: str) -> float:
    """Seconds for one GET on a new TLS connection: connect, handshake, request, whole answer."""
    start = time.perf_counter()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise h.BenchError(f"GET {path} on 127.0.0.1:{port}: {e}") from None
    finally:
        conn.close()
    elapsed = time.perf_counter() - start
    if resp.status != 200:
        raise h.BenchError(f"GET {path} on 127.0.0.1:{port}: HTTP {resp.status}: {body[:300].decode(errors='replace')}")
    return elapsed


class KeptAlive:
    """One TLS connection that all requests go over; a request that needed a new one is an error."""

    def __init__(self, ctx: ssl.SSLContext, port: int):
        self.port = port
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        self.conn.connect()
        self.sock = self.conn.sock

    def get(self, path: str) -> float:
        start = time.perf_counter()
        try:
            self.conn.request("GET", path)
            resp = self.conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise h.BenchError(f"GET {path} on the kept-alive connection to 127.0.0.1:{self.port}: {e}") from None
        elapsed = time.perf_counter() - start
        if resp.status != 200:
            raise h.BenchError(f"GET {path} on 127.0.0.1:{self.port}: HTTP {resp.status}: "
                               f"{body[:300].decode(errors='replace')}")
        if self.conn.sock is not self.sock or resp.will_close:
            raise h.BenchError(f"127.0.0.1:{self.port} closed the kept-alive connection after a GET {path}")
        return elapsed

    def close(self) -> None:
        self.conn.close()


def tls_summary(ctx: ssl.SSLContext, port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            name, version, _ = s.cipher()
            return f"{version} {name}"


# --------------------------------------------------------------------------------------------
# One build: a manager, an agent joined to it with a direct port, a client certificate


class Side:
    """One build's manager, its joined agent with a direct port, and an admin (before: manager-role) client certificate."""

    def __init__(self, name: str, pier: Path, archive: Path, rootfs: Path, cleanups: list[Callable[[], None]]):
        self.name, self.pier = name, pier
        self.archive, self.rootfs = archive, rootfs
        self.cleanups = cleanups
        self.manager: PierDaemon | None = None
        self.agent: PierDaemon | None = None
        self.manager_port = self.agent_port = 0
        self.cert_dir: Path | None = None
        self.ctx: ssl.SSLContext | None = None
        self.kept: KeptAlive | None = None
        self.revoked = 0
        self.info: dict = {"binary": str(pier), "swift_runtime": swift_runtime(pier)}

    def help_text(self, *args: str) -> str:
        return h.run([str(self.pier), *args, "--help"], check=False).stdout.decode()

    def start(self, revoke: int) -> None:
        tag = "b" if self.name == "before" else "a"
        self.manager = PierDaemon(h.new_workdir(f"az{tag}m"), self.pier, ["manager"], BRIDGES[self.name]["manager"],
                                  f"pbz-{self.name}-mgr", ready_path="/v1/cluster")
        self.cleanups.append(self.manager.cleanup)
        self.manager_port = h.free_port()
        self.manager.start(["--listen", f"tcp://127.0.0.1:{self.manager_port}"])

        # Before: `--token` on the command line, and the manager dialled by name (its session, a
        # WebSocket over TLS, fails with NIOSSL's cannotUseIPAddressInSNI at an address).
        # After: the token from a 0600 file; the manager's certificate is checked by role, whatever the address.
        token = self.manager.cli("join-token", "-q", "worker").stdout.decode().strip()
        self.agent = PierDaemon(h.new_workdir(f"az{tag}a"), self.pier, ["agent"], BRIDGES[self.name]["agent"],
                                f"pbz-{self.name}-agent")
        self.cleanups.append(self.agent.cleanup)
        self.agent_port = h.free_port()
        if "--token-file" in self.help_text("agent"):
            token_file = self.agent.workdir / "join-token"
            with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(token)
            join = ["--join", f"tcp://127.0.0.1:{self.manager_port}", "--token-file", str(token_file)]
        else:
            join = ["--join", f"tcp://localhost:{self.manager_port}", "--token", token]
        self.agent.start([*join, "--listen", f"tcp://127.0.0.1:{self.agent_port}"])
        self.agent.load_image(self.archive, self.rootfs, h.IMAGE_REF)

        roles = "admin" in self.help_text("cert", "create")
        self.cert_dir = self.manager.workdir / "client"
        role = ["--role", "admin"] if roles else []
        self.manager.cli("cert", "create", "bench", *role, "-o", str(self.cert_dir))
        self.info["client_role"] = "admin" if roles else "manager (the default before roles)"
        if revoke and "revoke" in self.help_text("cert"):
            for i in range(revoke):
                self.manager.cli("cert", "create", f"gone{i}", *role, "-o", str(self.manager.workdir / f"gone{i}"))
                self.manager.cli("cert", "revoke", f"gone{i}")
            self.revoked = revoke
        self.info["revoked_certificates"] = self.revoked
        self.ctx = tls_context(self.cert_dir)

        # The agent opens its direct port once it has joined; the manager's revocations reach it over the session.
        wait_for(f"{self.name}: the agent's direct port 127.0.0.1:{self.agent_port} answering GET /v1/containers",
                 lambda: self._answers(self.agent_port, "/v1/containers"), timeout=30, interval=0.1)
        wait_for(f"{self.name}: the manager's port 127.0.0.1:{self.manager_port} answering GET /v1/services",
                 lambda: self._answers(self.manager_port, "/v1/services"), timeout=30, interval=0.1)
        if self.revoked:
            self.info["revoked_refused"] = self._revoked_refused()
        self.kept = KeptAlive(self.ctx, self.manager_port)
        self.cleanups.append(self.kept.close)
        self.info["version"] = self.agent.version()
        self.info["tls_manager"] = tls_summary(self.ctx, self.manager_port)
        self.info["tls_agent"] = tls_summary(self.ctx, self.agent_port)
        h.log(f"{self.name}: {self.info['version']}; manager 127.0.0.1:{self.manager_port}, "
              f"agent direct 127.0.0.1:{self.agent_port} ({self.info['tls_agent']})")

    def _revoked_refused(self) -> str:
        """Whether both servers refuse a revoked certificate (the agent learns of it over its session)."""
        gone = tls_context(self.manager.workdir / "gone0")
        refused = {}
        for what, port, path in (("manager", self.manager_port, "/v1/services"), ("agent", self.agent_port, "/v1/containers")):
            deadline = time.monotonic() + 15
            while True:
                try:
                    get_once(gone, port, path)
                except h.BenchError:
                    refused[what] = True
                    break
                if time.monotonic() > deadline:
                    refused[what] = False
                    h.warn(f"{self.name}: the {what} still admits the revoked certificate gone0")
                    break
                time.sleep(0.2)
        return ", ".join(f"{w} {'refuses' if r else 'ADMITS'} it" for w, r in refused.items())

    def _answers(self, port: int, path: str) -> bool:
        for d in (self.manager, self.agent):
            if d.proc is not None and d.proc.poll() is not None:
                raise h.BenchError(f"pier {d.role[0]} ({self.name}) exited with {d.proc.returncode}: "
                                   f"{h.tail(d.logfile.read_text(errors='replace'), 8)}")
        try:
            get_once(self.ctx, port, path)
            return True
        except h.BenchError:
            return False

    def run_tls(self) -> float:
        return h.timed([str(self.pier), "--host", f"tcp://127.0.0.1:{self.agent_port}", "--tls-dir", str(self.cert_dir),
                        "run", "--rm", "--network", "none", h.IMAGE_REF, "true"], env=self.client_env())

    def run_unix(self) -> float:
        return h.timed([str(self.pier), "run", "--rm", "--network", "none", h.IMAGE_REF, "true"],
                       env=dict(self.client_env(), PIER_HOST=f"unix://{self.agent.socket}"))

    def cli_start(self) -> float:
        return h.timed([str(self.pier), "run", "--help"], env=self.client_env())

    def client_env(self) -> dict:
        env = dict(self.agent.env)
        for key in ("PIER_HOST", "PIER_TLS_DIR"):
            env.pop(key, None)
        return env


# --------------------------------------------------------------------------------------------
# Cases and rounds


class Case:
    """One measurement, taken on both builds in turn each round; the first `warmup` rounds are not kept."""

    def __init__(self, key: str, title: str, measure: Callable[[Side], float], rounds: int, warmup: int, gap: float):
        self.key, self.title, self.measure = key, title, measure
        self.rounds, self.warmup, self.gap = rounds, warmup, gap
        self.samples: dict[str, list[float]] = {s: [] for s in SIDES}
        self.error: str | None = None

    def run(self, sides: dict[str, Side]) -> None:
        h.log(f"{self.title}: {self.warmup} warm-up + {self.rounds} rounds, before and after interleaved")
        for i in range(self.warmup + self.rounds):
            order = SIDES if i % 2 == 0 else SIDES[::-1]
            for name in order:
                if self.gap:
                    time.sleep(self.gap)
                try:
                    elapsed = self.measure(sides[name])
                except h.BenchError as e:
                    self.error = f"{name}, round {i + 1}: {e}"
                    h.warn(f"{self.title}: {self.error}")
                    return
                if i >= self.warmup:
                    self.samples[name].append(elapsed)

    def stats(self, side: str) -> dict | None:
        s = self.samples[side]
        if not s or self.error:
            return None
        return {"n": len(s), "median_ms": h.median(s) * 1000, "p90_ms": h.percentile(s, 90) * 1000,
                "min_ms": min(s) * 1000, "max_ms": max(s) * 1000}

    def ratio(self) -> float | None:
        b, a = self.stats("before"), self.stats("after")
        return a["median_ms"] / b["median_ms"] if a and b else None

    def ratio_interval(self, draws: int = 2000, seed: int = 15) -> tuple[float, float] | None:
        """A 95% bootstrap interval of the ratio of medians: how far noise alone moves it."""
        b, a = self.samples["before"], self.samples["after"]
        if self.error or len(a) < 5 or len(b) < 5:
            return None
        rng = random.Random(seed)
        ratios = sorted(h.median(rng.choices(a, k=len(a))) / h.median(rng.choices(b, k=len(b))) for _ in range(draws))
        return ratios[int(draws * 0.025)], ratios[int(draws * 0.975) - 1]


def swift_runtime(pier: Path) -> str:
    """`static` or `shared`: how the binary links the Swift runtime (ldd lists libswiftCore.so if shared)."""
    proc = h.run(["ldd", str(pier)], check=False)
    return "shared" if b"libswiftCore" in proc.stdout else "static"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=DEFAULT_BEFORE, help=f"pier before the checks (default {DEFAULT_BEFORE})")
    parser.add_argument("--after", type=Path, default=DEFAULT_AFTER, help=f"pier with the checks (default {DEFAULT_AFTER})")
    parser.add_argument("--rounds", type=int, default=300, help="measured requests per HTTP case and build (default 300)")
    parser.add_argument("--run-rounds", type=int, default=20, help="measured `pier run`s per case and build (default 20)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured HTTP requests first (default 20; `pier run`: a fifth)")
    parser.add_argument("--gap", type=float, default=0.1, metavar="SECONDS",
                        help="idle time before every `pier run` (default 0.1, as activation.py)")
    parser.add_argument("--revoked", type=int, default=2, metavar="N",
                        help="client certificates to create and revoke first on the build that can (default 2)")
    args = parser.parse_args()
    if args.rounds < 1 or args.run_rounds < 1 or args.warmup < 0 or args.gap < 0 or args.revoked < 0:
        parser.error("--rounds and --run-rounds must be ≥ 1, --warmup, --gap and --revoked ≥ 0")
    for flag, path in (("--before", args.before), ("--after", args.after)):
        if not os.access(path, os.X_OK):
            parser.error(f"{flag} {path}: not an executable")
        if not (path.parent / "pier-shim").exists():
            h.warn(f"{flag}: no pier-shim next to {path}; the agent looks for one in PATH")
    h.require_root()
    h.install_signal_handlers()

    info = h.host_info()
    info["loadavg_start"] = loadavg()
    run_warmup = max(1, args.warmup // 5) if args.warmup else 0
    cases = [
        Case("manager-new", "manager GET /v1/services, new TLS connection", lambda s: get_once(s.ctx, s.manager_port, "/v1/services"),
             args.rounds, args.warmup, 0),
        Case("manager-keepalive", "manager GET /v1/services, kept-alive connection", lambda s: s.kept.get("/v1/services"),
             args.rounds, args.warmup, 0),
        Case("agent-new", "agent direct GET /v1/containers, new TLS connection",
             lambda s: get_once(s.ctx, s.agent_port, "/v1/containers"), args.rounds, args.warmup, 0),
        Case("run-tls", "pier --host tcp://agent run --rm --network none", lambda s: s.run_tls(),
             args.run_rounds, run_warmup, args.gap),
        Case("run-unix", "pier run --rm --network none (agent unix socket)", lambda s: s.run_unix(),
             args.run_rounds, run_warmup, args.gap),
        Case("cli-start", "control: pier run --help (CLI start-up, no request)", lambda s: s.cli_start(),
             args.run_rounds, run_warmup, args.gap),
    ]
    sides: dict[str, Side] = {}
    cleanups: list[Callable[[], None]] = []
    setup_error = None
    try:
        work = h.new_workdir("azimg")
        cleanups.append(lambda: h.rmtree(work))
        rootfs = h.make_busybox_rootfs(work / "rootfs")
        layer = h.write_layer_tar(rootfs, work / "layer.tar")
        archive = work / "image.oci.tar"
        h.write_oci_archive(layer, archive, h.IMAGE_REF, ["sh"])
        for name, pier in (("before", args.before), ("after", args.after)):
            sides[name] = Side(name, pier, archive, rootfs, cleanups)
            sides[name].start(args.revoked)
        for case in cases:
            case.run(sides)
    except h.BenchError as e:
        setup_error = str(e)
        h.warn(f"setup failed: {e}")
    finally:
        info["loadavg_end"] = loadavg()
        h.with_cleanup(cleanups)

    report(cases, sides, info, args, setup_error)
    return 0 if setup_error is None and all(c.error is None for c in cases) else 1


def report(cases: list[Case], sides: dict[str, Side], info: dict, args, setup_error: str | None) -> None:
    rows = []
    for c in cases:
        b, a = c.stats("before"), c.stats("after")
        r = c.ratio()
        rows.append([f"{c.title} (n={c.rounds})",
                     f"{b['median_ms']:.2f}" if b else "-", f"{a['median_ms']:.2f}" if a else "-",
                     f"{r:.3f}" if r else "FAILED" if c.error else "-",
                     f"{b['p90_ms']:.2f}" if b else "-", f"{a['p90_ms']:.2f}" if a else "-"])
    print()
    print("Trust checks (issue 15): latency before/after, both builds running side by side, samples interleaved; "
          "milliseconds")
    print(f"host: {info['kernel']} {info['machine']}, {info['cpus']} CPUs; load average {info['loadavg_start']} at the "
          f"start, {info['loadavg_end']} at the end; {info.get('runc') or 'runc ?'}; git {info.get('git') or '?'}")
    for name, side in sides.items():
        i = side.info
        print(f"{name}: {i['binary']} ({i.get('version', '?')}, Swift runtime {i['swift_runtime']}), "
              f"client certificate {i.get('client_role', '?')}, "
              f"{i.get('revoked_certificates', 0)} revoked"
              + (f" ({i['revoked_refused']})" if "revoked_refused" in i else "") + f", {i.get('tls_agent', '?')}")
    print()
    print(h.table(["case", "before median", "after median", "ratio", "before p90", "after p90"], rows))
    print()
    runtimes = {n: s.info["swift_runtime"] for n, s in sides.items()}
    if len(set(runtimes.values())) > 1:
        print("NOTE: " + " and ".join(f"{n} links the Swift runtime {r}" for n, r in runtimes.items())
              + ": the `pier run` rows include that difference in the CLI's start-up (the control row), which is not "
                "the checks; build both with `swift build -c release --static-swift-stdlib` to compare like with like")
        print()
    verdicts = []
    control = next((c for c in cases if c.key == "cli-start" and c.stats("before") and c.stats("after")), None)
    for c in cases:
        r, ci = c.ratio(), c.ratio_interval()
        if c.error:
            print(f"{c.title} FAILED: {c.error}")
            continue
        if r is None or c.key == "cli-start":
            continue
        interval = f" (95% bootstrap interval {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""
        if r <= 1 + TARGET_ADDED:
            verdict = "met"
        elif ci and ci[0] <= 1 + TARGET_ADDED:
            verdict = "above, but within noise of it"
        else:
            verdict = "MISSED"
        before_ms = c.stats("before")["median_ms"]
        added = c.stats("after")["median_ms"] - before_ms
        line = f"{c.title}: {added:+.2f} ms, {(r - 1) * 100:+.1f}%{interval}, target ≤ +{TARGET_ADDED * 100:.0f}%: {verdict}"
        if c.key.startswith("run-") and control and len(set(runtimes.values())) > 1:
            start_up = control.stats("after")["median_ms"] - control.stats("before")["median_ms"]
            line += (f"; less the control's {start_up:+.2f} ms of start-up: {added - start_up:+.2f} ms, "
                     f"{(added - start_up) / before_ms * 100:+.1f}%")
        verdicts.append(line)
    for line in verdicts:
        print(line)
    if setup_error:
        print(f"setup FAILED: {setup_error}")
    payload = {"benchmark": "authz", "host": info, "rounds": args.rounds, "run_rounds": args.run_rounds,
               "warmup": args.warmup, "gap_s": args.gap, "target_added": TARGET_ADDED,
               "builds": {n: s.info for n, s in sides.items()}, "setup_error": setup_error, "verdicts": verdicts,
               "cases": [{"key": c.key, "title": c.title, "error": c.error, "ratio": c.ratio(),
                          "ratio_interval": c.ratio_interval(),
                          **{s: {"stats": c.stats(s), "samples_ms": [round(x * 1000, 3) for x in c.samples[s]]}
                             for s in SIDES}} for c in cases]}
    path = h.write_json("authz", payload)
    print(f"raw samples: {path}")


if __name__ == "__main__":
    sys.exit(main())
