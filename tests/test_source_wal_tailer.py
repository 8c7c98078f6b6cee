"""One DBServer's WAL tailed through the stand-in: order, position, lost history."""

from __future__ import annotations

from typing import Any

import pytest

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.source.wal_markers import DOCUMENT_INSERT
from dc2dc.pipeline.source.wal_tailer import PositionLost, WalTailer, server_last_tick
from source_helpers import arango, create_collection, insert, standin  # noqa: F401 - fixtures


@pytest.fixture
async def dbserver(standin: dict[str, Any]) -> Any:
    async with ArangoHttp(standin["dbservers"][0], jwt_secret=standin["jwt_secret"]) as http:
        yield http


async def test_markers_come_in_tick_order_and_the_position_follows_them(
        arango: ArangoHttp, dbserver: ArangoHttp) -> None:
    await create_collection(arango, None, "t", shards=1, replicationFactor=3)
    start = await server_last_tick(dbserver)
    await insert(arango, None, "t", [{"_key": f"k{i}"} for i in range(50)])
    tailer = WalTailer(dbserver, server="S", from_tick=start, src="A", chunk_size=16 * 1024)
    keys: list[str] = []
    ticks: list[int] = []
    while True:
        chunk = await tailer.fetch()
        keys += [m["data"]["_key"] for m in chunk.markers if m["type"] == DOCUMENT_INSERT]
        ticks += [int(m["tick"]) for m in chunk.markers]
        tailer.commit(chunk)
        if not chunk.check_more:
            break
    assert keys == [f"k{i}" for i in range(50)]
    assert ticks == sorted(ticks) and ticks[0] > start
    assert tailer.position == ticks[-1]
    assert (await tailer.fetch()).markers == [], "nothing new: an empty answer"


async def test_purged_history_and_a_reset_wal_are_lost_positions(arango: ArangoHttp, dbserver: ArangoHttp) -> None:
    await create_collection(arango, None, "p", shards=1, replicationFactor=3)
    old = await server_last_tick(dbserver)
    await insert(arango, None, "p", [{"_key": f"k{i}"} for i in range(5)])
    await dbserver.request("PUT", "/_admin/standin/wal-purge", json={"keep": 0})
    with pytest.raises(PositionLost):
        await WalTailer(dbserver, server="S", from_tick=old, src="A").fetch()
    ahead = await server_last_tick(dbserver) + 1000
    with pytest.raises(PositionLost):
        await WalTailer(dbserver, server="S", from_tick=ahead, src="A").fetch()
