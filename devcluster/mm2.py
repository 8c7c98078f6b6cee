"""MirrorMaker 2 in dedicated mode, one process per receiving DC, state under ``<state_dir>/<dc>/mm2``.

The configuration comes from :func:`dc2dc.mirrormaker.config.mm2_properties` for that DC, and the
process runs with ``--clusters <dc>`` so it only drives the herders that write into its own DC.
Ready means mirrored: for every pair into the DC, a fresh value written to the pair's probe
topic in the source is read back in the target.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dc2dc.devcluster import processes
from dc2dc.devcluster.kafka import QUIET_LOGGER, java_command
from dc2dc.mirrormaker.config import (
    MirrorPair,
    MirrorSettings,
    mm2_properties,
    pairs_into,
    render,
)
from dc2dc.pipeline.topology import Topology
from dc2dc.topics.names import feedback_probe_topic, probe_topic

MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"


@dataclass
class MirrorMaker:
    dc: str
    home: Path
    lib: Path
    pairs: list[MirrorPair]
    bootstraps: dict[str, str]
    process: processes.Managed | None = None

    @property
    def config_path(self) -> Path:
        return self.home / "mm2.properties"


def probe_topic_of(pair: MirrorPair) -> str:
    """The probe topic that travels the same way as ``pair``'s data."""
    if pair.role == "forward":
        return probe_topic(pair.source)
    return feedback_probe_topic(pair.target, pair.source)


def create_probe_topics(topology: Topology, pairs: list[MirrorPair]) -> None:
    """Create each pair's probe topic in its source (brokers do not auto-create topics)."""
    by_source: dict[str, set[str]] = {}
    for pair in pairs:
        by_source.setdefault(pair.source, set()).add(probe_topic_of(pair))
    for source, topics in by_source.items():
        admin = AdminClient({"bootstrap.servers": topology.dcs[source].kafka, "logger": QUIET_LOGGER})
        futures = admin.create_topics([NewTopic(t, 1, 1, config={"retention.ms": "3600000"})
                                       for t in sorted(topics)])
        for fut in futures.values():
            try:
                fut.result(timeout=30)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise


def new_mirrormaker(state_dir: Path, topology: Topology, dc: str, lib: Path,
                    settings: MirrorSettings | None = None) -> MirrorMaker:
    """Write ``mm2.properties`` for the process in ``dc``."""
    home = state_dir / dc / "mm2"
    home.mkdir(parents=True, exist_ok=True)
    mm = MirrorMaker(dc, home, lib, pairs_into(topology, dc),
                     {c: d.kafka for c, d in topology.dcs.items()})
    # Every process on this host needs its own REST port (exactly-once needs the server).
    settings = replace(settings or MirrorSettings(), rest_listener=f"http://127.0.0.1:{processes.free_port()}")
    mm.config_path.write_text(
        render(mm2_properties(topology, dc, settings), header=f"dc2dc dev cluster: MirrorMaker 2 running in {dc}"),
        encoding="utf-8")
    return mm


def start(mm: MirrorMaker, *, timeout: float = 180.0) -> None:
    """Start MM2 and wait until every pair into its DC has mirrored a fresh probe value."""
    mm.process = processes.spawn(
        f"mm2[{mm.dc}]",
        java_command(mm.lib, MAIN_CLASS, [str(mm.config_path), "--clusters", mm.dc], logs_dir=mm.home / "logs"),
        pid_file=mm.home / "mm2.pid", log_file=mm.home / "mm2.log", cwd=mm.home,
        extra_logs=(mm.home / "logs" / "server.log",))
    for pair in mm.pairs:
        wait_mirrored(mm, pair, timeout=timeout)


def stop(mm: MirrorMaker) -> None:
    if mm.process is not None:
        processes.stop(mm.process, timeout=20)
        mm.process = None


def kill_hard(mm: MirrorMaker) -> None:
    """``kill -9``: no flush of source offsets, no clean task stop."""
    if mm.process is not None:
        processes.kill_hard(mm.process)
        mm.process = None


def wait_mirrored(mm: MirrorMaker, pair: MirrorPair, *, timeout: float) -> None:
    """Write a unique value to the pair's probe topic in its source; wait for it in its target."""
    assert mm.process is not None
    topic = probe_topic_of(pair)
    nonce = uuid.uuid4().hex.encode()
    producer = Producer({"bootstrap.servers": mm.bootstraps[pair.source], "logger": QUIET_LOGGER})
    producer.produce(topic, value=nonce)
    if producer.flush(30) != 0:
        raise processes.ProcessFailed(f"could not write the probe to {topic} in {pair.source}")
    consumer = Consumer({"bootstrap.servers": mm.bootstraps[pair.target], "group.id": f"dc2dc-probe-{nonce.decode()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "logger": QUIET_LOGGER})
    try:
        processes.wait_until(mm.process, lambda: _seen(consumer, topic, nonce), timeout=timeout,
                             what=f"mirroring of {topic} {pair.key}", interval=0)
    finally:
        consumer.close()


def _seen(consumer: Consumer, topic: str, nonce: bytes) -> bool:
    if not consumer.assignment():
        meta = consumer.list_topics(topic, timeout=2).topics.get(topic)
        if meta is None or meta.error is not None:  # MM2 has not created it in the target yet
            time.sleep(0.5)
            return False
        consumer.assign([TopicPartition(topic, 0, 0)])
    msg = consumer.poll(0.5)
    return msg is not None and msg.error() is None and msg.value() == nonce
