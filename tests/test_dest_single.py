"""A single-server destination: no shards, so a collection holds every source shard's documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.destination.apply_batch import Received, StreamProtocolError, plan
from dc2dc.pipeline.destination.document_apply import DocumentWriter, ShardApplier, Target, locate
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.destination.structure_apply import StructureApplier
from dc2dc.topics.envelope import Envelope, Op
from dest_helpers import all_docs


@pytest.fixture(scope="module")
def single_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = Path(tmp_path_factory.mktemp("dest-single"))
    try:
        yield start_standin(state, "B", mode="single")
    finally:
        stop_standin(state, "B")


@pytest_asyncio.fixture(loop_scope="function")
async def http(single_b: dict[str, Any]) -> AsyncIterator[ArangoHttp]:
    async with ArangoHttp(single_b["coordinator"], username=single_b["username"],
                          password=single_b["password"]) as client:
        yield client


def coll(shards: int) -> dict[str, Any]:
    return {"cid": f"c{shards}", "type": 2, "shards": [f"s{shards}{i}" for i in range(shards)], "indexes": [],
            "properties": {"numberOfShards": shards, "shardKeys": ["_key"], "replicationFactor": 1}}


async def apply(http: ArangoHttp, target: Target, envs: list[Envelope]) -> None:
    applier = ShardApplier(DocumentWriter(http))
    steps, _ = plan([Received(e, e.seq) for e in envs])
    for step in steps:
        await applier.apply(step, target)


def ins(seq: int, key: str) -> Envelope:
    return Envelope(op=Op.INSERT, src="A", seq=seq, doc={"_key": key})


async def test_single_server_destination_takes_whole_collections_and_refuses_per_shard_truncate(
    http: ArangoHttp,
) -> None:
    snap = {"databases": {"db1": {"options": {}, "collections": {"one": coll(1), "two": coll(2)}}}, "users": {}}
    await StructureApplier(http).apply(snap)
    assert await StructureApplier(http).apply(snap, snap) == []

    one = await locate(http, "db1", "one", 0, 1)
    assert (one.shard, one.exclusive) == (None, True)
    await apply(http, one, [ins(1, "a"), ins(2, "b"), Envelope(op=Op.TRUNCATE, src="A", seq=3), ins(4, "c")])
    assert list(await all_docs(http, "db1", "one")) == ["c"]

    second_of_two = await locate(http, "db1", "two", 1, 2)
    assert second_of_two.exclusive is False
    await apply(http, second_of_two, [ins(1, "x")])    # documents still replicate
    with pytest.raises(StreamProtocolError, match="single-server"):
        await apply(http, second_of_two, [Envelope(op=Op.TRUNCATE, src="A", seq=2)])
    assert list(await all_docs(http, "db1", "two")) == ["x"]
