"""Creating dc2dc's topics with the settings the design needs, and checking existing ones.

Every dc2dc topic (shard, control, feedback) has exactly one partition: each is a totally
ordered stream, and seq contiguity is checked per topic. ``cleanup.policy=delete`` because a
shard topic is a log of changes, not a table of keys (compaction would drop the ordered history
a resync or a late destination needs); ``retention.ms`` bounds the outage a destination can catch
up from without a resync. ``max.message.bytes`` matches ``ChunkLimits`` so every chunk fits.

The control topic is created with ``retention.ms=-1``: it holds the structure, written only
when the structure changes, so after a quiet week a time limit would delete the one snapshot
every destination (and a restarted source) needs. It grows by one snapshot per change, which is
little. Not ``compact``: an epoch's snapshot can be several chunk records, and compaction keeps
one record per key, which would mix chunks of different epochs. MirrorMaker 2 copies the
setting to B's mirror (``sync.topic.configs.enabled``; ``retention.ms`` is not among the configs
its default filter leaves out), so the mirror keeps the structure too.

``ensure_topics`` is idempotent: topics that already exist are left as they are, but checked —
a wrong partition count, a compacting cleanup policy or a smaller message limit is a
``TopicConfigError`` (dc2dc cannot work on such a topic and never changes one silently). A
control topic with a time limit (created by an older dc2dc) only gets a warning: losing it is
survivable (``topics.generation``), but a destination set up after it expired has to wait for
the next structure change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from dc2dc.topics.errors import TopicConfigError
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES, ChunkLimits
from dc2dc.topics.names import is_control_topic

log = logging.getLogger(__name__)

DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000
PARTITIONS = 1
_CHECKED_CONFIGS = ("cleanup.policy", "max.message.bytes", "retention.ms")


@dataclass(frozen=True)
class TopicSettings:
    """Settings of newly created dc2dc topics (replication from the deployment's config)."""

    replication_factor: int = 1
    min_insync_replicas: int = 1
    retention_ms: int = DEFAULT_RETENTION_MS
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        if self.replication_factor < 1:
            raise TopicConfigError(f"replication_factor must be >= 1, got {self.replication_factor}")
        if not 1 <= self.min_insync_replicas <= self.replication_factor:
            raise TopicConfigError(
                f"min_insync_replicas must be between 1 and replication_factor "
                f"({self.replication_factor}), got {self.min_insync_replicas}"
            )
        if self.retention_ms < 1 and self.retention_ms != -1:
            raise TopicConfigError(f"retention_ms must be positive or -1 (forever), got {self.retention_ms}")
        self.chunk_limits()  # a message limit too small for any chunk fails here, not at produce time

    def chunk_limits(self) -> ChunkLimits:
        """The chunking limits that fit these topics."""
        try:
            return ChunkLimits(max_message_bytes=self.max_message_bytes)
        except ValueError as e:
            raise TopicConfigError(str(e)) from None

    def configs(self, topic: str) -> dict[str, str]:
        """Topic-level configs ``topic`` is created with."""
        return {
            "cleanup.policy": "delete",
            "retention.ms": "-1" if is_control_topic(topic) else str(self.retention_ms),
            "min.insync.replicas": str(self.min_insync_replicas),
            "max.message.bytes": str(self.max_message_bytes),
        }


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    settings: TopicSettings = TopicSettings(),
    *,
    timeout_s: float = 30.0,
    **client_options: Any,
) -> list[str]:
    """Create the missing topics among ``names``, check the existing ones; the names created.

    Returns once every topic has a partition leader, so producers can use them right away.
    ``client_options`` go to ``AIOKafkaAdminClient`` (security settings, client id).
    """
    wanted = sorted(set(names))
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    await admin.start()
    try:
        created = await _create(admin, wanted, settings, timeout_s)
        existing = [n for n in wanted if n not in created]
        if existing:
            await _check_existing(admin, existing, settings)
        await _wait_for_leaders(admin, wanted, timeout_s)
        return created
    finally:
        await admin.close()


async def _create(
    admin: AIOKafkaAdminClient, names: list[str], settings: TopicSettings, timeout_s: float
) -> list[str]:
    topics = [
        NewTopic(n, PARTITIONS, settings.replication_factor, topic_configs=settings.configs(n))
        for n in names
    ]
    response = await admin.create_topics(topics, timeout_ms=int(timeout_s * 1000))
    created = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        if code == 0:
            created.append(name)
            continue
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            continue
        raise TopicConfigError(
            f"cannot create topic {name!r}: {error.__name__}: {message or error.description}",
            retriable=error.retriable,
        )
    return created


async def _check_existing(admin: AIOKafkaAdminClient, names: list[str], settings: TopicSettings) -> None:
    for topic in await admin.describe_topics(names):
        partitions = len(topic["partitions"])
        if partitions != PARTITIONS:
            raise TopicConfigError(
                f"topic {topic['topic']!r} exists with {partitions} partitions; dc2dc needs exactly "
                f"{PARTITIONS} (one ordered stream per topic). Delete it or choose another DC id."
            )
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, dict.fromkeys(_CHECKED_CONFIGS)) for n in names]
    )
    for response in responses:
        for code, message, _type, name, entries, *_ in response.resources:
            if code:
                error = for_code(code)
                raise TopicConfigError(f"cannot read configs of {name!r}: {message}", retriable=error.retriable)
            configs = {entry[0]: entry[1] for entry in entries}
            if configs.get("cleanup.policy") != "delete":
                raise TopicConfigError(
                    f"topic {name!r} has cleanup.policy={configs.get('cleanup.policy')}; dc2dc needs "
                    f"'delete' (compaction would drop the ordered change history)"
                )
            limit = int(configs.get("max.message.bytes", "0"))
            if limit < settings.max_message_bytes:
                raise TopicConfigError(
                    f"topic {name!r} has max.message.bytes={limit}, below the {settings.max_message_bytes} "
                    f"dc2dc chunks documents to; raise it or lower the configured message size"
                )
            if is_control_topic(name) and configs.get("retention.ms") != "-1":
                log.warning("control topic %r has retention.ms=%s: its structure snapshot expires after a "
                            "quiet period; set retention.ms=-1 (kafka-configs --alter)", name,
                            configs.get("retention.ms"))


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float) -> None:
    # A topic that was just created may not have a leader in every broker's metadata yet.
    deadline = time.monotonic() + timeout_s
    while True:
        topics = await admin.describe_topics(names)
        waiting = [
            t["topic"] for t in topics
            if t["error_code"] or not t["partitions"] or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TopicConfigError(f"topics without a leader after {timeout_s}s: {waiting}", retriable=True)
        await asyncio.sleep(0.1)
