"""Prometheus metrics of a worker, derived from its components' ``status()`` at scrape time.

Deriving them on scrape keeps the replication code free of metric bookkeeping, and a scrape can
never disagree with ``/status``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class StatusCollector(Collector):
    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        yield _rejected(status)
        yield _deadletter_lost(status)
        source = status.get("SourceComponent")
        if source:
            produced = GaugeMetricFamily("dc2dc_source_shard_seq", "Last seq produced per source shard",
                                         labels=["src", "shard", "db", "collection"])
            for shard, st in source.get("shards", {}).items():
                produced.add_metric([source["src"], shard, st["db"], st["coll"]], st["seq"])
            yield produced
            yield GaugeMetricFamily("dc2dc_source_structure_epoch", "Last published structure epoch",
                                    value=source.get("epoch") or 0)
            failed = sum(1 for st in source.get("shards", {}).values() if st.get("phase") == "failed")
            yield GaugeMetricFamily("dc2dc_source_failed_shards", "Source shards whose resync spent its retry budget",
                                    value=failed)
        destination = status.get("DestinationWorker")
        if destination:
            applied = GaugeMetricFamily("dc2dc_applied_seq", "Last applied seq per source shard",
                                        labels=["src", "dst", "shard"])
            for shard, pos in destination.get("positions", {}).items():
                applied.add_metric([destination["src"], destination["dst"], shard], pos["seq"])
            yield applied
            stats = destination.get("stats", {})
            for name in ("applied", "duplicates", "discarded", "resync_requests"):
                yield CounterMetricFamily(f"dc2dc_destination_{name}", f"Destination messages: {name}",
                                          value=stats.get(name, 0))
            yield GaugeMetricFamily("dc2dc_destination_stopped_shards", "Shards stopped loudly (need resync)",
                                    value=len(stats.get("stopped") or {}))


def _deadletter_lost(status: dict[str, Any]) -> Metric:
    family = CounterMetricFamily("dc2dc_deadletter_lost", "Set-aside records not written to the dead-letter topic",
                                 labels=["topic"])
    for role in ("SourceComponent", "DestinationWorker"):
        dead_letter = (status.get(role) or {}).get("deadletter")
        if dead_letter:
            family.add_metric([dead_letter["topic"]], dead_letter["lost"])
    return family


def _rejected(status: dict[str, Any]) -> Metric:
    """One family for both roles: a worker running both would otherwise export the name twice."""
    family = CounterMetricFamily("dc2dc_records_rejected", "Records set aside: failed to verify, decode or reassemble",
                                 labels=["topic", "reason"])
    for role in ("SourceComponent", "DestinationWorker"):
        for row in (status.get(role) or {}).get("rejected", []):
            family.add_metric([row["topic"], row["reason"]], row["count"])
    return family
