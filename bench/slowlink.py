#!/usr/bin/env python3
"""A pull over a slow, flaky link: Pier's resuming pull against skopeo's restart-from-zero retries.

The link: a network namespace made here, joined to the host by a veth pair whose two ends are
shaped with tc (--rate, default 1 Mbit/s each way, tbf: this kernel has no netem) and lose --loss %
of packets each way (iptables' statistic match inside the namespace). The
Pier manager's registry listens on the host end; between it and the namespace a TCP relay made here
cuts connections (RST) after a random number of bytes sent to the client, exponentially distributed
with mean --cut-kib: a link that drops mid-transfer. The relay counts every byte it passes to the
client: the bytes over the link.

The image: --layers gzip layers of random data, --size-kib in all, pushed to the manager by skopeo
with a push credential (`pier registry credential create --push`) on the host side.

In each round, from inside the namespace, with the cluster CA alone and a pull credential:
  pier    a fresh `pier agent` in the namespace runs `pier image pull --creds …`; a cut blob resumes
          with `Range` from the bytes it has (and the pull goes on while breaks bring new bytes)
  skopeo  `skopeo copy docker://… dir:…`, tried again at once by the bench when a cut fails it (up
          to --retry-times); blobs a try completed are reused, a blob cut off starts again from
          its first byte (Debian's skopeo 1.9 does not resume blobs; its own --retry-times would
          sleep 2^n s between tries)
both with the relay's cuts drawn from the same seed, then both again with no cuts (--no-baseline
skips that): the time the link itself takes. Medians; raw numbers in bench/out/slowlink.json.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from cluster import PierDaemon, wait_for  # noqa: E402
from registry import make_image  # noqa: E402

HOST_IP, NS_IP = "10.252.77.1", "10.252.77.2"
BRIDGE = ("pbslow0", "10.251.41.0/24")


class Relay:
    """TCP relay from HOST_IP:port to the registry; cuts each connection after a random byte count."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]):
        self.target = target
        self.server = socket.create_server(listen, reuse_port=False)
        self.server.settimeout(0.2)
        self.lock = threading.Lock()
        self.to_client = 0
        self.cuts = 0
        self.connections = 0
        self.mean_cut: float | None = None
        self.rng = random.Random(0)
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def reset(self, mean_cut_bytes: float | None, seed: int) -> None:
        with self.lock:
            self.to_client = self.cuts = self.connections = 0
            self.mean_cut = mean_cut_bytes
            self.rng = random.Random(seed)

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                budget = self.rng.expovariate(1 / self.mean_cut) if self.mean_cut else float("inf")
            threading.Thread(target=self._serve, args=(client, budget), daemon=True).start()

    def _serve(self, client: socket.socket, budget: float) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        done = threading.Event()

        def abort() -> None:
            # RST, as a dropped link looks to the peers after their timeouts, but at once.
            # shutdown(SHUT_RD) first: it wakes the other pump's blocked recv; a bare close()
            # would not, and the blocked call would keep the connection open.
            done.set()
            for s in (client, upstream):
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
                s.close()

        def pump(src: socket.socket, dst: socket.socket, counted: bool) -> None:
            nonlocal budget
            failed = False
            try:
                while not done.is_set():
                    data = src.recv(16384)
                    if not data:
                        # An orderly close passes on as one (FIN): an RST would make the peer's
                        # kernel drop bytes it has not read yet.
                        dst.shutdown(socket.SHUT_WR)
                        return
                    if counted:
                        if len(data) >= budget:
                            part = data[: int(budget)]
                            if part:
                                dst.sendall(part)
                            with self.lock:
                                self.to_client += len(part)
                                self.cuts += 1
                            abort()
                            return
                        budget -= len(data)
                        with self.lock:
                            self.to_client += len(data)
                    dst.sendall(data)
            except OSError:
                failed = True
            finally:
                if failed and not done.is_set():
                    abort()

        up = threading.Thread(target=pump, args=(client, upstream, False), daemon=True)
        up.start()
        pump(upstream, client, True)
        up.join(timeout=30)
        if not done.is_set():
            done.set()
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.closing = True
        self.server.close()
        self.thread.join(timeout=2)


class SlowLink:
    """The namespace, the veth pair and the tbf shaping and iptables drops; removed by `close`."""

    def __init__(self, name: str, rate: str, loss: float):
        self.ns = name
        self.host_if, self.ns_if = f"{name}h", f"{name}n"
        h.run(["ip", "netns", "add", self.ns])
        self.made = True
        h.run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if])
        h.run(["ip", "link", "set", self.ns_if, "netns", self.ns])
        h.run(["ip", "addr", "add", f"{HOST_IP}/30", "dev", self.host_if])
        h.run(["ip", "link", "set", self.host_if, "up"])
        self.exec(["ip", "addr", "add", f"{NS_IP}/30", "dev", self.ns_if])
        self.exec(["ip", "link", "set", self.ns_if, "up"])
        self.exec(["ip", "link", "set", "lo", "up"])
        # This kernel has no netem (CONFIG_NET_SCH_NETEM is off): tbf limits the rate on both ends,
        # and iptables' statistic match drops packets at random inside the namespace, both ways.
        shaper = ["tbf", "rate", rate, "burst", "16kbit", "latency", "500ms"]
        h.run(["tc", "qdisc", "add", "dev", self.host_if, "root", *shaper])
        self.exec(["tc", "qdisc", "add", "dev", self.ns_if, "root", *shaper])
        if loss > 0:
            for chain in ("INPUT", "OUTPUT"):
                self.exec(["iptables", "-A", chain, "-m", "statistic", "--mode", "random",
                           "--probability", f"{loss / 100:.4f}", "-j", "DROP"])

    def exec(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return h.run(["ip", "netns", "exec", self.ns, *argv], **kw)

    def close(self) -> None:
        if h.link_exists(self.host_if):
            h.run(["ip", "link", "del", self.host_if], check=False)
        if self.ns in h.netns_names():
            h.run(["ip", "netns", "delete", self.ns], check=False)


class NamespacedAgent:
    """A `pier agent` inside the namespace with a fresh data root; stopped by PID."""

    def __init__(self, link: SlowLink, pier: Path, workdir: Path,
                 bridge: tuple[str, str] = ("pbslowa0", "10.251.42.0/24")):
        self.pier, self.workdir = pier, workdir
        self.root = workdir / "root"
        self.socket = self.root / "pier.sock"
        self.root.mkdir(parents=True)
        self.log = workdir / "agent.log"
        with open(self.log, "wb") as out:
            # `ip netns exec` execs the program: the PID is the agent's.
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", link.ns, str(pier), "agent", "--data-root", str(self.root),
                 "--listen", f"unix://{self.socket}", "--bridge", bridge[0], "--bridge-subnet", bridge[1]],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("the namespaced pier agent", self._ready, timeout=30, interval=0.05)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise h.BenchError(f"pier agent in the namespace exited: {h.tail(self.log.read_text(errors='replace'))}")
        return self.socket.exists() and h.http_get(self.socket, "/v1/info")[0] == 200

    def pier_cmd(self, *args: str) -> list[str]:
        return [str(self.pier), "--host", f"unix://{self.socket}", *args]

    def close(self) -> None:
        if self.proc.poll() is None:
            h.stop_pid(self.proc.pid, "namespaced pier agent", grace=10)
        self.proc.wait()
        h.unmount_under(self.workdir)
        h.rmtree(self.workdir)


def timed_run(argv: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return time.perf_counter() - start, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--size-kib", type=int, default=2048, help="image size in KiB (default 2048)")
    parser.add_argument("--layers", type=int, default=4, help="layers (default 4)")
    parser.add_argument("--rate", default="1mbit", help="tc rate each way (default 1mbit)")
    parser.add_argument("--loss", type=float, default=0.5, help="random packet loss each way in %% (default 0.5)")
    parser.add_argument("--cut-kib", type=int, default=2048, help="mean bytes (KiB) a connection carries before it is cut (default 2048)")
    parser.add_argument("--retry-times", type=int, default=60, help="tries of skopeo copy before giving up (default 60)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the rounds without cuts")
    args = parser.parse_args()
    if args.rounds < 1 or args.size_kib < args.layers or args.cut_kib < 1:
        parser.error("--rounds ≥ 1, --size-kib ≥ --layers, --cut-kib ≥ 1")
    h.require_root()
    h.install_signal_handlers()
    h.ensure_packages(with_docker=False)
    pier = h.pier_binary()
    info = h.host_info()
    cleanups: list[Callable[[], None]] = []
    out: dict = {"host": info, "args": vars(args), "runs": []}
    try:
        work = h.new_workdir("slow")
        cleanups.append(lambda: h.rmtree(work))
        link = SlowLink(f"pbsl{random.randrange(1 << 16):04x}", args.rate, args.loss)
        cleanups.append(link.close)
        manager_port, relay_port = h.free_port(), h.free_port()
        manager = PierDaemon(h.new_workdir("slowm"), pier, ["manager"], BRIDGE, "pb-slow", ready_path="/v1/cluster")
        cleanups.append(manager.cleanup)
        manager.start(extra=["--listen", f"tcp://{HOST_IP}:{manager_port}"])
        info["pier"] = manager.version()
        relay = Relay((HOST_IP, relay_port), (HOST_IP, manager_port))
        cleanups.append(relay.close)

        certs = work / "certs"  # the cluster CA alone: ca.pem for pier, ca.crt for skopeo
        manager.cli("cert", "create", "unused", "--role", "readonly", "-o", str(certs))
        for name in ("node.pem", "node-key.pem"):
            (certs / name).unlink()
        shutil.copy(certs / "ca.pem", certs / "ca.crt")
        pusher = manager.cli("registry", "credential", "create", "-q", "--push", "bench-push").stdout.decode().strip()
        puller = manager.cli("registry", "credential", "create", "-q", "bench-pull").stdout.decode().strip()

        layout = work / "image"
        layers = make_image(layout, args.size_kib * 1024, args.layers)
        h.run(["skopeo", "--insecure-policy", "copy", "--dest-cert-dir", str(certs), "--dest-creds", f"bench-push:{pusher}",
               f"oci:{layout}:1", f"docker://{HOST_IP}:{manager_port}/bench/slow:1"], timeout=120)
        image_bytes = sum((layout / "blobs" / "sha256" / d.split(":")[1]).stat().st_size for d in layers)
        out["image_bytes"] = image_bytes
        remote = f"{HOST_IP}:{relay_port}/bench/slow:1"
        h.log(f"image of {image_bytes} bytes in {args.layers} layers on the manager; link {args.rate}, "
              f"{args.loss}% loss, cuts every {args.cut_kib} KiB on average")

        def pier_case() -> tuple[float, subprocess.CompletedProcess]:
            agent = NamespacedAgent(link, pier, h.new_workdir("slowa"))
            try:
                return timed_run(agent.pier_cmd("image", "pull", "-q", "--cert-dir", str(certs), "--creds",
                                                f"bench-pull:{puller}", remote), timeout=1800)
            finally:
                agent.close()

        tries: dict[str, int] = {}

        def skopeo_case() -> tuple[float, subprocess.CompletedProcess]:
            # Retried here, at once: skopeo's own --retry-times sleeps 2^n s between tries.
            # The target stays between tries, so blobs a try completed are reused (a layer cut
            # off starts again from its first byte).
            target = work / "skopeo-out"
            h.rmtree(target)
            argv = ["ip", "netns", "exec", link.ns, "skopeo", "--insecure-policy", "copy",
                    "--src-cert-dir", str(certs), "--src-creds", f"bench-pull:{puller}", f"docker://{remote}", f"dir:{target}"]
            total = 0.0
            try:
                for attempt in range(max(1, args.retry_times)):
                    seconds, proc = timed_run(argv, timeout=900)
                    total += seconds
                    tries["last"] = attempt + 1
                    if proc.returncode == 0:
                        break
                return total, proc
            finally:
                h.rmtree(target)

        cases = {"pier": pier_case, "skopeo": skopeo_case}
        settings = [("cuts", args.cut_kib * 1024)] + ([] if args.no_baseline else [("no cuts", None)])
        for rnd in range(args.rounds):
            for setting, mean in settings:
                for name in (list(cases) if rnd % 2 == 0 else list(reversed(cases))):
                    relay.reset(mean, seed=1000 + rnd)
                    seconds, proc = timed_run_checked(cases[name])
                    with relay.lock:
                        run = {"round": rnd, "setting": setting, "case": name, "seconds": seconds,
                               "bytes": relay.to_client, "cuts": relay.cuts, "connections": relay.connections,
                               "status": proc.returncode, "stderr": h.tail(proc.stderr, 3), "tries": tries.pop("last", 1)}
                    out["runs"].append(run)
                    h.log(f"round {rnd} {setting:7} {name:6}: {seconds:6.1f} s, {run['bytes']:>9} bytes, "
                          f"{run['cuts']} cuts, exit {proc.returncode}")
    except h.BenchError as e:
        h.warn(str(e))
        out["error"] = str(e)
    finally:
        h.with_cleanup(cleanups)
    path = h.write_json("slowlink", out)
    runs = out["runs"]
    if runs:
        size = out.get("image_bytes", 0)
        print(f"\nPull of a {size / 1024:.0f} KiB image ({args.layers} layers of random data) over {args.rate} each way, "
              f"{args.loss}% packet loss; connections cut every {args.cut_kib} KiB on average; medians of {args.rounds}")
        print(f"host: {info.get('kernel', '?')}; pier {info.get('pier', '?')}\n")
        rows = []
        for setting in ("cuts", "no cuts"):
            for name in ("pier", "skopeo"):
                mine = [r for r in runs if r["setting"] == setting and r["case"] == name]
                if not mine:
                    continue
                ok = [r for r in mine if r["status"] == 0]
                label = f"{name} ({'resumes' if name == 'pier' else 'a cut blob restarts'})" if setting == "cuts" else name
                if not ok:
                    rows.append([setting, label, "-", "-", "-", f"{len(mine) - len(ok)}/{len(mine)} failed"])
                    continue
                t = h.median([r["seconds"] for r in ok])
                b = h.median([r["bytes"] for r in ok])
                rows.append([setting, label, f"{t:.1f}", f"{b:,.0f}", f"{b / size:.2f}x" if size else "-",
                             f"{h.median([r['cuts'] for r in ok]):.0f} cuts" + (f", {h.median([r['tries'] for r in ok]):.0f} tries" if name == "skopeo" else "") + (f", {len(mine) - len(ok)} failed" if len(ok) < len(mine) else "")])
        print(h.table(["link", "client", "time s", "bytes over the link", "of the image", "notes"], rows, left=(0, 1, 5)))
        pier_cut = [r for r in runs if r["setting"] == "cuts" and r["case"] == "pier" and r["status"] == 0]
        sko_cut = [r for r in runs if r["setting"] == "cuts" and r["case"] == "skopeo" and r["status"] == 0]
        if pier_cut and sko_cut:
            print(f"\nwith cuts: pier {h.median([r['seconds'] for r in pier_cut]) / h.median([r['seconds'] for r in sko_cut]):.2f}x "
                  f"skopeo's time, {h.median([r['bytes'] for r in pier_cut]) / h.median([r['bytes'] for r in sko_cut]):.2f}x its bytes")
    print(f"raw numbers: {path}")
    return 0 if runs and "error" not in out else 1


def timed_run_checked(case: Callable[[], tuple[float, subprocess.CompletedProcess]]) -> tuple[float, subprocess.CompletedProcess]:
    seconds, proc = case()
    if proc.returncode != 0:
        h.warn(f"exit {proc.returncode}: {h.tail(proc.stderr, 4)}")
    return seconds, proc


if __name__ == "__main__":
    sys.exit(main())
