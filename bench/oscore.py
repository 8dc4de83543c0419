#!/usr/bin/env python3
"""What OSCORE costs on the CoAP interface, in one run: the same request to

1. Pier's interface (a `pier agent --coap`) with OSCORE,
2. the same agent with the insecure token (`--coap-insecure-token`), no OSCORE,
3. aiocoap's OSCORE server (aiocoap's OscoreSiteWrapper around a resource with the same body),
4. the same aiocoap server unprotected, for reference.

The request is `GET /services` (the agent runs no container, so the body is `[]`; aiocoap's resource
answers the same two bytes). One client, `pier-coap-bench` (Swift, PierCoAP + PierOSCORE), measures
all four, so servers are compared and not clients: OSCORE in its requests is the same code for Pier
and aiocoap. Two measurements of each:

* latency: one request at a time; the rounds alternate between the four so drift of the machine
  hits all alike; each round starts with untimed warm-up requests (which also pass the Echo round
  trip a freshly started OSCORE server asks for);
* throughput: confirmable GETs from --clients concurrent clients (one socket, one request in flight
  and, with OSCORE, one context each, as separate devices would have) for --load-seconds,
  alternating the same way over --load-rounds rounds, after a one-second warm-up of each.

The client runs on the same cores as the servers. The clients' contexts come from `pier coap client
create`. Raw numbers go to bench/out/oscore.json. Run as root (the agent needs it).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon  # noqa: E402
from coap import Server, client  # noqa: E402

BRIDGE = ("pboscore0", "10.251.22.0/24")
TOKEN = "bench-token-0123456789abcdef"

AIOCOAP_SERVER = '''
import asyncio, json, sys
import aiocoap, aiocoap.resource as resource
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

class Services(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=b"[]", content_format=50)

async def main(port, credentials_path):
    root = resource.Site()
    root.add_resource(["services"], Services())
    credentials = CredentialsMap()
    with open(credentials_path) as f:
        credentials.load_from_dict(json.load(f))
    await aiocoap.Context.create_server_context(OscoreSiteWrapper(root, credentials), bind=("127.0.0.1", port),
                                                server_credentials=credentials)
    print("ready", flush=True)
    await asyncio.get_running_loop().create_future()

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
'''


def ensure_aiocoap_oscore() -> None:
    import subprocess
    if subprocess.run([sys.executable, "-c", "import aiocoap.oscore, aiocoap.oscore_sitewrapper"], capture_output=True).returncode:
        h.log("pip install 'aiocoap[oscore]'")
        if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "aiocoap[oscore]"]).returncode != 0:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--break-system-packages", "aiocoap[oscore]"],
                           check=True)


def binaries() -> dict[str, Path]:
    """pier (harness) and pier-coap-bench beside it, built in release if missing."""
    import subprocess
    pier = h.pier_binary()
    bench = pier.parent / "pier-coap-bench"
    if not bench.exists():
        h.log(f"{bench} is missing; building it (swift build -c release --static-swift-stdlib)")
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "pier-coap-bench"],
                       cwd=h.REPO, check=True, stdout=sys.stderr, stderr=sys.stderr)
    return {"pier": pier, "pier-coap-bench": bench}


def create_client(pier: Path, keys: Path, name: str, out: Path) -> Path:
    """`pier coap client create NAME`; returns its aiocoap context directory."""
    h.run([str(pier), "coap", "client", "create", name, "--keys", str(keys), "--service", "*",
           "--verb", "list", "--verb", "status", "--out", str(out)])
    return out / "oscore"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1200, help="timed requests per server (default 1200, at least 40)")
    parser.add_argument("--rounds", type=int, default=12, help="alternating rounds the runs are split into (default 12)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients for throughput (default 16)")
    parser.add_argument("--load-seconds", type=float, default=3, help="seconds per throughput run (default 3)")
    parser.add_argument("--load-rounds", type=int, default=5, help="throughput runs per server, alternating (default 5)")
    args = parser.parse_args()
    args.runs = max(args.runs, 40)
    args.rounds = max(args.rounds, 1)
    args.load_rounds = max(args.load_rounds, 1)
    h.require_root()
    h.install_signal_handlers()
    ensure_aiocoap_oscore()
    bins = binaries()
    out: dict = {"host": h.host_info(), "args": vars(args)}
    cleanups: list[Callable[[], None]] = []
    try:
        work = h.new_workdir("oscore")
        cleanups.append(lambda: h.rmtree(work))
        # The agent's keys: an OSCORE client per concurrent client of pier-coap-bench (the first also
        # does the latency rounds) and a token client.
        keys = work / "coap-keys.json"
        pier_ctxs = [create_client(bins["pier"], keys, f"bench-oscore-{i}", work / f"bench-oscore-{i}")
                     for i in range(args.clients)]
        data = json.loads(keys.read_text())
        data["clients"].append({"name": "bench-token", "token": TOKEN, "scope": {"services": ["*"], "verbs": ["list", "status"]}})
        keys.write_text(json.dumps(data))
        keys.chmod(0o600)
        # aiocoap's server: other contexts, made the same way; its side of each is the swapped IDs.
        aio_keys = work / "aiocoap-keys.json"
        aio_ctxs = [create_client(bins["pier"], aio_keys, f"bench-aiocoap-{i}", work / f"bench-aiocoap-{i}")
                    for i in range(args.clients)]
        server_credentials = {}
        for i, ctx in enumerate(aio_ctxs):
            settings = json.loads((ctx / "settings.json").read_text())
            server_ctx = work / f"aiocoap-server-context-{i}"
            server_ctx.mkdir(mode=0o700)
            settings["sender-id_hex"], settings["recipient-id_hex"] = settings["recipient-id_hex"], settings["sender-id_hex"]
            (server_ctx / "settings.json").write_text(json.dumps(settings))
            server_credentials[f":bench-{i}"] = {"oscore": {"basedir": str(server_ctx) + "/"}}
        (work / "aiocoap-server-credentials.json").write_text(json.dumps(server_credentials))
        (work / "aiocoap_server.py").write_text(AIOCOAP_SERVER)

        pier_port, aio_port = h.free_port(socket.SOCK_DGRAM), h.free_port(socket.SOCK_DGRAM)
        agent = PierDaemon(h.new_workdir("oagent"), bins["pier"], ["agent"], BRIDGE, "pb-oscore-agent")
        cleanups.append(agent.cleanup)
        agent.start(extra=["--coap", f"udp://127.0.0.1:{pier_port}", "--coap-keys", str(keys), "--coap-insecure-token"])
        out["host"]["pier"] = agent.version()
        aio = Server("aiocoap-oscore", [sys.executable, str(work / "aiocoap_server.py"), str(aio_port),
                                        str(work / "aiocoap-server-credentials.json")], aio_port, ready="ready")
        cleanups.append(aio.stop)

        pier_url, aio_url = f"coap://127.0.0.1:{pier_port}/services", f"coap://127.0.0.1:{aio_port}/services"
        def oscore(ctxs: list[Path]) -> list[str]:
            return [arg for ctx in ctxs for arg in ("--oscore", str(ctx))]

        cases = {  # name: (protection options of the latency client, of the load clients, URL)
            "Pier, OSCORE": (oscore(pier_ctxs[:1]), oscore(pier_ctxs), pier_url),
            "Pier, insecure token": (["--token", TOKEN], ["--token", TOKEN], pier_url),
            "aiocoap, OSCORE": (oscore(aio_ctxs[:1]), oscore(aio_ctxs), aio_url),
            "aiocoap, unprotected": ([], [], aio_url),
        }
        bench = bins["pier-coap-bench"]
        per_round = -(-args.runs // args.rounds)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for r in range(args.rounds):
            for name, (protection, _, url) in cases.items():
                result = client(bench, "request", "--repeat", str(per_round), "--warmup", "20", *protection, url)
                if result.get("response") != "[]":
                    raise h.BenchError(f"{name} answered {result.get('code')} {result.get('response')!r}, not []")
                times[name] += result["times_ms"]
            h.log(f"latency round {r + 1}/{args.rounds} done")
        out["get_services_ms"] = times

        for name, (_, protection, url) in cases.items():  # warm-up: every server's paths and caches hot
            client(bench, "load", "--clients", str(args.clients), "--duration", "1", *protection, url)
        loads: dict[str, list[dict]] = {name: [] for name in cases}
        for r in range(args.load_rounds):
            for name, (_, protection, url) in cases.items():
                result = client(bench, "load", "--clients", str(args.clients), "--duration", str(args.load_seconds),
                                *protection, url)
                if result["requests"] == 0:
                    raise h.BenchError(f"{name}: no request answered under load ({result})")
                loads[name].append(result)
                if result["errors"]:
                    h.warn(f"{name} load round {r + 1}: {result['errors']} failed requests: {result.get('error_kinds')}")
                h.log(f"{name:22} load round {r + 1}: {result['rps']:.0f} requests/s, p50 {result['p50_ms']:.2f} ms, "
                      f"{result['errors']} errors")
        out["load"] = loads
    except h.BenchError as e:
        h.warn(str(e))
        out["error"] = str(e)
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json("oscore", out)
    report(out)
    print(f"\nraw numbers: {path}")
    return 1 if "error" in out else 0


def report(out: dict) -> None:
    times, loads = out.get("get_services_ms"), out.get("load")
    if not times:
        return
    args = out["args"]
    base = "Pier, insecure token"
    med = {name: h.median(t) for name, t in times.items()}
    # Throughput over all rounds: answered requests / seconds run.
    rps = {name: sum(r["requests"] for r in runs) / (args["load_seconds"] * len(runs)) for name, runs in (loads or {}).items()}
    print(f"\nCoAP GET /services, one client (pier-coap-bench); latency: median and p90 of "
          f"{min(len(t) for t in times.values())} sequential requests")
    if rps:
        print(f"throughput: {args['clients']} concurrent clients, {args['load_rounds']} × {args['load_seconds']:g} s "
              "of confirmable GETs, alternating")
    headers = ["server", "median ms", "p90 ms", "latency vs Pier token"]
    if rps:
        headers += ["requests/s", "load p99 ms", "throughput vs Pier token", "errors"]
    rows = []
    for name, t in times.items():
        row = [name, f"{med[name]:.3f}", f"{h.percentile(t, 90):.3f}", f"{med[name] / med[base]:.2f}×"]
        if rps:
            runs = loads[name]
            row += [f"{rps[name]:,.0f}", f"{h.median([r['p99_ms'] for r in runs]):.2f}", f"{rps[name] / rps[base]:.2f}×",
                    sum(r["errors"] for r in runs)]
        rows.append(row)
    print(h.table(headers, rows))
    line = (f"OSCORE costs Pier {med['Pier, OSCORE'] - med[base]:+.3f} ms per request "
            f"({(med['Pier, OSCORE'] / med[base] - 1) * 100:+.0f} %)")
    if rps:
        line += f", and changes its throughput by {(rps['Pier, OSCORE'] / rps[base] - 1) * 100:+.0f} %"
    line += f". aiocoap's OSCORE server takes {med['aiocoap, OSCORE'] / med['Pier, OSCORE']:.1f}× Pier's OSCORE latency"
    if rps:
        line += f"; Pier serves {rps['Pier, OSCORE'] / rps['aiocoap, OSCORE']:.1f}× its OSCORE requests/s"
    print(line + ".")


if __name__ == "__main__":
    sys.exit(main())
