"""Source-side throughput: stand-in cluster -> SourceComponent -> shard topics in Kafka.

Run: ``python bench/source_produce.py [--docs N] [--shards S] [--doc-bytes B]``. Starts a Kafka
broker and a stand-in cluster (3 DBServers) under a temporary directory, then times two phases:

* ``initial_sync``: N documents already in a collection -> every shard synced (snapshot dump);
* ``live``: N more documents written while the worker runs -> the tailers past the servers'
  last ticks (the figure is for the source side to have produced them all, writes included).

Prints one JSON object. The stand-in runs in Python on the same cores, so part of the time is
the server's; against a real ArangoDB cluster expect the server to matter less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from dc2dc.agents.source import SourceComponent, SourceSettings
from dc2dc.devcluster import kafka
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.arango.http import ArangoHttp

BATCH = 1000


async def load(http: ArangoHttp, coll: str, first: int, docs: int, doc_bytes: int) -> None:
    filler = "x" * doc_bytes
    for start in range(first, first + docs, BATCH):
        batch = [{"_key": f"k{i}", "n": i, "text": filler} for i in range(start, min(start + BATCH, first + docs))]
        await http.request("POST", f"/_api/document/{coll}", db="bench", json=batch)


async def caught_up(source: SourceComponent, shards: list[str]) -> None:
    while not all(s in source.shards and source.shards[s].live for s in shards):
        await asyncio.sleep(0.05)
    targets = {sid: int((await source.cluster.client(sid).request("GET", "/_api/wal/lastTick")).json()["tick"])
               for sid in await source.cluster.data_servers()}
    while not all(source.tail_positions.get(sid, 0) >= tick for sid, tick in targets.items()):
        await asyncio.sleep(0.05)


async def run(args: argparse.Namespace, bootstrap: str, info: dict) -> dict:
    async with ArangoHttp(info["coordinator"], username=info["username"], password=info["password"]) as http:
        await http.request("POST", "/_api/database", json={"name": "bench"})
        await http.request("POST", "/_api/collection", db="bench",
                           json={"name": "docs", "numberOfShards": args.shards, "replicationFactor": 2})
        shards = (await http.request("GET", "/_api/collection/docs/shards", db="bench")).json()["shards"]
        await load(http, "docs", 0, args.docs, args.doc_bytes)
        settings = SourceSettings(src=f"bench{uuid.uuid4().hex[:6]}", kafka=bootstrap, arangodb=ArangoEndpoint(
            info["coordinator"], username=info["username"], password=info["password"], jwt_secret=info["jwt_secret"]))
        t0 = time.monotonic()
        async with SourceComponent(settings) as source:
            await caught_up(source, shards)
            sync_s = time.monotonic() - t0
            t1 = time.monotonic()
            await load(http, "docs", args.docs, args.docs, args.doc_bytes)
            written_s = time.monotonic() - t1
            await caught_up(source, shards)
            live_s = time.monotonic() - t1
            messages = source.stats["messages"]
    return {
        "docs": args.docs, "shards": args.shards, "doc_bytes": args.doc_bytes,
        "initial_sync_s": round(sync_s, 3), "initial_sync_docs_per_s": round(args.docs / sync_s),
        "live_write_s": round(written_s, 3), "live_caught_up_s": round(live_s, 3),
        "live_docs_per_s": round(args.docs / live_s), "live_messages": messages,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=6)
    parser.add_argument("--doc-bytes", type=int, default=200)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="dc2dc-bench-source-"))
    broker = kafka.new_broker(state, "K", kafka.ensure_jars())
    kafka.start(broker)
    try:
        info = start_standin(state, "A")
        try:
            print(json.dumps(asyncio.run(run(args, broker.bootstrap, info))))
        finally:
            stop_standin(state, "A")
    finally:
        kafka.stop(broker)


if __name__ == "__main__":
    main()
