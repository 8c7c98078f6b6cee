"""Benchmark the ArangoDB stand-in: HTTP batch insert of 1 KB documents and WAL tail throughput.

Prints one JSON object. Run: `python bench/standin.py [--docs N] [--batch N]`. The stand-in runs
in its own process (one core); the client is this process, so the figures include HTTP overhead.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson

from dc2dc.devcluster.standin.launcher import start_standin, stop_standin


async def _run(info: dict, docs: int, batch: int, concurrency: int) -> dict:
    token = base64.b64encode(f"{info['username']}:{info['password']}".encode()).decode()
    base = info["coordinator"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as http:
        async with http.post(f"{base}/_api/database", json={"name": "bench"}) as r:
            r.raise_for_status()
        async with http.post(f"{base}/_db/bench/_api/collection",
                             json={"name": "docs", "numberOfShards": 3, "replicationFactor": 2}) as r:
            r.raise_for_status()
        pad = "x" * 960
        bodies = [orjson.dumps([{"_key": f"k{i + j}", "n": i + j, "pad": pad} for j in range(batch)])
                  for i in range(0, docs, batch)]
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for b in bodies:
            queue.put_nowait(b)

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(f"{base}/_db/bench/_api/document/docs", data=body,
                                     headers={"Content-Type": "application/json"}) as resp:
                    assert resp.status in (201, 202), await resp.text()
                    await resp.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        insert_s = time.perf_counter() - t0

        entries, tail_s = await _tail_all(http, info["dbservers"] or [base])
    return {"insert_docs": docs, "insert_batch": batch, "insert_seconds": round(insert_s, 3),
            "insert_docs_per_s": round(docs / insert_s), "tail_entries": entries,
            "tail_seconds": round(tail_s, 3), "tail_entries_per_s": round(entries / tail_s)}


async def _tail_all(http: aiohttp.ClientSession, servers: list[str]) -> tuple[int, float]:
    """Tail every DBServer's WAL from its start, 8 MiB chunks, counting markers."""
    entries = 0
    t0 = time.perf_counter()
    for url in servers:
        last = 0
        scanned = 0
        while True:
            async with http.get(f"{url}/_db/bench/_api/wal/tail",
                                params={"from": str(last), "lastScanned": str(scanned),
                                        "chunkSize": str(8 << 20)}) as resp:
                body = await resp.read()
                entries += body.count(b"\n")
                included = int(resp.headers["x-arango-replication-lastincluded"])
                scanned = int(resp.headers["x-arango-replication-lastscanned"])
                if resp.status == 204 or resp.headers["x-arango-replication-checkmore"] != "true":
                    break
                last = included
    return entries, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=4)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dc = f"bench-{uuid.uuid4().hex[:6]}"
        info = start_standin(Path(tmp), dc)
        try:
            result = asyncio.run(_run(info, args.docs, args.batch, args.concurrency))
        finally:
            stop_standin(Path(tmp), dc)
    print(json.dumps({"benchmark": "standin", **result}))


if __name__ == "__main__":
    main()
