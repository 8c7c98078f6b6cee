"""What the end-to-end tests drive: a dev environment plus the `dc2dc worker` processes of its flows.

A :class:`Pipeline` owns one :class:`~dc2dc.devcluster.up.DevEnvironment` (Kafka per DC, MM2,
stand-in ArangoDB per DC) and the workers started on it, and stops all of them in ``close``.
Workers are real `dc2dc worker` processes, signing with the dev topology's Ed25519 keys, so the
tests see exactly what an operator would run - nothing is mocked.

``wait_in_sync`` is the one convergence check: it polls ``pipeline.ops.check.compare`` (what
``dc2dc check sync`` prints) and, on timeout, fails with the last report's differences and every
worker's status, so a failing run says which shard or structure element stayed behind and why.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arango import ArangoClient
from arango.collection import StandardCollection
from arango.database import StandardDatabase

from dc2dc.devcluster.up import DevEnvironment, EnvSpec, start_environment
from dc2dc.devcluster.workers import Worker, kill_worker, start_worker, stop_worker
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.check import CheckReport, compare

WorkerKey = tuple[str, str]  # (role, dc)


@dataclass
class Pipeline:
    env: DevEnvironment
    workers: dict[WorkerKey, Worker] = field(default_factory=dict)
    # Status of worker incarnations that were stopped or killed: their counters (e.g. duplicates)
    # are per process, so a restart test sums them over every incarnation.
    retired_status: list[dict[str, Any]] = field(default_factory=list)
    _clients: dict[str, ArangoClient] = field(default_factory=dict)

    @classmethod
    def start(cls, state_dir: Path, dcs: tuple[str, ...] = ("A", "B"),
              flows: tuple[tuple[str, str], ...] = (("A", "B"),), arangodb_version: str = "3.12") -> Pipeline:
        """``arangodb_version``: the release the stand-ins answer as (3.11 or 3.12)."""
        return cls(start_environment(EnvSpec(state_dir=state_dir, dcs=dcs, flows=flows,
                                             arangodb_version=arangodb_version)))

    def start_worker(self, role: str, dc: str) -> Worker:
        assert (role, dc) not in self.workers, f"{role} worker in {dc} already runs"
        worker = start_worker(self.env.state_dir, self.env.topology_path, role, dc)
        self.workers[(role, dc)] = worker
        return worker

    def start_flow_workers(self) -> None:
        """A source worker in every DC that feeds a flow, a destination worker in every receiving DC."""
        for src in dict.fromkeys(src for src, _ in self.env.spec.flows):
            self.start_worker("source", src)
        for dst in dict.fromkeys(dst for _, dst in self.env.spec.flows):
            self.start_worker("destination", dst)

    def stop_worker(self, role: str, dc: str) -> None:
        worker = self.workers.pop((role, dc))
        self._retire(role, dc, worker)
        stop_worker(worker)

    def kill_worker(self, role: str, dc: str) -> None:
        worker = self.workers.pop((role, dc))
        # Read just before the kill: the dead process cannot be asked afterwards.
        self._retire(role, dc, worker)
        kill_worker(worker)

    def _retire(self, role: str, dc: str, worker: Worker) -> None:
        self.retired_status.append({"role": role, "dc": dc, "status": worker.status()})

    def statuses(self) -> dict[str, Any]:
        return {f"{role}-{dc}": w.status() for (role, dc), w in self.workers.items()}

    def log_tails(self, lines: int = 15) -> str:
        return "\n".join(f"--- {role}-{dc} log:\n{w.proc.log_tail(lines)}" for (role, dc), w in self.workers.items())

    def db(self, dc: str, name: str = "_system") -> StandardDatabase:
        """A python-arango handle on ``dc``'s coordinator as root (what an application would use)."""
        arango = self.env.arangodb[dc]
        if dc not in self._clients:
            self._clients[dc] = ArangoClient(hosts=arango["coordinator"], request_timeout=300)
        return self._clients[dc].db(name, username=arango.get("username", "root"), password=arango["password"])

    def http(self, dc: str) -> ArangoHttp:
        arango = self.env.arangodb[dc]
        return ArangoHttp(arango["coordinator"], username=arango.get("username", "root"), password=arango["password"])

    def close(self) -> None:
        try:
            for role, dc in list(self.workers):
                try:
                    self.stop_worker(role, dc)
                except Exception:  # noqa: BLE001 - the environment's stop below kills it by pid file
                    pass
            for client in self._clients.values():
                client.close()
        finally:
            self.env.stop()


def check(pipeline: Pipeline, src: str, dst: str) -> CheckReport:
    """One ``dc2dc check sync`` of the flow ``src`` -> ``dst``."""
    async def run() -> CheckReport:
        async with pipeline.http(src) as a, pipeline.http(dst) as b:
            return await compare(a, b)
    return asyncio.run(run())


def differences(report: CheckReport, limit: int = 40) -> list[str]:
    out = list(report.structure_differences)
    out += [f"shard {s.db}/{s.coll}#{s.index} ({s.source_shard} -> {s.target_shard}): "
            f"source {s.source} != destination {s.target}" for s in report.shards if not s.in_sync]
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def wait_in_sync(pipeline: Pipeline, src: str = "A", dst: str = "B", *, timeout: float = 180.0,
                 interval: float = 2.0) -> CheckReport:
    """Poll until ``dst`` holds what ``src`` holds; fail with the last differences and worker states."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        report = check(pipeline, src, dst)
        if report.in_sync:
            print(f"{src} -> {dst} in sync after {time.monotonic() - started:.1f}s of waiting")
            return report
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{dst} did not converge to {src} within {timeout:.0f}s.\n"
                f"differences:\n  " + "\n  ".join(differences(report)) + "\n"
                f"workers:\n{json.dumps(pipeline.statuses(), indent=1, default=str)[:20000]}\n"
                f"{pipeline.log_tails()}")
        time.sleep(interval)


def stats_sum(pipeline: Pipeline, role: str, dc: str, counter: str) -> int:
    """A worker counter summed over every incarnation of that worker (a restart starts from zero)."""
    component = "DestinationWorker" if role == "destination" else "SourceComponent"
    statuses = [r["status"] for r in pipeline.retired_status if r["role"] == role and r["dc"] == dc]
    worker = pipeline.workers.get((role, dc))
    if worker is not None:
        statuses.append(worker.status())
    return sum(s[component]["stats"].get(counter, 0) for s in statuses if s)


class Writer(threading.Thread):
    """Load on one collection of a DC: inserts, updates and removes in a loop until ``finish``.

    It keeps the set of keys that must exist afterwards, so a test can tell "nothing lost" from
    "both sides lost the same"; an error in the loop is re-raised by ``finish``.
    """

    def __init__(self, pipeline: Pipeline, dc: str, db: str, coll: str, existing: int = 0, seed: int = 0,
                 pause: float = 0.2) -> None:
        super().__init__(name=f"writer-{dc}-{db}-{coll}", daemon=True)
        arango = pipeline.env.arangodb[dc]
        # Its own client: python-arango's HTTP session is not shared across threads.
        self._client = ArangoClient(hosts=arango["coordinator"], request_timeout=300)
        self._coll: StandardCollection = self._client.db(
            db, username=arango.get("username", "root"), password=arango["password"]).collection(coll)
        self.keys = [f"k{i}" for i in range(existing)]
        self.writes = 0
        self._random = random.Random(seed)
        self._pause = pause
        self._next = existing
        self._halt = threading.Event()
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                self._round()
                time.sleep(self._pause)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread by finish()
            self._error = exc

    def _round(self) -> None:
        new = [f"k{i}" for i in range(self._next, self._next + 100)]
        self._next += 100
        self._coll.import_bulk([{"_key": k, "v": 0, "pad": "x" * 200} for k in new], halt_on_error=True)
        self.keys += new
        touched = self._random.sample(self.keys, 50)
        failed = [r for r in self._coll.update_many([{"_key": k, "v": self.writes} for k in touched])
                  if isinstance(r, Exception)]
        gone = set(self._random.sample(self.keys, 20))
        failed += [r for r in self._coll.delete_many([{"_key": k} for k in gone]) if isinstance(r, Exception)]
        if failed:
            raise AssertionError(f"writes to the source failed: {failed[:3]}")
        self.keys = [k for k in self.keys if k not in gone]
        self.writes += 170

    def finish(self) -> None:
        self._halt.set()
        self.join()
        self._client.close()
        if self._error is not None:
            raise self._error
