#!/usr/bin/env python3
"""ZMQ publisher (seed 000): timestamped messages on a PUB socket.

Each message is `kind (1 byte) | sequence (u32) | send time (u64, ns of CLOCK_MONOTONIC)`, padded to
--size bytes. CLOCK_MONOTONIC is one clock for the host and every container on it (none of them has a
time namespace), so a subscriber on the same machine computes the latency from its own receive time.

Without --sync it publishes --rate messages per second for ever (--count 0) or --count of them, for a
subscriber that joins whenever. With --sync (a REP socket) it runs one measured exchange with a
subscriber started with the same --sync:
  1. warm-up messages every 10 ms until the subscriber, having received one, says "ready";
  2. --count latency messages paced at --rate per second;
  3. --burst throughput messages as fast as the socket takes them;
  4. an end message carrying both counts, then it waits for the subscriber's "done".
"""

import argparse
import signal
import struct
import sys
import time

import zmq

HEADER = struct.Struct("<cIQ")
END = struct.Struct("<cII")


def message(kind: bytes, seq: int, size: int) -> bytes:
    body = HEADER.pack(kind, seq & 0xFFFFFFFF, time.monotonic_ns())
    return body + b"\0" * (size - len(body)) if size > len(body) else body


def paced(pub, kind: bytes, count: int, rate: float, size: int) -> int:
    interval = 1.0 / rate
    start = time.monotonic()
    sent = 0
    while count == 0 or sent < count:
        delay = start + sent * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pub.send(message(kind, sent, size))
        sent += 1
    return sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind", default="tcp://*:5556", help="the PUB endpoint (default %(default)s)")
    parser.add_argument("--sync", help="a REP endpoint for one measured exchange, e.g. tcp://*:5557")
    parser.add_argument("--count", type=int, default=0, help="latency messages; 0: for ever (default)")
    parser.add_argument("--rate", type=float, default=1000, help="latency messages per second (default %(default)s)")
    parser.add_argument("--burst", type=int, default=0, help="throughput messages after them (with --sync)")
    parser.add_argument("--size", type=int, default=64, help="message size in bytes (default %(default)s)")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the subscriber (with --sync)")
    args = parser.parse_args()
    if not 0 <= args.count <= 10_000_000 or not 0 <= args.burst <= 100_000_000:
        parser.error("--count and --burst must be between 0 and 10^7 (10^8 for --burst)")
    if not 0.1 <= args.rate <= 1_000_000 or not HEADER.size <= args.size <= 1 << 20:
        parser.error(f"--rate must be 0.1..10^6 and --size {HEADER.size}..1048576")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    ctx = zmq.Context()
    try:
        return publish(ctx, args)
    finally:
        ctx.destroy(linger=1000)


def publish(ctx, args) -> int:
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)  # queue rather than drop: the subscriber counts every message
    pub.bind(args.bind)
    print(f"zmq-pub: publishing on {args.bind}", flush=True)
    if not args.sync:
        paced(pub, b"L", args.count, args.rate, args.size)
        time.sleep(1)  # the last messages leave before the context is destroyed
        return 0

    rep = ctx.socket(zmq.REP)
    rep.bind(args.sync)
    deadline = time.monotonic() + args.wait
    seq = 0
    while not rep.poll(10):
        if time.monotonic() > deadline:
            print(f"zmq-pub: no subscriber said ready on {args.sync} within {args.wait:.0f} s", file=sys.stderr)
            return 1
        pub.send(message(b"W", seq, args.size))
        seq += 1
    rep.recv()
    rep.send(b"go")
    time.sleep(0.05)  # the subscriber is back in its receive loop before the first timed message
    sent_latency = paced(pub, b"L", args.count, args.rate, args.size)
    sent_burst = 0
    for sent_burst in range(args.burst):
        pub.send(message(b"T", sent_burst, args.size))
    if args.burst:
        sent_burst += 1
    pub.send(END.pack(b"E", sent_latency, sent_burst))
    if rep.poll(int(args.wait * 1000)):
        rep.recv()
        rep.send(b"bye")
    else:
        print("zmq-pub: the subscriber did not say done", file=sys.stderr)
    print(f"zmq-pub: sent {sent_latency} latency and {sent_burst} throughput messages", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
