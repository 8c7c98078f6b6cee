"""The two-DC Kafka backbone with real KRaft brokers and real MirrorMaker 2 processes.

Messages carry their sequence number (1..N) in a header and in the value, so what arrives can
be checked for order, loss and duplicates exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from dc2dc.devcluster import kafka
from dc2dc.devcluster.up import DevEnvironment
from dc2dc.mirrormaker.config import mm2_properties
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES
from dc2dc.topics.names import control_topic, feedback_topic, shard_topic

# A topic MM2 has not yet discovered appears within a few refresh intervals (2 s).
ARRIVAL_TIMEOUT = 120.0
REFRESH_GRACE = 8.0


@dataclass(frozen=True)
class Received:
    seq: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def message(seq: int, run: str) -> Received:
    return Received(seq, f"key-{seq % 97}".encode(),
                    json.dumps({"seq": seq, "run": run, "pad": "x" * (seq % 50)}).encode(),
                    (("seq", str(seq).encode()), ("run", run.encode()), ("empty", b"")))


async def create_topic(bootstrap: str, topic: str, configs: dict[str, str] | None = None) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs=configs or {})])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        [(_code, _msg, _type, _name, entries)] = response.resources
        return {entry[0]: entry[1] for entry in entries}
    finally:
        await admin.close()


async def alter_topic(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


async def topics_of(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, messages: list[Received], *, per_second: float | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                max_request_size=MAX_MESSAGE_BYTES)
    await producer.start()
    try:
        started = time.monotonic()
        for i, m in enumerate(messages):
            await producer.send(topic, m.value, key=m.key, headers=list(m.headers))
            if per_second and i % 100 == 99:
                await producer.flush()
                ahead = started + (i + 1) / per_second - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await producer.flush()
    finally:
        await producer.stop()


class Collector:
    """Reads one single-partition topic from its beginning into ``received`` (in arrival order)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.received: list[Received] = []
        self._task: asyncio.Task | None = None

    def seqs(self) -> set[int]:
        return {m.seq for m in self.received}

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def wait_for(self, done: Callable[[], bool], timeout: float = ARRIVAL_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert self._task is not None
            if self._task.done():
                self._task.result()  # raises what made the reader stop
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: condition not met after {timeout:.0f} s; "
                                     f"{len(self.received)} received, {len(self.seqs())} distinct")
            await asyncio.sleep(0.1)

    async def _run(self) -> None:
        while self.topic not in await topics_of(self.bootstrap):
            await asyncio.sleep(0.5)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    isolation_level="read_committed", auto_offset_reset="earliest")
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            async for record in consumer:
                headers = tuple(record.headers)
                self.received.append(Received(int(dict(headers)["seq"]), record.key, record.value, headers))
        finally:
            await consumer.stop()


def check_order_and_completeness(received: list[Received], sent: list[Received]) -> int:
    """Every sent message arrived unchanged, never ahead of its turn; returns the duplicate count."""
    by_seq = {m.seq: m for m in sent}
    highest = 0
    for m in received:
        assert m.seq <= highest + 1, f"seq {m.seq} arrived right after {highest}: order broken or a gap"
        assert m == by_seq[m.seq], f"seq {m.seq} arrived altered"
        highest = max(highest, m.seq)
    assert {m.seq for m in received} == set(by_seq), "messages are missing"
    return len(received) - len(sent)


# -- configuration agrees across broker and MM2 ------------------------------------------------


def test_message_size_limit_is_the_same_for_broker_and_mirrormaker(kafka_two_dc: DevEnvironment) -> None:
    broker = kafka.broker_properties(kafka_two_dc.brokers["B"])
    assert int(broker["message.max.bytes"]) == int(broker["replica.fetch.max.bytes"]) == MAX_MESSAGE_BYTES
    props = mm2_properties(kafka_two_dc.topology(), "B")
    for dc in ("A", "B"):
        assert int(props[f"{dc}.producer.max.request.size"]) == MAX_MESSAGE_BYTES
        assert int(props[f"{dc}.consumer.max.partition.fetch.bytes"]) == MAX_MESSAGE_BYTES


# -- A -> B ------------------------------------------------------------------------------------


async def test_a_shard_topic_arrives_in_b_with_its_configuration_and_all_messages_in_order(
        kafka_two_dc: DevEnvironment) -> None:
    a, b = kafka_two_dc.bootstrap("A"), kafka_two_dc.bootstrap("B")
    topic = shard_topic("A", unique("s"))
    await create_topic(a, topic, {"retention.ms": "604800001", "cleanup.policy": "delete",
                                  "max.message.bytes": str(MAX_MESSAGE_BYTES)})
    sent = [message(seq, topic) for seq in range(1, 10_001)]

    async with Collector(b, topic) as in_b:
        await produce(a, topic, sent)
        await in_b.wait_for(lambda: len(in_b.received) >= len(sent))

    assert in_b.received == sent  # same order, keys, values and headers; nothing more
    configs = await topic_configs(b, topic)
    assert configs["retention.ms"] == "604800001"
    assert configs["cleanup.policy"] == "delete"
    assert configs["max.message.bytes"] == str(MAX_MESSAGE_BYTES)

    # Later changes in A follow too (periodic config sync).
    await alter_topic(a, topic, {"retention.ms": "86400000", "cleanup.policy": "delete",
                                 "max.message.bytes": str(MAX_MESSAGE_BYTES)})
    deadline = time.monotonic() + 60
    while (await topic_configs(b, topic))["retention.ms"] != "86400000":
        assert time.monotonic() < deadline, "retention.ms changed in A never reached B"
        await asyncio.sleep(1)


# -- B -> A: feedback only ----------------------------------------------------------------------


async def test_feedback_flows_to_a_and_nothing_flows_back_the_wrong_way(kafka_two_dc: DevEnvironment) -> None:
    a, b = kafka_two_dc.bootstrap("A"), kafka_two_dc.bootstrap("B")
    feedback = feedback_topic("A", "B")
    run = unique("fb")
    await create_topic(b, feedback)
    # Topics named like A's own, but written in B: must never reach A.
    stray_shard = shard_topic("A", unique("stray"))
    await create_topic(b, stray_shard)
    await create_topic(b, control_topic("A"))
    sent = [message(seq, run) for seq in range(1, 201)]

    def ours(collector: Collector) -> list[Received]:
        return [m for m in collector.received if dict(m.headers)["run"] == run.encode()]

    async with Collector(a, feedback) as in_a, Collector(b, feedback) as in_b:
        await produce(b, feedback, sent)
        await produce(b, stray_shard, sent[:10])
        await in_a.wait_for(lambda: len(ours(in_a)) >= len(sent))
        # Give a wrongly configured A->B pair several topic refreshes to copy A's copy back.
        await asyncio.sleep(REFRESH_GRACE)
        assert ours(in_a) == sent
        assert ours(in_b) == sent, "feedback was mirrored back into B"

    topics_in_a = await topics_of(a)
    assert stray_shard not in topics_in_a
    assert control_topic("A") not in topics_in_a


# -- failures while mirroring -----------------------------------------------------------------


async def stream_through(env: DevEnvironment, disrupt: Callable[[], None], label: str) -> int:
    """Stream 10,000 messages A -> B and run ``disrupt`` (blocking) once a third has arrived."""
    a, b = env.bootstrap("A"), env.bootstrap("B")
    topic = shard_topic("A", unique(label))
    await create_topic(a, topic)
    sent = [message(seq, topic) for seq in range(1, 10_001)]
    async with Collector(b, topic) as in_b:
        producing = asyncio.create_task(produce(a, topic, sent, per_second=1000))
        await in_b.wait_for(lambda: len(in_b.seqs()) >= len(sent) // 3)
        await asyncio.to_thread(disrupt)
        await producing
        await in_b.wait_for(lambda: len(in_b.seqs()) == len(sent))
        await asyncio.sleep(1)  # anything still in flight shows up as a duplicate, not unnoticed
    duplicates = check_order_and_completeness(in_b.received, sent)
    print(f"\n{label}: {len(sent)} messages, {duplicates} duplicates, none missing, order kept")
    return duplicates


async def test_kill_9_of_mirrormaker_mid_stream_loses_nothing_and_keeps_order(kafka_two_dc: DevEnvironment) -> None:
    def crash_and_restart() -> None:
        kafka_two_dc.kill_mirrormaker("B")
        kafka_two_dc.start_mirrormaker("B")

    duplicates = await stream_through(kafka_two_dc, crash_and_restart, "mm2kill")
    if kafka_two_dc.spec.mirror_settings.exactly_once:
        # The records MM2 wrote after its last commit were aborted; read_committed never sees them.
        assert duplicates == 0


async def test_restart_of_the_destination_broker_mid_stream_loses_nothing_and_keeps_order(
        kafka_two_dc: DevEnvironment) -> None:
    duplicates = await stream_through(kafka_two_dc, lambda: kafka_two_dc.restart_broker("B"), "brokerrestart")
    if kafka_two_dc.spec.mirror_settings.exactly_once:
        assert duplicates == 0


# -- three clusters -----------------------------------------------------------------------------


async def mirrors(src: str, dst: str, topic: str) -> None:
    """A fresh message written to ``topic`` in ``src`` arrives in ``dst``."""
    await create_topic(src, topic)
    sent = [message(1, unique("m"))]
    async with Collector(dst, topic) as there:
        await produce(src, topic, sent)
        await there.wait_for(lambda: sent[0] in there.received)


async def test_a_chain_mirrors_each_hop_with_its_feedback(backbone_factory) -> None:
    env = backbone_factory(("A", "B", "C"), (("A", "B"), ("B", "C")))
    a, b, c = (env.bootstrap(dc) for dc in "ABC")
    assert sorted(env.mirrormakers) == ["A", "B", "C"]
    a_shard, b_shard = shard_topic("A", unique("s")), shard_topic("B", unique("s"))
    await asyncio.gather(mirrors(a, b, a_shard), mirrors(b, c, b_shard),
                         mirrors(c, b, feedback_topic("B", "C")), mirrors(b, a, feedback_topic("A", "B")))
    # Each hop carries its own source's topics only: C gets B's (re-published) data, not A's.
    await asyncio.sleep(REFRESH_GRACE)
    assert a_shard not in await topics_of(c)


async def test_a_fan_out_mirrors_to_both_destinations(backbone_factory) -> None:
    env = backbone_factory(("A", "B", "C"), (("A", "B"), ("A", "C")))
    a, b, c = (env.bootstrap(dc) for dc in "ABC")
    topic = shard_topic("A", unique("s"))
    await asyncio.gather(mirrors(a, b, topic), mirrors(a, c, topic),
                         mirrors(b, a, feedback_topic("A", "B")), mirrors(c, a, feedback_topic("A", "C")))


# -- the command line -------------------------------------------------------------------------


def dc2dc(*args: str) -> subprocess.CompletedProcess:
    """Run the installed ``dc2dc`` console script of this interpreter's environment."""
    return subprocess.run([str(Path(sys.executable).with_name("dc2dc")), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_dev_up_json_status_and_down_even_after_a_crashed_up(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    up = dc2dc("dev", "up", "--json", "--state-dir", str(state))
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        assert info["state_dir"] == str(state)
        assert Path(info["topology"]).is_file()
        assert set(info["dcs"]) == {"A", "B"}
        for dc in ("A", "B"):
            assert info["dcs"][dc]["kafka"]["bootstrap"].startswith("127.0.0.1:")
            assert info["dcs"][dc]["arangodb"]["coordinator"].startswith("http://127.0.0.1:")
        assert info["mirrormaker"]["B"]["pairs"] == ["A->B"]
        assert info["mirrormaker"]["A"]["pairs"] == ["B->A"]
        pids = [info["dcs"][dc]["kafka"]["pid"] for dc in "AB"] + \
               [info["mirrormaker"][dc]["pid"] for dc in "AB"] + [info["dcs"][dc]["arangodb"]["pid"] for dc in "AB"]

        status = json.loads(dc2dc("dev", "status", "--json", "--state-dir", str(state)).stdout)
        assert status["running"] and all(p["running"] for p in status["processes"])

        # As if `up` had crashed before recording the environment: pid files alone must do.
        (state / "environment.json").unlink()
    finally:
        down = dc2dc("dev", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    time.sleep(0.5)
    still = [pid for pid in pids if _running(pid)]
    assert still == [], f"processes survived `dev down`: {still}"
    assert not json.loads(dc2dc("dev", "status", "--json", "--state-dir", str(state)).stdout)["running"]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"

