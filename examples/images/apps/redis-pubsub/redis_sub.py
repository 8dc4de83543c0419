#!/usr/bin/env python3
"""Redis subscriber (seed 004): subscribes to the publisher's channel and "displays" the time.

For every message it formats the published epoch time as the paper's 7-segment clock shows it
(HH:MM:SS) and appends to --out one line per update:
  <displayed HH:MM:SS> <published epoch s> <received epoch s>
so the display delay is the third column minus the second (one clock when both run on one host).
It resubscribes by itself when Redis goes away and comes back. Every 10 s it prints updates/s and
the delay's median. SIGTERM ends it cleanly.
"""

import argparse
import signal
import sys
import time

import redis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis:6379", help="HOST:PORT of Redis (default %(default)s)")
    parser.add_argument("--channel", default="clock", help="the channel (default %(default)s)")
    parser.add_argument("--out", default="/data/displayed.log", help="file of displayed values; '-' for none")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    args = parser.parse_args()
    host, _, port = args.redis.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        parser.error(f"--redis must be HOST:PORT, not {args.redis!r}")
    if not 0 <= args.seconds <= 86400 * 365:
        parser.error("--seconds must be 0..31536000")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    out = open(args.out, "a", buffering=1) if args.out != "-" else None
    print(f"redis-sub: subscribing to {args.channel!r} on {args.redis}", flush=True)
    start = time.monotonic()
    window_start, delays, down = start, [], False
    try:
        while not args.seconds or time.monotonic() - start < args.seconds:
            try:
                client = redis.Redis(host=host, port=int(port), socket_connect_timeout=1)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(args.channel)
                if down:
                    print(f"redis-sub: subscribed again on {args.redis}", flush=True)
                    down = False
                while not args.seconds or time.monotonic() - start < args.seconds:
                    msg = pubsub.get_message(timeout=0.5)
                    now = time.monotonic()
                    if msg is not None and msg.get("type") == "message":
                        received = time.time()
                        try:
                            published = float(msg["data"])
                        except (TypeError, ValueError):
                            continue
                        shown = time.strftime("%H:%M:%S", time.localtime(published))
                        if out:
                            out.write(f"{shown} {published:.6f} {received:.6f}\n")
                        delays.append(received - published)
                    if now - window_start >= 10:
                        if delays:
                            ordered = sorted(delays)
                            print(f"redis-sub: {len(delays) / (now - window_start):.0f} updates/s, "
                                  f"delay p50 {ordered[len(ordered) // 2] * 1000:.2f} ms", flush=True)
                        window_start, delays = now, []
                pubsub.close()
            except redis.RedisError as e:
                if not down:
                    print(f"redis-sub: {args.redis} unreachable ({e}); retrying", flush=True)
                    down = True
                time.sleep(0.1)
    finally:
        if out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
