#!/usr/bin/env python3
"""The baseline of bench/coap.py: the seed-003 compute tasks on txThings, the papers' own CoAP server.

Usage: python3 bench/txthings_compute.py PORT
Serves PUT/POST /average, /mergesort, /bubblesort on 127.0.0.1:PORT with a JSON array (or a comma-
or space-separated list) of integers, and answers with the same JSON as pier-compute: the average
as a number (integral values without a fraction), the sorts as arrays. Prints "ready" once bound.
The algorithms are the same as pier-compute's (top-down merge sort, bubble sort stopping once a
pass swaps nothing), written in plain Python as the papers' services were.
"""
import json
import re
import sys

from twisted.internet import defer, reactor
from txthings import coap, resource


def parse(payload: bytes) -> list[int]:
    text = payload.decode().strip()
    if text.startswith("["):
        return [int(x) for x in json.loads(text)]
    return [int(x) for x in re.split(r"[,\s]+", text) if x]


def average(a):
    mean = sum(a) / len(a)
    return str(int(mean)) if mean == int(mean) and abs(mean) < 9.0e15 else repr(mean)


def merge_sort(a):
    if len(a) <= 1:
        return list(a)
    mid = len(a) // 2
    left, right = merge_sort(a[:mid]), merge_sort(a[mid:])
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            out.append(right[j]); j += 1
        else:
            out.append(left[i]); i += 1
    out.extend(left[i:]); out.extend(right[j:])
    return out


def bubble_sort(a):
    a = list(a)
    end = len(a)
    while end > 1:
        last = 0
        for i in range(1, end):
            if a[i] < a[i - 1]:
                a[i], a[i - 1] = a[i - 1], a[i]
                last = i
        end = last
    return a


def as_json(numbers):
    return "[" + ",".join(str(n) for n in numbers) + "]"


TASKS = {
    b"average": average,
    b"mergesort": lambda a: as_json(merge_sort(a)),
    b"bubblesort": lambda a: as_json(bubble_sort(a)),
}


class Task(resource.CoAPResource):
    def __init__(self, run):
        resource.CoAPResource.__init__(self)
        self.visible = True
        self.run = run

    def render_PUT(self, request):
        try:
            numbers = parse(request.payload)
            body = self.run(numbers).encode()
            code = coap.CHANGED
        except Exception as e:  # noqa: BLE001 - any bad input is a 4.00, as in pier-compute
            body, code = str(e).encode(), coap.BAD_REQUEST
        response = coap.Message(code=code, payload=body)
        response.opt.content_format = coap.media_types_rev["application/json"] if code == coap.CHANGED else 0
        return defer.succeed(response)

    render_POST = render_PUT


def main() -> None:
    port = int(sys.argv[1])
    root = resource.CoAPResource()
    for name, run in TASKS.items():
        root.putChild(name, Task(run))
    endpoint = resource.Endpoint(root)
    reactor.listenUDP(port, coap.Coap(endpoint), interface="127.0.0.1")
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
