"""End-to-end replication: A's stand-in -> source worker -> Kafka A -> MM2 -> Kafka B -> destination
worker -> B's stand-in, everything real (``devcluster``) and signed as in production.

* throughput: N documents of about ``--size`` bytes written to A in bulk; the figure is N divided by
  the time from the first write in A until ``check sync`` (structure + per-shard digests) finds B
  equal to A. The time of the write alone is printed too, since on this machine the stand-in
  shares the cores with everything else.
* latency: single-document writes to A, one at a time, each timed until B's coordinator returns
  that document's new value (polled every few milliseconds); p50/p99 over ``--latency-writes``.

Prints one JSON object.

    python bench/e2e_throughput.py [--docs 50000] [--size 1024] [--shards 4] [--latency-writes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from arango import ArangoClient
from arango.collection import StandardCollection
from dc2dc.devcluster.up import DevEnvironment, EnvSpec, start_environment
from dc2dc.devcluster.workers import start_worker, stop_worker
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.check import compare

DB, COLL = "bench_e2e", "docs"


def _collection(env: DevEnvironment, dc: str) -> StandardCollection:
    arango = env.arangodb[dc]
    client = ArangoClient(hosts=arango["coordinator"], request_timeout=300)
    return client.db(DB, username=arango.get("username", "root"), password=arango["password"]).collection(COLL)


def _in_sync(env: DevEnvironment) -> bool:
    def http(dc: str) -> ArangoHttp:
        arango = env.arangodb[dc]
        return ArangoHttp(arango["coordinator"], username=arango.get("username", "root"), password=arango["password"])

    async def run() -> bool:
        async with http("A") as a, http("B") as b:
            return (await compare(a, b)).in_sync
    return asyncio.run(run())


def _wait_in_sync(env: DevEnvironment, timeout: float) -> float:
    """Seconds until B equals A (polled with ``check sync``); raises on timeout."""
    started = time.monotonic()
    while not _in_sync(env):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"B not in sync with A after {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


def _throughput(env: DevEnvironment, docs: int, size: int) -> dict[str, Any]:
    coll = _collection(env, "A")
    pad = "x" * max(0, size - 40)
    started = time.monotonic()
    for start in range(0, docs, 1000):
        coll.import_bulk([{"_key": f"t{i}", "i": i, "pad": pad} for i in range(start, min(docs, start + 1000))],
                         halt_on_error=True)
    written = time.monotonic() - started
    _wait_in_sync(env, timeout=1800)
    total = time.monotonic() - started
    return {"docs": docs, "doc_bytes": size, "write_s": round(written, 2), "first_write_to_in_sync_s": round(total, 2),
            "docs_per_s": round(docs / total, 1), "write_docs_per_s": round(docs / written, 1)}


def _latency(env: DevEnvironment, writes: int) -> dict[str, Any]:
    a, b = _collection(env, "A"), _collection(env, "B")
    latencies: list[float] = []
    for i in range(writes):
        started = time.monotonic()
        a.insert({"_key": f"l{i}", "i": i}, overwrite=True)
        while b.get(f"l{i}") is None:
            time.sleep(0.005)
        latencies.append((time.monotonic() - started) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    return {"writes": writes, "p50_ms": round(cuts[49], 1), "p99_ms": round(cuts[98], 1),
            "max_ms": round(max(latencies), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=1024, help="approximate bytes per document")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--latency-writes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dc2dc-bench-e2e-") as tmp:
        env = start_environment(EnvSpec(state_dir=Path(tmp)))
        workers = []
        try:
            workers += [start_worker(env.state_dir, env.topology_path, "source", "A"),
                        start_worker(env.state_dir, env.topology_path, "destination", "B")]
            client = ArangoClient(hosts=env.arangodb["A"]["coordinator"])
            sysdb = client.db("_system", username="root", password=env.arangodb["A"]["password"])
            sysdb.create_database(DB)
            client.db(DB, username="root", password=env.arangodb["A"]["password"]).create_collection(
                COLL, shard_count=args.shards)
            setup_s = _wait_in_sync(env, timeout=120)  # the empty collection exists in B: live from here
            result = {"shards": args.shards, "empty_collection_in_b_s": round(setup_s, 2),
                      "throughput": _throughput(env, args.docs, args.size),
                      "latency": _latency(env, args.latency_writes)}
        finally:
            for worker in workers:
                stop_worker(worker)
            env.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
