#!/usr/bin/env python3
"""ZMQ subscriber (seed 000): receives zmq_pub.py's messages and measures their latency.

Latency = receive time - the send time in the message, both CLOCK_MONOTONIC (one clock for the host
and its containers). Without --sync it prints one line a second (messages/s, latency p50/p99) for
ever, or for --seconds. With --sync it takes part in one measured exchange (see zmq_pub.py) and
prints its raw results, then exits:
  RESULT-LAT <latency ns> <latency ns> ...        (the latency messages, up to 250 per line)
  RESULT {"latency_sent": …, "latency_received": …, "burst_sent": …, "burst_received": …,
          "burst_first_send_ns": …, "burst_last_recv_ns": …, "size": …}
"""

import argparse
import json
import signal
import struct
import sys
import time

import zmq

HEADER = struct.Struct("<cIQ")
END = struct.Struct("<cII")
PER_LINE = 250


def pct(ordered, p):
    return ordered[max(1, -(-len(ordered) * p // 100)) - 1]


def report_forever(sub, seconds: float) -> int:
    stop = time.monotonic() + seconds if seconds else None
    window, tick = [], time.monotonic() + 1
    while stop is None or time.monotonic() < stop:
        if sub.poll(100):
            data = sub.recv()
            now = time.monotonic_ns()
            if len(data) >= HEADER.size and data[:1] == b"L":
                window.append(now - HEADER.unpack_from(data)[2])
        if time.monotonic() >= tick:
            if window:
                ordered = sorted(window)
                print(f"zmq-sub: {len(window)} msgs/s, latency p50 {pct(ordered, 50) / 1000:.0f} µs "
                      f"p99 {pct(ordered, 99) / 1000:.0f} µs", flush=True)
            else:
                print("zmq-sub: no messages in the last second", flush=True)
            window, tick = [], tick + 1
    return 0


def measured(ctx, sub, sync: str, wait: float, size: int) -> int:
    deadline = time.monotonic() + wait
    while True:  # the first warm-up message: our subscription has reached the publisher
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not sub.poll(int(remaining * 1000) + 1):
            print(f"zmq-sub: no message from the publisher within {wait:.0f} s", file=sys.stderr)
            return 1
        if sub.recv()[:1] == b"W":
            break
    req = ctx.socket(zmq.REQ)
    req.connect(sync)
    req.send(b"ready")
    if not req.poll(int(wait * 1000)):
        print(f"zmq-sub: the publisher did not answer on {sync}", file=sys.stderr)
        return 1
    req.recv()

    latencies = []
    burst = 0
    first_send = last_recv = None
    while True:
        if not sub.poll(int(wait * 1000)):
            print(f"zmq-sub: nothing received for {wait:.0f} s before the end message", file=sys.stderr)
            return 1
        data = sub.recv()
        now = time.monotonic_ns()
        kind = data[:1]
        if kind == b"L":
            latencies.append(now - HEADER.unpack_from(data)[2])
        elif kind == b"T":
            burst += 1
            if first_send is None:
                first_send = HEADER.unpack_from(data)[2]
            last_recv = now
        elif kind == b"E":
            _, sent_latency, sent_burst = END.unpack_from(data)
            break
    for i in range(0, len(latencies), PER_LINE):
        print("RESULT-LAT " + " ".join(str(v) for v in latencies[i:i + PER_LINE]))
    print("RESULT " + json.dumps({
        "latency_sent": sent_latency, "latency_received": len(latencies),
        "burst_sent": sent_burst, "burst_received": burst,
        "burst_first_send_ns": first_send, "burst_last_recv_ns": last_recv, "size": size,
    }, sort_keys=True), flush=True)
    req.send(b"done")
    req.poll(2000)
    req.close(linger=0)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connect", default="tcp://publisher:5556", help="the publisher (default %(default)s)")
    parser.add_argument("--sync", help="the publisher's REP endpoint for one measured exchange, e.g. tcp://publisher:5557")
    parser.add_argument("--seconds", type=float, default=0, help="without --sync: stop after this long (0: never)")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for the publisher (with --sync)")
    parser.add_argument("--size", type=int, default=64, help="the message size, reported with the results")
    args = parser.parse_args()
    if not 0 <= args.seconds <= 86400 * 365 or not 0.1 <= args.wait <= 3600:
        parser.error("--seconds must be 0..31536000 and --wait 0.1..3600")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(args.connect)
    print(f"zmq-sub: subscribed to {args.connect}", file=sys.stderr, flush=True)
    try:
        if args.sync:
            return measured(ctx, sub, args.sync, args.wait, args.size)
        return report_forever(sub, args.seconds)
    finally:
        ctx.destroy(linger=0)


if __name__ == "__main__":
    sys.exit(main())
