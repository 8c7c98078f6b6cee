"""MirrorMaker 2 configuration generated from the topology.

Which pairs are mirrored, and why they look as they do:

* Every flow ``A -> B`` yields two replication pairs: the forward pair ``A->B`` (A's control and
  shard topics, :func:`~dc2dc.topics.names.forward_topics_regex`) and the feedback pair ``B->A``
  (only ``dc2dc.A.feedback.B``). Every other pair between the listed clusters is disabled
  explicitly. A topology never holds a cycle, so an ordered pair has exactly one role.
* Topic filters are the exact regexes of ``topics/names.py`` and nothing else: MM2's default
  ``topics.exclude`` is cleared because it would silently drop e.g. the feedback topic of a DC
  named ``x-internal`` or ``replica``; our regexes never match MM2's own internal topics.
* One MM2 process runs *in each DC that receives a pair* (the documented dedicated-mode layout:
  consume remotely, produce locally, started with ``--clusters <dc>``). Its configuration holds
  only the pairs into that DC (``dc=...``); without ``dc`` the whole topology is rendered, which
  every DC's process can share when started with its own ``--clusters``.
* IdentityReplicationPolicy at top level so topic names stay the same on both sides (the
  workers address topics by name; the topology refuses cycles, which this policy cannot detect).
* The source consumer reads ``read_committed``: dc2dc's shard producers are transactional, and
  MM2 does not copy transaction markers, so an aborted record read uncommitted would become a
  committed record in the destination.
* Heartbeats are off: they would make MM2 start a herder for every pair, including the disabled
  ones. Checkpoints stay on (MM2 refuses a checkpoint connector without them) but group offsets
  are not synced: positions live in the destination ArangoDB (``ARCHITECTURE.md``, "Positions"), and Kafka
  offsets there are only a hint. Offset syncs are written in the target, so MM2 only ever
  writes into the DC it runs in.
* Delivery is exactly-once into the target (KIP-618, dedicated MM2 since Kafka 3.5): the target
  worker runs with ``exactly.once.source.support=enabled``, so mirrored records and MM2's source
  offsets commit in one transaction and a ``kill -9`` of MM2 neither loses nor repeats a record.
  It needs MM2's internal REST listener (one per process) and transactions on the target
  brokers, and every consumer in the target must read ``read_committed`` (what a crashed MM2
  wrote and never committed is aborted, not deleted). An MM2 that already ran at-least-once
  against existing clusters must first run with ``preparing`` (Kafka docs, "Exactly once").
  ``MirrorSettings(exactly_once=False)`` falls back to at-least-once: a restart re-sends what was
  mirrored after the last offset flush; appliers deduplicate by ``seq`` either way.
  Order per partition is kept in both modes (at-least-once: one request in flight; exactly-once:
  the idempotent producer).
"""

from __future__ import annotations

from dataclasses import dataclass

from dc2dc.pipeline.topology import Topology, TopologyError

# One limit for everything: topics' max.message.bytes, producers' max_request_size, the
# brokers' message.max.bytes and MM2's producer and consumer sizes below.
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES
from dc2dc.topics.errors import ConfigError
from dc2dc.topics.names import feedback_topics_regex, forward_topics_regex

IDENTITY_POLICY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"


@dataclass(frozen=True)
class MirrorPair:
    """One direction MM2 mirrors: ``source -> target`` for the topics matching ``topics``."""

    source: str
    target: str
    topics: str
    role: str  # "forward" or "feedback"

    @property
    def key(self) -> str:
        return f"{self.source}->{self.target}"


@dataclass(frozen=True)
class MirrorSettings:
    """Tunables; the defaults suit one-broker clusters and low latency."""

    replication_factor: int = 1
    tasks_max: int = 1
    refresh_topics_seconds: int = 2
    sync_topic_configs_seconds: int = 5
    # Worker offset flush: bounds how much MM2 re-sends after a crash (Connect default 60 s).
    offset_flush_ms: int = 1000
    # MM2's consumer returns as soon as one byte is there; this caps the idle wait only.
    fetch_max_wait_ms: int = 100
    producer_linger_ms: int = 0
    # One produce request carries one batch per partition, and Connect keeps one request in
    # flight: with the 16 KiB default a single busy shard topic is capped at 16 KiB per round trip.
    producer_batch_bytes: int = 512 * 1024
    # One poll is one transaction under exactly-once; the 500-record default caps a busy flow
    # at 500 records per commit round trip.
    consumer_max_poll_records: int = 10_000
    exactly_once: bool = True
    # MM2's internal REST server (needed for exactly-once); one free address per MM2 process.
    rest_listener: str = "http://127.0.0.1:8083"

    def __post_init__(self) -> None:
        for name in ("replication_factor", "tasks_max", "refresh_topics_seconds",
                     "sync_topic_configs_seconds", "offset_flush_ms", "fetch_max_wait_ms",
                     "producer_batch_bytes", "consumer_max_poll_records"):
            if getattr(self, name) < 1:
                raise ConfigError(f"MirrorSettings.{name} must be >= 1, got {getattr(self, name)}")
        if self.producer_linger_ms < 0:
            raise ConfigError(f"MirrorSettings.producer_linger_ms must be >= 0, got {self.producer_linger_ms}")


def replication_pairs(topology: Topology) -> list[MirrorPair]:
    """Every pair the topology needs mirrored: forward per flow, and its feedback back."""
    pairs = []
    for flow in topology.flows:
        pairs.append(MirrorPair(flow.source, flow.target, forward_topics_regex(flow.source), "forward"))
        pairs.append(MirrorPair(flow.target, flow.source,
                                feedback_topics_regex(flow.source, flow.target), "feedback"))
    return pairs


def pairs_into(topology: Topology, dc: str) -> list[MirrorPair]:
    """The pairs the MM2 process running in ``dc`` drives (those whose target is ``dc``)."""
    if dc not in topology.dcs:
        raise TopologyError(f"DC {dc!r} is not in the topology (known: {sorted(topology.dcs)})")
    return [p for p in replication_pairs(topology) if p.target == dc]


def mirror_dcs(topology: Topology) -> list[str]:
    """DCs that run an MM2 process: every DC some pair mirrors into."""
    targets = {p.target for p in replication_pairs(topology)}
    return [dc for dc in topology.dcs if dc in targets]


def mm2_properties(topology: Topology, dc: str | None = None,
                   settings: MirrorSettings | None = None) -> dict[str, str]:
    """``mm2.properties`` as ordered key/values: for the process in ``dc``, or all of them."""
    settings = settings or MirrorSettings()
    pairs = pairs_into(topology, dc) if dc is not None else replication_pairs(topology)
    if not pairs:
        where = f"into DC {dc!r}" if dc is not None else "in this topology"
        raise TopologyError(f"nothing to mirror {where}: no replication flow involves it")
    clusters = [c for c in topology.dcs if any(c in (p.source, p.target) for p in pairs)]
    rf = str(settings.replication_factor)

    props: dict[str, str] = {"clusters": ", ".join(clusters)}
    for c in clusters:
        props[f"{c}.bootstrap.servers"] = topology.dcs[c].kafka
    props.update({
        "replication.policy.class": IDENTITY_POLICY,
        "tasks.max": str(settings.tasks_max),
        "replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "config.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        "offset-syncs.topic.replication.factor": rf,
        "checkpoints.topic.replication.factor": rf,
        "heartbeats.topic.replication.factor": rf,
        "emit.heartbeats.enabled": "false",
        "offset-syncs.topic.location": "target",
        "emit.checkpoints.interval.seconds": "10",
        "sync.group.offsets.enabled": "false",
        "sync.topic.acls.enabled": "false",
        "refresh.topics.enabled": "true",
        "refresh.topics.interval.seconds": str(settings.refresh_topics_seconds),
        "sync.topic.configs.enabled": "true",
        "sync.topic.configs.interval.seconds": str(settings.sync_topic_configs_seconds),
        "topics.exclude": "",
        # Kafka's own plugins ship ServiceLoader manifests (KIP-898): skips scanning every jar,
        # seconds off each MM2 start.
        "plugin.discovery": "service_load",
    })
    if settings.exactly_once:
        props["dedicated.mode.enable.internal.rest"] = "true"
        props["listeners"] = settings.rest_listener
    for c in clusters:
        # Cluster-scoped client and worker settings: "<alias>.consumer.*" applies to every
        # consumer reading <alias>; worker keys must carry the target's alias.
        props[f"{c}.consumer.isolation.level"] = "read_committed"
        props[f"{c}.consumer.max.partition.fetch.bytes"] = str(MAX_MESSAGE_BYTES)
        props[f"{c}.consumer.fetch.max.wait.ms"] = str(settings.fetch_max_wait_ms)
        props[f"{c}.consumer.max.poll.records"] = str(settings.consumer_max_poll_records)
        props[f"{c}.producer.max.request.size"] = str(MAX_MESSAGE_BYTES)
        props[f"{c}.producer.linger.ms"] = str(settings.producer_linger_ms)
        props[f"{c}.producer.batch.size"] = str(settings.producer_batch_bytes)
        props[f"{c}.offset.flush.interval.ms"] = str(settings.offset_flush_ms)
    if settings.exactly_once:
        for target in sorted({p.target for p in pairs}, key=clusters.index):
            props[f"{target}.exactly.once.source.support"] = "enabled"
    enabled = {p.key: p for p in pairs}
    for src in clusters:
        for dst in clusters:
            if src == dst:
                continue
            key = f"{src}->{dst}"
            pair = enabled.get(key)
            props[f"{key}.enabled"] = "true" if pair else "false"
            if pair:
                props[f"{key}.topics"] = pair.topics
    return props


def render(props: dict[str, str], header: str = "") -> str:
    """Java properties text. Values are written as-is except for the escapes Java requires."""
    lines = [f"# {line}" for line in header.splitlines()]
    for key, value in props.items():
        lines.append(f"{_escape(key, is_key=True)} = {_escape(value, is_key=False)}")
    return "\n".join(lines) + "\n"


def _escape(text: str, *, is_key: bool) -> str:
    # java.util.Properties treats '\' as an escape, so the regexes' backslashes must be doubled;
    # keys additionally may not contain unescaped separators.
    out = text.replace("\\", "\\\\")
    if is_key:
        out = out.replace(" ", "\\ ").replace("=", "\\=").replace(":", "\\:")
    return out
