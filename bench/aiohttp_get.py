#!/usr/bin/env python3
"""The seed's way as a bench peer: asyncio + aiohttp, one TCPConnector with a total limit and a
per-host limit, every URL of a list fetched and written flat into a folder.

usage: aiohttp_get.py LIST OUTDIR LIMIT [LIMIT_PER_HOST]
"""
import asyncio
import os
import sys

import aiohttp


async def fetch(session, url, outdir):
    name = url.rsplit('/', 1)[-1].split('?', 1)[0] or 'index.html'
    async with session.get(url) as resp:
        resp.raise_for_status()
        with open(os.path.join(outdir, name), 'wb') as f:
            async for chunk in resp.content.iter_chunked(1 << 16):
                f.write(chunk)


async def main():
    lst, outdir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    per_host = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with open(lst) as f:
        urls = [line.strip() for line in f if line.strip()]
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        # The connector bounds the connections; a semaphore bounds the tasks started at once, as
        # the flags2 examples do, so a long list does not become a million pending coroutines.
        sem = asyncio.Semaphore(max(limit, 1) * 4)

        async def one(url):
            async with sem:
                await fetch(session, url, outdir)

        await asyncio.gather(*(one(u) for u in urls))


asyncio.run(main())
