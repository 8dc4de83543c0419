#!/usr/bin/env python3
"""Redis publisher (seed 004): the epoch time, every 2 ms, to a Redis key and channel.

Each tick sets --key and publishes on --channel the current epoch time (seconds, 6 decimals) in one
round trip, and appends the same value to --out (one line per publish), as the paper's publisher
also logs what it publishes. Ticks follow a fixed schedule; a tick that finds Redis unreachable is
skipped (and counted), so a restarted or moved Redis is picked up again without a restart.
Every 10 s it prints publishes/s. SIGTERM ends it cleanly.
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
    parser.add_argument("--key", default="clock", help="the key set on every tick (default %(default)s)")
    parser.add_argument("--interval", type=float, default=0.002, help="seconds between publishes (default %(default)s)")
    parser.add_argument("--out", default="/data/published.log", help="file of published values; '-' for none")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    args = parser.parse_args()
    host, _, port = args.redis.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        parser.error(f"--redis must be HOST:PORT, not {args.redis!r}")
    if not 0.0001 <= args.interval <= 3600 or not 0 <= args.seconds <= 86400 * 365:
        parser.error("--interval must be 0.0001..3600 s and --seconds 0..31536000")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    client = redis.Redis(host=host, port=int(port), socket_timeout=1, socket_connect_timeout=1)
    out = open(args.out, "a", buffering=1) if args.out != "-" else None
    print(f"redis-pub: every {args.interval * 1000:g} ms to {args.redis} key {args.key!r} channel {args.channel!r}",
          flush=True)
    start = time.monotonic()
    tick = published = skipped = 0
    window_start, window_count, down = start, 0, False
    try:
        while not args.seconds or time.monotonic() - start < args.seconds:
            delay = start + tick * args.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -args.interval:  # behind: skip the ticks that were missed
                tick += int(-delay / args.interval)
            tick += 1
            value = f"{time.time():.6f}"
            try:
                pipe = client.pipeline(transaction=False)
                pipe.set(args.key, value)
                pipe.publish(args.channel, value)
                pipe.execute()
            except redis.RedisError as e:
                skipped += 1
                if not down:
                    print(f"redis-pub: {args.redis} unreachable ({e}); retrying", flush=True)
                    down = True
                time.sleep(0.05)
                continue
            if down:
                print(f"redis-pub: {args.redis} reachable again after {skipped} skipped ticks", flush=True)
                down = False
            published += 1
            window_count += 1
            if out:
                out.write(value + "\n")
            now = time.monotonic()
            if now - window_start >= 10:
                print(f"redis-pub: {window_count / (now - window_start):.0f} publishes/s ({published} in all)", flush=True)
                window_start, window_count = now, 0
    finally:
        if out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
