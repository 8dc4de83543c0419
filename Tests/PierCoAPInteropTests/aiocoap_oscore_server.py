"""aiocoap's OSCORE server for Pier's interoperability tests.

Usage: python3 aiocoap_oscore_server.py PORT CREDENTIALS.json
Serves aiocoap_server.py's resources on 127.0.0.1:PORT, OSCORE-protected with the contexts the
credentials file names (aiocoap's own format, as `aiocoap-fileserver --server-credentials`).
Prints "ready" once bound.
"""
import asyncio
import json
import sys

import aiocoap
import aiocoap.resource as resource
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

from aiocoap_server import Big, Counter, Hello, Store


async def main(port, credentials_path):
    root = resource.Site()
    root.add_resource([".well-known", "core"], resource.WKCResource(root.get_resources_as_linkheader))
    root.add_resource(["hello"], Hello())
    root.add_resource(["store"], Store())
    root.add_resource(["big"], Big())
    root.add_resource(["counter"], Counter())
    credentials = CredentialsMap()
    with open(credentials_path) as f:
        credentials.load_from_dict(json.load(f))
    site = OscoreSiteWrapper(root, credentials)
    await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), server_credentials=credentials)
    print("ready", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    except KeyboardInterrupt:
        pass
