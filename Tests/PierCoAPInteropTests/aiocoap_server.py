"""A small aiocoap server for Pier's CoAP interoperability tests.

Usage: python3 aiocoap_server.py PORT
Serves on 127.0.0.1:PORT: /hello (GET), /store (GET, PUT, POST appends, DELETE),
/big (GET, 5000 bytes, block-wise), /counter (GET, observable, changes every 0.2 s),
and /.well-known/core. Prints "ready" once bound.
"""
import asyncio
import sys

import aiocoap
import aiocoap.resource as resource

BIG = "".join("line %03d \n" % (i % 1000) for i in range(500)).encode()


class Hello(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=b"hello from aiocoap", content_format=0)


class Store(resource.Resource):
    def __init__(self):
        super().__init__()
        self.data = b"initial"

    async def render_get(self, request):
        return aiocoap.Message(payload=self.data, content_format=0)

    async def render_put(self, request):
        self.data = request.payload
        return aiocoap.Message(code=aiocoap.CHANGED)

    async def render_post(self, request):
        self.data += request.payload
        return aiocoap.Message(code=aiocoap.CHANGED)

    async def render_delete(self, request):
        self.data = b""
        return aiocoap.Message(code=aiocoap.DELETED)


class Big(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=BIG, content_format=0)


class Counter(resource.ObservableResource):
    def __init__(self):
        super().__init__()
        self.value = 0
        self.task = None

    def update_observation_count(self, count):
        if count and self.task is None:
            self.task = asyncio.get_event_loop().create_task(self.tick())

    async def tick(self):
        while True:
            await asyncio.sleep(0.2)
            self.value += 1
            self.updated_state()

    async def render_get(self, request):
        return aiocoap.Message(payload=str(self.value).encode(), content_format=0)


async def main(port):
    root = resource.Site()
    root.add_resource([".well-known", "core"], resource.WKCResource(root.get_resources_as_linkheader))
    root.add_resource(["hello"], Hello())
    root.add_resource(["store"], Store())
    root.add_resource(["big"], Big())
    root.add_resource(["counter"], Counter())
    await aiocoap.Context.create_server_context(root, bind=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
