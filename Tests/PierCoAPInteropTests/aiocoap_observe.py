"""Observe a resource with aiocoap's client library and print each payload on its own line.

Usage: python3 aiocoap_observe.py URI SECONDS [CREDENTIALS.json]
aiocoap-client's --observe (0.4.17) cancels the observation as soon as the first response arrives
(its `finally` block), against any server; the library's own observation API does not, so the
interoperability test of observe uses it.
"""
import asyncio
import json
import sys

import aiocoap


async def main(uri: str, seconds: float, credentials: str = None) -> None:
    context = await aiocoap.Context.create_client_context()
    if credentials:
        with open(credentials) as f:
            context.client_credentials.load_from_dict(json.load(f))
    request = context.request(aiocoap.Message(code=aiocoap.GET, uri=uri, observe=0))
    first = await request.response
    print(first.payload.decode(), flush=True)

    async def notifications():
        async for n in request.observation:
            print(n.payload.decode(), flush=True)

    try:
        await asyncio.wait_for(notifications(), seconds)
    except asyncio.TimeoutError:
        pass
    await context.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), *sys.argv[3:4]))
