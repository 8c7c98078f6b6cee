"""Destination apply throughput: shard topics in Kafka -> DestinationWorker -> stand-in cluster.

Run: ``python bench/dest_apply.py [--docs N] [--shards S] [--doc-bytes B]``. Starts a Kafka broker
and a stand-in cluster under a temporary directory, produces N insert messages over S shard topics
(as MirrorMaker 2 would deliver them), then times one worker applying them all. Prints one JSON
object. The stand-in runs in Python on the same two cores, so this measures dc2dc's apply path
plus a slow server; against a real ArangoDB cluster expect the server to matter less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.devcluster import kafka
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.destination.positions import PositionStore
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.chunking import to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, shard_topic


async def produce(bootstrap: str, src: str, shards: list[str], docs: int, doc_bytes: int) -> None:
    await ensure_topics(bootstrap, [control_topic(src), *(shard_topic(src, s) for s in shards)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        coll = {"cid": "c1", "type": 2, "shards": shards, "indexes": [],
                "properties": {"numberOfShards": len(shards), "shardKeys": ["_key"], "replicationFactor": 1}}
        snap = {"databases": {"bench": {"options": {}, "collections": {"docs": coll}}}, "users": {}}
        for value, headers in to_records(Envelope(op=Op.STRUCTURE, src=src, seq=1, epoch=1, body=snap)):
            await producer.send(control_topic(src), value, headers=headers)
        filler = "x" * doc_bytes
        for i in range(docs):
            shard = shards[i % len(shards)]
            env = Envelope(op=Op.INSERT, src=src, seq=i // len(shards) + 1, epoch=1, shard=shard, tick=str(i),
                           ts=int(time.time() * 1000), doc={"_key": f"k{i}", "n": i, "text": filler})
            for value, headers in to_records(env):
                await producer.send(shard_topic(src, shard), value, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def run(args: argparse.Namespace, bootstrap: str, standin: dict) -> dict:
    src, shards = "BENCH", [f"s{100 + i}" for i in range(args.shards)]
    t0 = time.monotonic()
    await produce(bootstrap, src, shards, args.docs, args.doc_bytes)
    produced_s = time.monotonic() - t0
    want = {s: len(range(i, args.docs, len(shards))) for i, s in enumerate(shards)}
    async with ArangoHttp(standin["coordinator"], username=standin["username"], password=standin["password"]) as http:
        config = DestinationConfig(src=src, dst="B", bootstrap=bootstrap, max_ops=args.max_ops)
        store = PositionStore(http, src)
        t1 = time.monotonic()
        async with DestinationWorker(config, http) as worker:
            while True:
                positions = await store.load()
                if all(s in positions and positions[s].seq >= n for s, n in want.items()):
                    break
                await asyncio.sleep(0.2)
            applied_s = time.monotonic() - t1
            stopped = dict(worker.stats.stopped)
    return {"docs": args.docs, "shards": args.shards, "doc_bytes": args.doc_bytes, "max_ops": args.max_ops,
            "produce_s": round(produced_s, 2), "apply_s": round(applied_s, 2),
            "apply_docs_per_s": round(args.docs / applied_s), "stopped": stopped}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--doc-bytes", type=int, default=200)
    parser.add_argument("--max-ops", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        broker = kafka.new_broker(state, "B", kafka.ensure_jars())
        kafka.start(broker)
        try:
            standin = start_standin(state, "B", mode="cluster", dbservers=3)
            try:
                print(json.dumps(asyncio.run(run(args, broker.bootstrap, standin))))
            finally:
                stop_standin(state, "B")
        finally:
            kafka.stop(broker)


if __name__ == "__main__":
    main()
