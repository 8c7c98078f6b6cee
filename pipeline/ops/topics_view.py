"""What dc2dc's topics in one DC's Kafka hold: sizes, offsets, owners, and decoded messages.

Read-only: nothing here produces, creates or commits. A topic is recognised as dc2dc's only by
``topics.names.parse_topic``; its owner is what the name says (source DC, shard, flow). Offsets
count Kafka's transaction markers too, so ``messages`` is an upper bound of the records a
consumer sees. Messages are read ``read_committed``, as the destination workers read them.

Inspecting never stops at a bad record: one that does not decode or verify is shown with the
reason, since finding such records is what the command is for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import ConsumerRecord

from dc2dc.pipeline.source.fenced_writer import read_last_committed
from dc2dc.pipeline.topology import Datacenter, Topology, verifier_of_keys
from dc2dc.topics import codec
from dc2dc.topics.envelope import Op
from dc2dc.topics.errors import ConfigError, DecodeError, VerificationError
from dc2dc.topics.names import (TopicKind, TopicName, apply_group, control_group, feedback_group,
                                parse_topic)
from dc2dc.topics.signing import Verifier

_CONFIGS = ("retention.ms", "cleanup.policy")


@dataclass(frozen=True)
class GroupOffset:
    """A dc2dc consumer group's committed offset on one topic, summed over its partitions."""

    group: str
    committed: int
    lag: int


@dataclass(frozen=True)
class TopicInfo:
    name: str
    kind: TopicKind
    src: str
    dst: str | None
    shard: str | None
    partitions: int
    start_offset: int
    end_offset: int
    retention_ms: str | None
    cleanup_policy: str | None
    groups: list[GroupOffset] = field(default_factory=list)
    database: str | None = None     # shard topics: as the source's newest structure names them
    collection: str | None = None

    @property
    def messages(self) -> int:
        return self.end_offset - self.start_offset

    @property
    def owner(self) -> str:
        if self.kind is TopicKind.SHARD:
            where = f" ({self.database}/{self.collection})" if self.database is not None else ""
            return f"shard {self.shard} of {self.src}{where}"
        if self.kind in (TopicKind.FEEDBACK, TopicKind.FEEDBACK_PROBE):
            return f"flow {self.src} -> {self.dst}"
        return f"source {self.src}"


def group_names(topology: Topology, dc: str) -> list[str]:
    """The consumer groups dc2dc's workers use in ``dc``'s Kafka."""
    groups = []
    for src in topology.sources_of(dc):
        groups += [apply_group(src, dc), control_group(apply_group(src, dc))]
    if topology.targets_of(dc):
        groups.append(feedback_group(dc))
    return groups


async def list_topics(topology: Topology, dc: Datacenter) -> list[TopicInfo]:
    """Every dc2dc topic in ``dc``'s Kafka, sorted by name, with the offsets of dc2dc's groups."""
    async with _clients(dc) as (consumer, admin):
        named = {t: parsed for t in sorted(await consumer.topics()) if (parsed := parse_topic(t))}
        if not named:
            return []
        tps = await _partitions(admin, list(named))
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        configs = await _configs(admin, list(named))
        committed = {g: await admin.list_consumer_group_offsets(g) for g in group_names(topology, dc.id)}
        collections = await _collections_of(dc.kafka, [t for t, p in named.items() if p.kind is TopicKind.CONTROL])
        out = []
        for topic, parsed in named.items():
            mine = [tp for tp in tps if tp.topic == topic]
            groups = [GroupOffset(g, sum(offsets[tp].offset for tp in mine if tp in offsets),
                                  sum(ends[tp] - offsets[tp].offset for tp in mine if tp in offsets))
                      for g, offsets in committed.items() if any(tp in offsets for tp in mine)]
            database, collection = collections.get((parsed.src, parsed.shard), (None, None)) if parsed.shard \
                else (None, None)
            settings = configs.get(topic, {})
            out.append(TopicInfo(
                name=topic, kind=parsed.kind, src=parsed.src, dst=parsed.dst, shard=parsed.shard,
                partitions=len(mine), start_offset=sum(starts[tp] for tp in mine),
                end_offset=sum(ends[tp] for tp in mine), retention_ms=settings.get("retention.ms"),
                cleanup_policy=settings.get("cleanup.policy"), groups=groups,
                database=database, collection=collection))
        return out


async def _collections_of(bootstrap: str,
                          control_topics: list[str]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """``(src, shard) -> (database, collection)`` from each control topic's newest structure.

    Only a structure in one record is read: one sent in chunks is left out rather than read from
    its first chunk on, since the names are a convenience of the listing.
    """
    out: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for topic in control_topics:
        try:
            env = await read_last_committed(bootstrap, topic)
        except DecodeError:
            continue
        if env is None or env.op is not Op.STRUCTURE or not env.body:
            continue
        for db, spec in (env.body.get("databases") or {}).items():
            for coll, cspec in (spec.get("collections") or {}).items():
                out.update({(env.src, shard): (db, coll) for shard in cspec.get("shards") or ()})
    return out


@asynccontextmanager
async def _clients(dc: Datacenter) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaAdminClient]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=dc.kafka, group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    admin = AIOKafkaAdminClient(bootstrap_servers=dc.kafka)
    await consumer.start()
    try:
        await admin.start()
        try:
            yield consumer, admin
        finally:
            await admin.close()
    finally:
        await consumer.stop()


async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    # Asked of the admin client: a consumer knows partitions only of topics it has fetched or joined.
    described = await admin.describe_topics(topics)
    return sorted(TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"])


async def _configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, t, dict.fromkeys(_CONFIGS)) for t in topics])
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for code, _message, _type, name, entries, *_ in response.resources:
            if not code:
                out[name] = {e[0]: e[1] for e in entries}
    return out


@dataclass(frozen=True)
class MessageView:
    """One record as dc2dc reads it; ``error`` says why it could not be decoded (fields then None)."""

    partition: int
    offset: int
    time_ms: int
    size: int
    signature: str              # "verified", "UNSIGNED", "FORGED: <reason>", or "unchecked (...)"
    op: str | None = None
    seq: int | None = None
    gen: int | None = None
    epoch: int | None = None
    tick: str | None = None
    key: str | None = None
    shard: str | None = None
    error: str | None = None

    @property
    def time(self) -> str:
        return datetime.fromtimestamp(self.time_ms / 1000, timezone.utc).isoformat(timespec="milliseconds")


def verifier_of(topology: Topology, topic: TopicName) -> Verifier | None:
    """The verifier of the DC that signs ``topic``, None when the topology names no verify_key for it."""
    signer = topology.dcs.get(topic.signer)
    if signer is None or not signer.verify_key:
        return None
    return verifier_of_keys([signer])


def signature_of(record: ConsumerRecord, verifier: Verifier | None, parsed: TopicName) -> str:
    headers = list(record.headers or ())
    names = {name for name, _ in headers}
    if not names & {codec.H_KID, codec.H_SIG}:
        return "UNSIGNED"
    if verifier is None:
        return f"unchecked (no verify_key for {parsed.signer})"
    try:
        verifier.verify(record.value, headers, expected_shard=parsed.shard)
    except VerificationError as e:
        return f"FORGED: {e}"
    return "verified"


def view_of(record: ConsumerRecord, verifier: Verifier | None, parsed: TopicName) -> MessageView:
    seen = dict(partition=record.partition, offset=record.offset, time_ms=record.timestamp,
                size=len(record.value or b""), signature=signature_of(record, verifier, parsed))
    try:
        env = codec.decode(record.value, list(record.headers or ()))
    except DecodeError as e:
        return MessageView(**seen, error=str(e))
    return MessageView(**seen, op=env.op.value, seq=env.seq, gen=env.gen, epoch=env.epoch, tick=env.tick,
                       key=env.key, shard=env.shard)


async def inspect_topic(topology: Topology, dc: Datacenter, topic: str, *, from_offset: int | None = None,
                        since_ms: int | None = None, limit: int = 20) -> list[MessageView]:
    """Up to ``limit`` records of ``topic`` in ``dc``'s Kafka per partition, from an offset, a time or the start."""
    parsed = parse_topic(topic)
    if parsed is None:
        raise ConfigError(f"{topic!r} is not a dc2dc topic name")
    verifier = verifier_of(topology, parsed)
    async with _clients(dc) as (consumer, admin):
        if topic not in await consumer.topics():
            raise ConfigError(f"no topic {topic!r} in the Kafka of DC {dc.id} ({dc.kafka})")
        tps = await _partitions(admin, [topic])
        consumer.assign(tps)
        starts = await _start_offsets(consumer, tps, from_offset, since_ms)
        ends = await consumer.end_offsets(tps)
        out: list[MessageView] = []
        for tp in tps:
            out += await _read(consumer, tp, starts[tp], ends[tp], limit, verifier, parsed)
        return out


async def _start_offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition], from_offset: int | None,
                         since_ms: int | None) -> dict[TopicPartition, int]:
    firsts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    if since_ms is not None:
        found = await consumer.offsets_for_times({tp: since_ms for tp in tps})
        # No record at or after that time: start at the end, so nothing older is shown.
        return {tp: found[tp].offset if found.get(tp) else ends[tp] for tp in tps}
    return {tp: max(firsts[tp], from_offset or 0) for tp in tps}


async def _read(consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int, limit: int,
                verifier: Verifier | None, parsed: TopicName) -> list[MessageView]:
    consumer.seek(tp, start)
    out: list[MessageView] = []
    while len(out) < limit and await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=limit - len(out))
        if not batch.get(tp):
            break
        out += [view_of(record, verifier, parsed) for record in batch[tp]]
    return out
