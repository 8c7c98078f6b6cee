"""Configuration of one source worker."""

from __future__ import annotations

from dataclasses import dataclass

from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.retry import RetryPolicy
from dc2dc.pipeline.source.snapshot_sync import SyncSettings
from dc2dc.topics.admin import TopicSettings
from dc2dc.topics.signing import Signer, Verifier


@dataclass(frozen=True)
class SourceSettings:
    """Configuration of one source worker."""

    src: str
    kafka: str                                  # bootstrap servers of the source DC's Kafka
    arangodb: ArangoEndpoint                    # a coordinator (or the single server) and its credentials
    destinations: tuple[str, ...] = ()          # DCs whose feedback topics this worker reads
    topics: TopicSettings = TopicSettings()
    signer: Signer | None = None
    feedback_verifier: Verifier | None = None   # destinations' keys; None: feedback is not verified
    sync: SyncSettings = SyncSettings()
    structure_interval_s: float = 2.0
    heartbeat_interval_s: float = 3.0
    tail_chunk_bytes: int = 1024 * 1024
    idle_min_s: float = 0.05
    idle_max_s: float = 0.5
    max_held_units: int = 20000                 # per syncing shard, before its tailer waits
    max_concurrent_syncs: int = 4               # snapshot dumps at a time (each pins a batch on a server)
    retry_pause_s: float = 1.0                  # first pause of a restarted tail, and between structure polls
    resync_retry: RetryPolicy = RetryPolicy()   # one shard's resync; spent: the shard is failed
    structure_retry: RetryPolicy = RetryPolicy()  # the structure poll; spent: the worker fails
