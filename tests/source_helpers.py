"""Shared pieces of the source-side tests: a stand-in per test, writes to it, reading shard topics.

The stand-in (devcluster/standin) is the ArangoDB of these tests and Kafka is real (the
``kafka_two_dc`` session fixture); nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from dc2dc.agents.source import SourceComponent, SourceSettings
from dc2dc.devcluster.standin.launcher import start_standin, stop_standin
from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.chunking import Reassembler
from dc2dc.topics.codec import decode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, shard_topic


def new_dc_id() -> str:
    return f"s{uuid.uuid4().hex[:10]}"


def run_standin(tmp_path: Path, mode: str = "cluster", version: str = "3.12") -> Iterator[dict[str, Any]]:
    dc = new_dc_id()
    info = start_standin(tmp_path, dc, mode=mode, dbservers=3, arangodb_version=version)
    try:
        yield info
    finally:
        stop_standin(tmp_path, dc)


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from run_standin(tmp_path)


@pytest.fixture
def bootstrap(kafka_two_dc: Any) -> str:
    return kafka_two_dc.bootstrap("A")


@pytest.fixture
async def arango(standin: dict[str, Any]) -> AsyncIterator[ArangoHttp]:
    async with ArangoHttp(standin["coordinator"], username=standin["username"],
                          password=standin["password"]) as http:
        yield http


def endpoint(info: dict[str, Any]) -> ArangoEndpoint:
    return ArangoEndpoint(info["coordinator"], username=info["username"], password=info["password"],
                          jwt_secret=info["jwt_secret"])


def source_settings(info: dict[str, Any], bootstrap: str, src: str, **overrides: Any) -> SourceSettings:
    values: dict[str, Any] = dict(
        src=src, kafka=bootstrap, arangodb=endpoint(info), structure_interval_s=0.5,
        heartbeat_interval_s=1.0, idle_min_s=0.02, idle_max_s=0.2, retry_pause_s=0.3)
    values.update(overrides)
    return SourceSettings(**values)


async def wait_until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, timeout: float = 60.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)


def all_live(component: SourceComponent, shards: list[str]) -> bool:
    return all(s in component.shards and component.shards[s].live for s in shards)


async def caught_up(component: SourceComponent, arango: ArangoHttp, shards: list[str]) -> None:
    """Wait until every shard is live and the tailers have passed the servers' current ticks."""
    await wait_until(lambda: all_live(component, shards), what=f"shards {shards} live")
    health = (await arango.request("GET", "/_admin/server/role")).json()["role"] == "SINGLE" or \
        (await arango.request("GET", "/_admin/cluster/health")).json()["Health"]
    servers = await component.cluster.data_servers()
    targets = {}
    for sid in servers:
        if health is not True and health[sid]["Status"] != "GOOD":
            continue  # a stopped server has nothing new to tail
        tick = (await component.cluster.client(sid).request("GET", "/_api/wal/lastTick")).json()["tick"]
        targets[sid] = int(tick)
    await wait_until(lambda: all(component.tail_positions.get(s, 0) >= t for s, t in targets.items()),
                     what="tailers at the servers' last ticks")


# -- writing to the source --------------------------------------------------------------------
async def create_collection(arango: ArangoHttp, db: str | None, name: str, shards: int = 3, **props: Any) -> list[str]:
    """Create a collection; its shard ids in hash-slot order (single server: ``c<id>``)."""
    body = {"name": name, "numberOfShards": shards, "replicationFactor": 2, **props}
    created = (await arango.request("POST", "/_api/collection", db=db, json=body)).json()
    role = (await arango.request("GET", "/_admin/server/role")).json()["role"]
    if role == "SINGLE":
        return [f"c{created['id']}"]
    listing = (await arango.request("GET", f"/_api/collection/{name}/shards", db=db)).json()["shards"]
    return sorted(listing, key=lambda s: int(s[1:]))


async def insert(arango: ArangoHttp, db: str | None, coll: str, docs: list[dict[str, Any]]) -> None:
    await arango.request("POST", f"/_api/document/{coll}", db=db, json=docs,
                         params={"overwriteMode": "replace"})


async def remove(arango: ArangoHttp, db: str | None, coll: str, keys: list[str]) -> None:
    await arango.request("DELETE", f"/_api/document/{coll}", db=db, json=keys)


# -- reading shard topics ---------------------------------------------------------------------
async def read_topic(bootstrap: str, topic: str) -> list[Envelope]:
    """Every committed message of a 1-partition topic, chunks reassembled."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        # An explicit seek: seek_to_beginning right after end_offsets resolved to the end here.
        consumer.seek(tp, (await consumer.beginning_offsets([tp]))[tp])
        reassembler = Reassembler()
        out: list[Envelope] = []
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                env = reassembler.feed(decode(record.value, list(record.headers)))
                if env is not None:
                    out.append(env)
        return out
    finally:
        await consumer.stop()


async def read_shards(bootstrap: str, src: str, shards: list[str]) -> dict[str, list[Envelope]]:
    return {s: await read_topic(bootstrap, shard_topic(src, s)) for s in shards}


async def read_control(bootstrap: str, src: str) -> list[Envelope]:
    return await read_topic(bootstrap, control_topic(src))


def assert_contiguous(envs: list[Envelope]) -> None:
    seqs = [e.seq for e in envs]
    assert seqs == list(range(1, len(envs) + 1)), f"seqs not contiguous from 1: {seqs[:50]}..."


def replay(envs: list[Envelope]) -> dict[str, dict[str, Any]]:
    """What a destination holding exactly this shard stream ends with (key -> document)."""
    state: dict[str, dict[str, Any]] = {}
    resynced: set[str] | None = None
    for env in envs:
        if env.op == Op.RESYNC_BEGIN:
            resynced = set()
        elif env.op == Op.RESYNC_DOC:
            assert env.doc is not None and resynced is not None
            state[env.doc["_key"]] = env.doc
            resynced.add(env.doc["_key"])
        elif env.op == Op.RESYNC_END:
            assert resynced is not None and (env.body or {}).get("full")
            state = {k: v for k, v in state.items() if k in resynced}
            resynced = None
        elif env.op == Op.INSERT:
            assert env.doc is not None
            state[env.doc["_key"]] = env.doc
        elif env.op == Op.REMOVE:
            state.pop(env.key or "", None)
        elif env.op == Op.TRUNCATE:
            state.clear()
    return state


def user_fields(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {f: v for f, v in d.items() if not f.startswith("_")} for k, d in docs.items()}


def replay_all(streams: dict[str, list[Envelope]]) -> dict[str, dict[str, Any]]:
    """Union of the replayed shards (user fields only); a key in two shards is an error."""
    out: dict[str, dict[str, Any]] = {}
    for envs in streams.values():
        for key, doc in user_fields(replay(envs)).items():
            assert key not in out, f"key {key} replayed in two shards"
            out[key] = doc
    return out


def change_ids(envs: list[Envelope]) -> list[tuple[str, str, str | None]]:
    """(server, tick, key) of every ordinary change message: unique unless something was resent."""
    return [(e.server or "", e.tick, e.key) for e in envs if e.op in (Op.INSERT, Op.REMOVE, Op.TRUNCATE)]
