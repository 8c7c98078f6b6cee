"""Kafka names: the only place that knows how dc2dc names its topics, transactional ids and groups.

Names use only ``[a-zA-Z0-9._-]``. DC ids and shard ids (``s12345``) are safe in names;
database and collection names may be Unicode, so they travel inside messages, never here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from dc2dc.topics.errors import ConfigError

PREFIX = "dc2dc"
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def _checked(part: str, what: str) -> str:
    # No dots inside a part: the regexes below split on them.
    if not _SAFE.match(part):
        raise ConfigError(f"{what} {part!r} may only contain letters, digits, '_' and '-'")
    return part


def control_topic(src_dc: str) -> str:
    """Structure epochs of source DC ``src_dc`` (1 partition), flows src -> every destination."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.control"


def is_control_topic(topic: str) -> bool:
    parsed = parse_topic(topic)
    return parsed is not None and parsed.kind is TopicKind.CONTROL


def shard_topic(src_dc: str, shard: str) -> str:
    """Ordered changes of one source shard (1 partition), flows src -> every destination."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.shard.{_checked(shard, 'shard id')}"


def feedback_topic(src_dc: str, dst_dc: str) -> str:
    """Applied positions, resync requests and barrier acks: produced in dst, mirrored back to src."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.feedback.{_checked(dst_dc, 'DC id')}"


def deadletter_topic(src_dc: str, dst_dc: str) -> str:
    """Records of flow src -> dst the destination set aside, in dst's Kafka (never mirrored)."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.{_checked(dst_dc, 'DC id')}.deadletter"


def feedback_deadletter_topic(src_dc: str) -> str:
    """Feedback records the source set aside, in src's Kafka (never mirrored)."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.feedback-deadletter"


def probe_topic(src_dc: str) -> str:
    """Mirror liveness probe: written in ``src_dc``, read in its destinations; carries no data."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.probe"


def feedback_probe_topic(src_dc: str, dst_dc: str) -> str:
    """Liveness probe of the feedback direction: written in ``dst_dc``, read in ``src_dc``."""
    return f"{feedback_topic(src_dc, dst_dc)}.probe"


def forward_topics_regex(src_dc: str) -> str:
    """Exact regex of the topics that flow from ``src_dc`` to its destinations (control, shards, probe)."""
    dc = re.escape(_checked(src_dc, "DC id"))
    return rf"{PREFIX}\.{dc}\.(control|probe|shard\.[A-Za-z0-9_-]+)"


def feedback_topics_regex(src_dc: str, dst_dc: str) -> str:
    """Exact regex of what flows back from ``dst_dc`` to ``src_dc``: its feedback topic and probe."""
    return re.escape(feedback_topic(src_dc, dst_dc)) + r"(\.probe)?"


def apply_group(src_dc: str, dst_dc: str) -> str:
    """Consumer group of the destination workers applying flow ``src_dc`` -> ``dst_dc``."""
    return f"{PREFIX}.{_checked(src_dc, 'DC id')}.{_checked(dst_dc, 'DC id')}.apply"


def control_group(apply_group_id: str) -> str:
    """The group of a flow's control partition: its one member is the flow's active worker."""
    return f"{apply_group_id}.control"


def shard_topics_pattern(src: str) -> str:
    """Anchored regex of every shard topic of ``src`` (aiokafka subscribes with ``re.match``)."""
    return "^" + re.escape(shard_topic(src, "x")[:-1]) + r"[A-Za-z0-9_-]+$"


def shard_transactional_id(src_dc: str, shard: str) -> str:
    """The producer of one shard topic: a new owner of the shard fences every older one."""
    return f"{PREFIX}-src.{_checked(src_dc, 'DC id')}.{_checked(shard, 'shard id')}"


def control_transactional_id(src_dc: str) -> str:
    """The structure publisher of ``src_dc``: a second publisher fences the first."""
    return f"{PREFIX}-src.{_checked(src_dc, 'DC id')}.control"


def feedback_group(src_dc: str) -> str:
    """The consumer group in which ``src_dc``'s source workers read their feedback topics."""
    return f"{PREFIX}-src.{_checked(src_dc, 'DC id')}.feedback"


def shard_of(topic: str) -> tuple[str, str] | None:
    """``(src_dc, shard)`` for a shard topic name, else None."""
    parsed = parse_topic(topic)
    if parsed is None or parsed.shard is None:
        return None
    return (parsed.src, parsed.shard)


class TopicKind(str, enum.Enum):
    CONTROL = "control"
    SHARD = "shard"
    FEEDBACK = "feedback"
    PROBE = "probe"
    FEEDBACK_PROBE = "feedback_probe"


@dataclass(frozen=True)
class TopicName:
    """A dc2dc topic name taken apart: ``src`` is always the flow's source DC."""

    kind: TopicKind
    src: str
    dst: str | None = None      # feedback topics and their probe: the destination DC
    shard: str | None = None    # shard topics only

    @property
    def signer(self) -> str:
        """The DC that writes (and signs) this topic's records: feedback is written in the destination."""
        return self.dst if self.dst is not None else self.src


_PART = "([A-Za-z0-9_-]+)"
_PARSERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], TopicName]], ...] = (
    (re.compile(rf"{PREFIX}\.{_PART}\.control"), lambda m: TopicName(TopicKind.CONTROL, m[1])),
    (re.compile(rf"{PREFIX}\.{_PART}\.probe"), lambda m: TopicName(TopicKind.PROBE, m[1])),
    (re.compile(rf"{PREFIX}\.{_PART}\.shard\.{_PART}"), lambda m: TopicName(TopicKind.SHARD, m[1], shard=m[2])),
    (re.compile(rf"{PREFIX}\.{_PART}\.feedback\.{_PART}"), lambda m: TopicName(TopicKind.FEEDBACK, m[1], dst=m[2])),
    (re.compile(rf"{PREFIX}\.{_PART}\.feedback\.{_PART}\.probe"),
     lambda m: TopicName(TopicKind.FEEDBACK_PROBE, m[1], dst=m[2])),
)


def parse_topic(topic: str) -> TopicName | None:
    """What a topic name says about itself, or None when it is not one of dc2dc's topics."""
    for pattern, make in _PARSERS:
        m = pattern.fullmatch(topic)
        if m:
            return make(m)
    return None
