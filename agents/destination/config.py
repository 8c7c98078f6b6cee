"""Settings and counters of one destination worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from dc2dc.pipeline.destination.apply_batch import DEFAULT_MAX_BYTES, DEFAULT_MAX_OPS
from dc2dc.topics.admin import TopicSettings
from dc2dc.topics.names import apply_group


@dataclass(frozen=True)
class DestinationConfig:
    src: str
    dst: str
    bootstrap: str                        # the destination DC's Kafka
    group_id: str | None = None           # default: dc2dc.<src>.<dst>.apply
    max_ops: int = DEFAULT_MAX_OPS
    max_bytes: int = DEFAULT_MAX_BYTES
    queue_limit: int = 5000               # records queued per shard before its partition pauses
    feedback_interval_s: float = 5.0
    resync_request_interval_s: float = 30.0   # a gap's resync request is sent again until its resync begins
    metadata_max_age_ms: int = 5000       # how soon a new shard topic is noticed
    topic_settings: TopicSettings = TopicSettings()   # for the feedback topic, if this worker creates it

    @property
    def group(self) -> str:
        return self.group_id or apply_group(self.src, self.dst)


@dataclass
class DestinationStats:
    """Counters for status and tests; ``stopped`` maps a shard to why it stopped."""

    applied: int = 0          # messages applied (incl. heartbeats and markers)
    duplicates: int = 0       # seq <= applied, dropped
    superseded: int = 0       # of an older generation of their shard's stream, dropped
    discarded: int = 0        # collection dropped in a later applied structure
    skipped_in_gap: int = 0   # after a gap, before the requested resync began
    resync_requests: int = 0
    structure_epoch: int = 0
    stopped: dict[str, str] = field(default_factory=dict)
    control_error: str | None = None
    failed: str | None = None   # a whole-worker loop died (see ``DestinationWorker.wait``)
    active: bool = False        # holds the flow's control partition (else a standby)
