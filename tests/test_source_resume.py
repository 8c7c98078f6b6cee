"""Resuming, recovering and re-synchronising the source side, with writes going on.

Kafka is the source side's only checkpoint store: a restarted worker (after a clean stop or a
SIGKILL) fences the old producers, reads each shard topic's last committed message and goes
on from there — no second copy of a change, no seq gap. A purged WAL and a leader move are
answered with a resync of the shard, never with a skip.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from dc2dc.agents.source import SourceComponent, SourceSettings
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.source.shard_producer import ShardFenced
from dc2dc.pipeline.source.snapshot_sync import SyncSettings
from dc2dc.topics.codec import encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import feedback_topic
from dc2dc.topics.signing import Signer, Verifier, generate_keypair, load_private_key, load_public_key
from source_helpers import (  # noqa: F401 - fixtures
    arango,
    assert_contiguous,
    bootstrap,
    caught_up,
    change_ids,
    create_collection,
    insert,
    new_dc_id,
    read_shards,
    replay_all,
    source_settings,
    standin,
    wait_until,
)

DB = "resume"


class Writer:
    """Updates random-ish keys of one collection until stopped, keeping the expected state."""

    def __init__(self, arango: ArangoHttp, coll: str, keys: int) -> None:
        self.arango, self.coll, self.keys = arango, coll, keys
        self.model: dict[str, dict[str, Any]] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.round = 0

    async def fill(self) -> None:
        docs = [{"_key": f"k{i}", "r": 0} for i in range(self.keys)]
        await insert(self.arango, DB, self.coll, docs)
        self.model.update({d["_key"]: {"r": 0} for d in docs})

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self.step()
            await asyncio.sleep(0.01)

    async def step(self) -> None:
        self.round += 1
        docs = [{"_key": f"k{(self.round * 13 + j) % self.keys}", "r": self.round} for j in range(4)]
        await insert(self.arango, DB, self.coll, docs)
        self.model.update({d["_key"]: {"r": self.round} for d in docs})

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def setup(arango: ArangoHttp, shards: int = 6, keys: int = 60) -> tuple[list[str], Writer]:
    await arango.request("POST", "/_api/database", json={"name": DB})
    shard_ids = await create_collection(arango, DB, "c", shards=shards)
    writer = Writer(arango, "c", keys)
    await writer.fill()
    return shard_ids, writer


def spawn_worker(settings: SourceSettings, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A source worker in its own process group, to be killed with SIGKILL."""
    raw = asdict(settings)
    for key in ("topics", "signer", "feedback_verifier"):
        raw.pop(key)
    raw["arangodb"].pop("ssl")
    with open(tmp_path / "worker.log", "ab") as log:
        return subprocess.Popen([sys.executable, str(Path(__file__).parent / "source_worker_proc.py"),
                                 orjson.dumps(raw).decode()], stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)


def assert_resumed_cleanly(streams: dict[str, list[Envelope]], model: dict[str, Any]) -> None:
    for shard, envs in streams.items():
        assert_contiguous(envs)
        reasons = [e.body["reason"] for e in envs if e.op == Op.RESYNC_BEGIN]
        assert reasons == ["initial"], f"{shard}: resyncs {reasons}; a resume needs none"
        ids = change_ids(envs)
        assert len(ids) == len(set(ids)), f"{shard}: a change was sent twice"
    assert replay_all(streams) == model


async def test_a_clean_restart_resumes_from_the_topics_without_duplicates(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    shards, writer = await setup(arango)
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src)
    writer.start()
    try:
        async with SourceComponent(settings) as first:
            await caught_up(first, arango, shards)
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)  # changes while no worker runs
        async with SourceComponent(settings) as second:
            assert all(second.shards[s].live for s in shards), "resumed shards need no resync"
            await asyncio.sleep(0.5)
            await writer.stop()
            await caught_up(second, arango, shards)
    finally:
        await writer.stop()
    assert_resumed_cleanly(await read_shards(bootstrap, src, shards), writer.model)


async def test_a_killed_worker_is_fenced_and_its_successor_resumes_without_duplicates(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, tmp_path: Path) -> None:
    shards, writer = await setup(arango)
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src)
    proc = spawn_worker(settings, tmp_path)
    writer.start()
    try:
        async def synced() -> bool:
            streams = await read_shards(bootstrap, src, shards)
            return all(any(e.op == Op.RESYNC_END for e in envs) and envs[-1].op != Op.RESYNC_END
                       for envs in streams.values())
        await wait_until(synced, what="the first worker to sync and stream every shard")
        await asyncio.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        await asyncio.sleep(0.3)
        async with SourceComponent(settings) as successor:
            await asyncio.sleep(0.5)
            await writer.stop()
            await caught_up(successor, arango, shards)
    finally:
        await writer.stop()
    assert_resumed_cleanly(await read_shards(bootstrap, src, shards), writer.model)


async def test_a_worker_killed_during_the_initial_sync_is_followed_by_a_complete_new_resync(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, tmp_path: Path) -> None:
    shards, writer = await setup(arango, shards=1, keys=3000)
    src = new_dc_id()
    slow = SyncSettings(docs_per_txn=20, dump_chunk_bytes=2048)
    proc = spawn_worker(source_settings(standin, bootstrap, src, sync=slow), tmp_path)
    try:
        async def dumping() -> bool:
            (envs,) = (await read_shards(bootstrap, src, shards)).values()
            return any(e.op == Op.RESYNC_DOC for e in envs)
        await wait_until(dumping, what="the dump to be under way")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (cut,) = (await read_shards(bootstrap, src, shards)).values()
    assert cut[-1].op == Op.RESYNC_DOC, "killed in the middle of the dump"
    writer.start()
    try:
        async with SourceComponent(source_settings(standin, bootstrap, src)) as successor:
            await caught_up(successor, arango, shards)
            await writer.stop()
            await caught_up(successor, arango, shards)
    finally:
        await writer.stop()

    (envs,) = (await read_shards(bootstrap, src, shards)).values()
    assert_contiguous(envs)
    assert [e.body["reason"] for e in envs if e.op == Op.RESYNC_BEGIN] == ["initial", "interrupted"]
    assert replay_all({shards[0]: envs}) == writer.model


async def test_a_purged_wal_gives_a_resync_never_a_skip(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    shards, writer = await setup(arango, shards=2)
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src)
    async with SourceComponent(settings) as first:
        await caught_up(first, arango, shards)
    for _ in range(10):
        await writer.step()  # written while no one tails ...
    await arango.request("PUT", "/_admin/standin/wal-purge", json={"keep": 0})  # ... and gone from the WAL
    await writer.step()
    async with SourceComponent(settings) as second:
        await caught_up(second, arango, shards)
        await writer.step()
        await caught_up(second, arango, shards)
        assert second.stats["position_lost"] >= 1

    streams = await read_shards(bootstrap, src, shards)
    for envs in streams.values():
        assert_contiguous(envs)
    reasons = {s: [e.body["reason"] for e in envs if e.op == Op.RESYNC_BEGIN] for s, envs in streams.items()}
    assert all(r[0] == "initial" and "wal_purged" in r for r in reasons.values()), reasons
    assert replay_all(streams) == writer.model


async def test_a_leader_move_keeps_every_change(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    shards, writer = await setup(arango, shards=2)
    src = new_dc_id()
    writer.start()
    try:
        async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
            await caught_up(source, arango, shards)
            old_leader = source.shards[shards[0]].server
            moved = (await arango.request("PUT", "/_admin/standin/move-leader",
                                          json={"database": DB, "shard": shards[0]})).json()
            await wait_until(lambda: source.shards[shards[0]].live
                             and source.shards[shards[0]].server not in (None, old_leader),
                             what="the shard to stream from its new leader")
            await asyncio.sleep(0.5)
            await writer.stop()
            await caught_up(source, arango, shards)
            new_leader = source.shards[shards[0]].server
    finally:
        await writer.stop()

    assert moved["shard"] == shards[0] and new_leader != old_leader
    streams = await read_shards(bootstrap, src, shards)
    for envs in streams.values():
        assert_contiguous(envs)
    moved_stream = streams[shards[0]]
    begin = max(i for i, e in enumerate(moved_stream) if e.op == Op.RESYNC_BEGIN)
    assert moved_stream[begin].body["reason"] == "leader_move"
    assert moved_stream[begin].server == new_leader
    assert all(e.server == new_leader for e in moved_stream[begin:])
    assert replay_all(streams) == writer.model


async def test_a_failed_leader_is_replaced_by_its_follower_without_losing_a_change(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    shards, writer = await setup(arango, shards=3)
    src = new_dc_id()
    writer.start()
    try:
        async with SourceComponent(source_settings(standin, bootstrap, src)) as source:
            await caught_up(source, arango, shards)
            victim = source.shards[shards[0]].server
            assert victim is not None
            await arango.request("PUT", f"/_admin/standin/dbserver/{victim}/stop")
            await wait_until(lambda: all(source.shards[s].live and source.shards[s].server != victim
                                         for s in shards),
                             what="every shard streaming from a running leader")
            await asyncio.sleep(0.5)
            await writer.stop()
            await caught_up(source, arango, shards)
            assert source._failure is None
    finally:
        await writer.stop()

    streams = await read_shards(bootstrap, src, shards)
    for envs in streams.values():
        assert_contiguous(envs)
    reasons = [e.body["reason"] for e in streams[shards[0]] if e.op == Op.RESYNC_BEGIN]
    assert reasons == ["initial", "leader_move"]
    assert replay_all(streams) == writer.model


async def test_a_signed_resync_request_from_a_destination_resyncs_that_shard_and_a_forged_one_does_not(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, tmp_path: Path) -> None:
    shards, writer = await setup(arango, shards=2, keys=20)
    private, public = generate_keypair(tmp_path, "B")
    signer = Signer("B", load_private_key(private))
    verifier = Verifier({"B": load_public_key(public)})
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src, destinations=("B",), feedback_verifier=verifier)
    request = Envelope(op=Op.RESYNC_REQUEST, src=src, seq=1, body={"dst": "B", "shard": shards[1], "reason": "seq gap"})
    async with SourceComponent(settings) as source:
        await caught_up(source, arango, shards)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            value, headers = encode(request)
            await producer.send_and_wait(feedback_topic(src, "B"), value=value, headers=headers)
            await wait_until(lambda: source.feedback.quarantine.total == 1, what="the unsigned request refused")
            assert source.stats["resync_gap"] == 0
            await producer.send_and_wait(feedback_topic(src, "B"), value=value, headers=signer.sign(value, headers))
        finally:
            await producer.stop()
        await wait_until(lambda: source.stats["resync_gap"] == 1, what="the requested resync to start")
        await caught_up(source, arango, shards)

    streams = await read_shards(bootstrap, src, shards)
    assert [e.body["reason"] for e in streams[shards[1]] if e.op == Op.RESYNC_BEGIN] == ["initial", "gap"]
    assert [e.body["reason"] for e in streams[shards[0]] if e.op == Op.RESYNC_BEGIN] == ["initial"]
    assert_contiguous(streams[shards[1]])
    assert replay_all(streams) == writer.model


async def test_a_second_worker_fences_the_first_which_stops_instead_of_fighting_back(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str) -> None:
    shards, writer = await setup(arango, shards=3)
    src = new_dc_id()
    settings = source_settings(standin, bootstrap, src)
    writer.start()
    try:
        async with SourceComponent(settings) as zombie:
            await caught_up(zombie, arango, shards)
            async with SourceComponent(settings) as owner:
                with pytest.raises(ShardFenced):
                    await asyncio.wait_for(zombie.wait(), timeout=30)
                await asyncio.sleep(0.5)
                await writer.stop()
                await caught_up(owner, arango, shards)
    finally:
        await writer.stop()
    assert_resumed_cleanly(await read_shards(bootstrap, src, shards), writer.model)
