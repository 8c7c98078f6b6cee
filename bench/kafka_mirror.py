"""Kafka baseline: throughput and latency of produce -> A -> MirrorMaker 2 -> B -> consume.

Starts its own two-DC backbone (``devcluster/up.py``, no ArangoDB), writes fixed-size messages
to a shard topic in A at a target rate, and reads them both in A (direct) and in B (mirrored).
Each value starts with its send time, so latency is measured per message on one clock. The
difference of the two latencies is what MM2 adds. Prints one JSON object.

    python bench/kafka_mirror.py [--rate 5000] [--seconds 30] [--size 1024] [--warmup 5] [--at-least-once]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import struct
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka import Producer

from dc2dc.devcluster.up import DevEnvironment, EnvSpec, start_environment
from dc2dc.mirrormaker.config import MirrorSettings
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES
from dc2dc.topics.names import shard_topic

_STAMP = struct.Struct(">qq")  # send time (ns, monotonic), sequence number


class Reader:
    """Reads the topic from its beginning; keeps the latency of every message past the warm-up."""

    def __init__(self, bootstrap: str, topic: str, first_measured: int) -> None:
        self.bootstrap, self.topic, self.first_measured = bootstrap, topic, first_measured
        self.latencies_ms: list[float] = []
        self.count = 0
        self.last_arrival = 0.0

    async def run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            while self.topic not in await admin.list_topics():
                await asyncio.sleep(0.2)
        finally:
            await admin.close()
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    isolation_level="read_committed", fetch_max_wait_ms=50)
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            while True:
                batches = await consumer.getmany(tp, timeout_ms=200)
                now = time.monotonic_ns()
                for record in batches.get(tp, []):
                    sent_ns, seq = _STAMP.unpack_from(record.value)
                    self.count += 1
                    if seq >= self.first_measured:
                        self.latencies_ms.append((now - sent_ns) / 1e6)
                if batches:
                    self.last_arrival = time.monotonic()
        finally:
            await consumer.stop()


def produce(bootstrap: str, topic: str, *, rate: float, seconds: float, size: int) -> tuple[int, float]:
    """Paced producer on librdkafka (confluent-kafka): cheap enough per message to hold the rate."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
                         "message.max.bytes": MAX_MESSAGE_BYTES})
    padding = b"x" * (size - _STAMP.size)
    total = int(rate * seconds)
    started = time.monotonic()
    for seq in range(total):
        producer.produce(topic, _STAMP.pack(time.monotonic_ns(), seq) + padding, key=b"k%d" % (seq % 1000))
        if seq % 50 == 49:
            producer.poll(0)
            ahead = started + (seq + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    if producer.flush(60) != 0:
        raise RuntimeError("the benchmark producer could not deliver every message")
    return total, time.monotonic() - started


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p99": round(cuts[98], 2), "max": round(max(values), 2)}


async def measure(env: DevEnvironment, *, rate: float, seconds: float, size: int, warmup: float) -> dict:
    topic = shard_topic("A", f"bench-{uuid.uuid4().hex[:8]}")
    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap("A"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    first_measured = int(rate * warmup)
    direct = Reader(env.bootstrap("A"), topic, first_measured)
    mirrored = Reader(env.bootstrap("B"), topic, first_measured)
    readers = [asyncio.create_task(direct.run()), asyncio.create_task(mirrored.run())]
    # Let MM2 discover the topic before the clock starts: discovery is not steady-state latency.
    while topic not in await _topics(env.bootstrap("B")):
        await asyncio.sleep(0.2)
    sent, elapsed = await _produce_elsewhere(env.bootstrap("A"), topic, rate=rate, seconds=warmup + seconds,
                                             size=size)
    deadline = time.monotonic() + 60
    while mirrored.count < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    direct_p, mirrored_p = percentiles(direct.latencies_ms), percentiles(mirrored.latencies_ms)
    return {
        "message_bytes": size,
        "target_rate_msg_s": rate,
        "measured_seconds": seconds,
        "warmup_seconds": warmup,
        "sent": sent,
        "produce_rate_msg_s": round(sent / elapsed, 1),
        "received_direct_a": direct.count,
        "received_mirrored_b": mirrored.count,
        "latency_ms_direct_a": direct_p,
        "latency_ms_mirrored_b": mirrored_p,
        "mm2_adds_ms": {k: round(mirrored_p[k] - direct_p[k], 2) for k in ("p50", "p99")},
    }


async def _produce_elsewhere(bootstrap: str, topic: str, *, rate: float, seconds: float,
                             size: int) -> tuple[int, float]:
    """Produce from a child process: one Python process cannot write and read 5,000 msg/s twice.

    CLOCK_MONOTONIC is system-wide, so the child's send stamps compare with our arrival times.
    """
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pending = pool.apply_async(produce, (bootstrap, topic), {"rate": rate, "seconds": seconds, "size": size})
        while not pending.ready():
            await asyncio.sleep(0.2)
        return pending.get()


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured duration")
    parser.add_argument("--size", type=int, default=1024, help="message value size in bytes")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds sent before measuring")
    parser.add_argument("--at-least-once", action="store_true", help="MM2 without exactly-once delivery")
    args = parser.parse_args()
    settings = MirrorSettings(exactly_once=not args.at_least_once)
    with tempfile.TemporaryDirectory(prefix="dc2dc-bench-") as tmp:
        env = start_environment(EnvSpec(Path(tmp) / "dev", arangodb=False, mirror_settings=settings))
        try:
            result = asyncio.run(measure(env, rate=args.rate, seconds=args.seconds, size=args.size,
                                         warmup=args.warmup))
            result["mm2_delivery"] = "at-least-once" if args.at_least_once else "exactly-once"
        finally:
            env.stop()
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
