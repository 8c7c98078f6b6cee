"""Apache Kafka for the dev cluster: the jar cache and one KRaft broker per DC.

The jars come from Maven Central through ``mirrormaker/pom.xml`` (shipped as package data) and
are cached once; later starts are offline. A broker is a combined broker+controller with a static
voter, its storage formatted with ``kafka.tools.StorageTool``, listening on free ports of
127.0.0.1, with a small heap and quiet logs, all under ``<state_dir>/<dc>/kafka``.
"""

from __future__ import annotations

import base64
import importlib.resources
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from dc2dc.devcluster import processes
from dc2dc.topics.chunking import MAX_MESSAGE_BYTES

KAFKA_VERSION = "3.9.2"
_COMPLETE_MARKER = ".complete"

# Small and C1-only: up to eight JVMs share two cores; start time matters, peak throughput not.
JVM_OPTS = ["-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]

_LOG4J = """\
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


# librdkafka logs every refused connection while a broker starts; readiness polls expect those.
QUIET_LOGGER = logging.getLogger("dc2dc.devcluster.readiness")
QUIET_LOGGER.addHandler(logging.NullHandler())
QUIET_LOGGER.propagate = False


class KafkaSetupError(RuntimeError):
    """The Kafka jars could not be fetched or Java is missing."""


def lib_dir() -> Path:
    """Where the jars are cached: ``$DC2DC_KAFKA_LIB`` or ``~/.cache/dc2dc/kafka-<version>``."""
    override = os.environ.get("DC2DC_KAFKA_LIB")
    return Path(override) if override else Path.home() / ".cache" / "dc2dc" / f"kafka-{KAFKA_VERSION}"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)  # stdout may carry `dev up --json`


def ensure_jars(announce: Callable[[str], None] = _to_stderr) -> Path:
    """The jar folder, fetched with Maven on first use (announced, since it downloads)."""
    lib = lib_dir()
    if (lib / _COMPLETE_MARKER).exists():
        return lib
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise KafkaSetupError(f"'{tool}' is not on PATH; the dev cluster needs a JDK 17+ and Maven")
    announce(f"dc2dc: first use: fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {lib} "
             "(later starts are offline)")
    lib.mkdir(parents=True, exist_ok=True)
    with importlib.resources.as_file(importlib.resources.files("dc2dc.mirrormaker") / "pom.xml") as pom:
        result = subprocess.run(
            ["mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise KafkaSetupError(f"mvn could not fetch the Kafka jars:\n{result.stdout}\n{result.stderr}")
    (lib / _COMPLETE_MARKER).write_text(KAFKA_VERSION + "\n")
    return lib


def java_command(lib: Path, main_class: str, args: list[str], *, logs_dir: Path,
                 heap: list[str] | None = None) -> list[str]:
    """A ``java`` command line for a Kafka main class with the quiet log4j config in ``logs_dir``."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    log4j = logs_dir / "log4j.properties"
    log4j.write_text(_LOG4J)
    opts = JVM_OPTS if heap is None else [*heap, *JVM_OPTS[2:]]
    return ["java", *opts, f"-Dkafka.logs.dir={logs_dir}", f"-Dlog4j.configuration=file:{log4j}",
            "-cp", f"{lib}/*", main_class, *args]


@dataclass
class Broker:
    """One single-node KRaft cluster, the Kafka of one DC."""

    dc: str
    home: Path
    port: int
    controller_port: int
    cluster_id: str
    lib: Path
    process: processes.Managed | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.home / "server.properties"


def broker_properties(broker: Broker) -> dict[str, str]:
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{broker.controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://127.0.0.1:{broker.port},CONTROLLER://127.0.0.1:{broker.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker.port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(broker.home / "data"),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Topics are created on purpose (with their configs), by dc2dc or by MM2 with the source's.
        "auto.create.topics.enable": "false",
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        # The cleaner's dedupe buffer is allocated on the heap (default 128 MiB).
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
    }


def new_broker(state_dir: Path, dc: str, lib: Path) -> Broker:
    """A broker with fresh ports, cluster id and empty storage, config written and storage formatted."""
    home = state_dir / dc / "kafka"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    broker = Broker(dc, home, processes.free_port(), processes.free_port(), cluster_id, lib)
    broker.config_path.write_text(
        "".join(f"{k}={v}\n" for k, v in broker_properties(broker).items()), encoding="utf-8")
    processes.run_to_completion(
        f"kafka-storage-format[{dc}]",
        java_command(lib, "kafka.tools.StorageTool",
                     # "=" form: a base64url id may start with '-', which argparse would take for an option.
                     ["format", f"--cluster-id={cluster_id}", "--config", str(broker.config_path),
                      "--ignore-formatted"],
                     logs_dir=home / "logs", heap=["-Xmx256m"]),
        log_file=home / "format.log", cwd=home, timeout=120)
    return broker


def start(broker: Broker, *, timeout: float = 120.0) -> None:
    """Start (or restart) the broker and wait until it answers a metadata request."""
    broker.process = processes.spawn(
        f"kafka[{broker.dc}]",
        java_command(broker.lib, "kafka.Kafka", [str(broker.config_path)], logs_dir=broker.home / "logs"),
        pid_file=broker.home / "kafka.pid", log_file=broker.home / "kafka.log", cwd=broker.home,
        extra_logs=(broker.home / "logs" / "server.log",))
    processes.wait_until(broker.process, lambda: answers_metadata(broker.bootstrap), timeout=timeout,
                         what=f"metadata answer on {broker.bootstrap}")


def stop(broker: Broker) -> None:
    """Orderly shutdown (SIGTERM: the broker flushes and closes its logs)."""
    if broker.process is not None:
        processes.stop(broker.process, timeout=30)
        broker.process = None


def answers_metadata(bootstrap: str) -> bool:
    """True when the broker serves a real metadata request with itself as a live broker."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": QUIET_LOGGER})  # type: ignore[dict-item]
    try:
        return len(admin.list_topics(timeout=2).brokers) > 0
    except KafkaException:
        return False
