"""The real source worker's output applied by the destination worker (one Kafka, no MirrorMaker).

MirrorMaker 2 copies records unchanged, so this checks the message contract between the two
sides on real WAL-derived data: initial sync, live changes, a transaction, a truncate, a
drop and re-create under the same name, and a new database mid-stream. The end-to-end tests
through MirrorMaker 2 live with the lead's pipeline tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.agents.source import SourceComponent
from dc2dc.pipeline.arango.http import ArangoHttp
from dest_helpers import all_docs, http, kafka_b, standin_b  # noqa: F401 (fixtures)
from source_helpers import create_collection, insert, new_dc_id, remove, run_standin, source_settings, wait_until


@pytest.fixture
def standin_a(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from run_standin(tmp_path)


async def same_documents(a: ArangoHttp, b: ArangoHttp, db: str, coll: str) -> bool:
    try:
        want, have = await all_docs(a, db, coll), await all_docs(b, db, coll)
    except Exception:   # the database or collection is not in B yet
        return False
    strip = lambda docs: {k: {f: v for f, v in d.items() if f != "_id"} for k, d in docs.items()}  # noqa: E731
    return strip(want) == strip(have)


async def test_what_the_source_worker_sends_the_destination_applies_identically(
    standin_a: dict[str, Any], http: ArangoHttp, kafka_b: str
) -> None:
    src = new_dc_id()
    async with ArangoHttp(standin_a["coordinator"], username=standin_a["username"],
                          password=standin_a["password"]) as a:
        await a.request("POST", "/_api/database", json={"name": "shop"})
        await create_collection(a, "shop", "items", shards=3)
        await insert(a, "shop", "items", [{"_key": f"k{i}", "n": i} for i in range(200)])
        dst = DestinationConfig(src=src, dst="B", bootstrap=kafka_b, metadata_max_age_ms=1000, feedback_interval_s=1)
        async with SourceComponent(source_settings(standin_a, kafka_b, src)) as source, \
                DestinationWorker(dst, http) as worker:
            await wait_until(lambda: same_documents(a, http, "shop", "items"), what="initial sync in B")

            await insert(a, "shop", "items", [{"_key": f"k{i}", "n": -i} for i in range(0, 200, 7)])
            await remove(a, "shop", "items", [f"k{i}" for i in range(1, 200, 9)])
            trx = (await a.request("POST", "/_api/transaction/begin", db="shop",
                                   json={"collections": {"write": ["items"]}})).json()["result"]["id"]
            await a.request("POST", "/_api/document/items", db="shop", json=[{"_key": "t1"}, {"_key": "t2"}],
                            headers={"x-arango-trx-id": trx})
            await a.request("PUT", f"/_api/transaction/{trx}", db="shop")
            await a.request("POST", "/_api/database", json={"name": "Ωmega"})
            await create_collection(a, "Ωmega", "late", shards=2)
            await insert(a, "Ωmega", "late", [{"_key": f"x{i}"} for i in range(20)])
            await wait_until(lambda: same_documents(a, http, "shop", "items"), what="live changes in B")
            await wait_until(lambda: same_documents(a, http, "Ωmega", "late"), what="a new database in B")

            await a.request("PUT", "/_api/collection/items/truncate", db="shop")
            await wait_until(lambda: same_documents(a, http, "shop", "items"), what="truncate in B")
            await a.request("DELETE", "/_api/collection/items", db="shop")
            await create_collection(a, "shop", "items", shards=3)
            await insert(a, "shop", "items", [{"_key": "reborn"}])
            await wait_until(lambda: same_documents(a, http, "shop", "items"), what="re-created collection in B")
            await asyncio.sleep(1)
            assert worker.stats.stopped == {} and worker.stats.failed is None
            assert source.status() is not None
    props = (await http.request("GET", "/_api/collection/late/properties", db="Ωmega")).json()
    assert props["numberOfShards"] == 2
