"""The replicator's promise under faults: B ends equal to A, or `dc2dc status` names the shard that is not.

Hypothesis draws an interleaving of ordinary operational events — source and destination worker
restarts, a shard topic lost while the workers are down, the WAL purged under a stopped source,
a shard whose leader the coordinator cannot name for a while, a leader move, a new collection —
with writes to A between and during all of them. Afterwards the faults end and both workers run.
Then two things must hold:

* never silently different: whenever ``dc2dc status --json`` (the real CLI, in its own process)
  says the flow is in sync, ``check sync`` finds A and B equal; a shard that differs is named by
  status as not in sync;
* and, the faults being over, the flow converges: B equals A and status says in sync.

Real source and destination components on one real Kafka (MirrorMaker 2 copies records unchanged,
so the mirror is left out here; the e2e tests cover it), the stand-in as both ArangoDBs.
``DC2DC_FAULT_EXAMPLES`` sets the number of drawn examples besides the fixed one that has every
fault (CI: a few; 0: only the fixed one; ``bench/fault_property.py`` runs many).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.agents.source import SourceComponent, SourceSettings
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.check import CheckReport, compare
from dc2dc.pipeline.ops.lag import read_heads
from dc2dc.topics.names import shard_topic
from dest_helpers import kafka_b, standin_b  # noqa: F401 (fixtures)
from source_helpers import create_collection, insert, new_dc_id, read_topic, remove, run_standin, source_settings
from test_stream_generations import delete_topic

EXAMPLES = int(os.environ.get("DC2DC_FAULT_EXAMPLES", "1"))
# Shrinking replays a failure many times to find its shortest history: for the long bench run.
PHASES = ((Phase.explicit,) if not EXAMPLES else (Phase.explicit, Phase.generate)) + \
    ((Phase.shrink,) if os.environ.get("DC2DC_FAULT_SHRINK") else ())
# Both in one Kafka here; a status read names the source DC's Kafka and the destination's ArangoDB.
TOPOLOGY = """\
[dc.{src}]
kafka = "{kafka}"
arangodb = "{a}"
password_file = "{pw_a}"

[dc.B]
kafka = "{kafka}"
arangodb = "{b}"
password_file = "{pw_b}"

[[replication]]
from = "{src}"
to = "B"
"""


@pytest.fixture(scope="module")
def standin_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from run_standin(tmp_path_factory.mktemp("fault-source"))


def client(info: dict[str, Any]) -> ArangoHttp:
    return ArangoHttp(info["coordinator"], username=info["username"], password=info["password"])


@dataclass
class World:
    """One flow src -> B under test: both sides' connections and whichever workers run now."""

    a: ArangoHttp
    b: ArangoHttp
    kafka: str
    src: str
    db: str
    topology: Path
    rnd: random.Random
    collections: dict[str, list[str]] = field(default_factory=dict)   # name -> source shards
    keys: dict[str, set[str]] = field(default_factory=dict)
    source: SourceComponent | None = None
    destination: DestinationWorker | None = None
    unreported: set[str] = field(default_factory=set)                  # shards without a named leader
    written: int = 0
    log: list[str] = field(default_factory=list)

    def settings(self, standin: dict[str, Any]) -> SourceSettings:
        return source_settings(standin, self.kafka, self.src, destinations=("B",))

    async def start_source(self, standin: dict[str, Any]) -> None:
        if self.source is None:
            self.source = SourceComponent(self.settings(standin))
            await self.source.start()

    async def stop_source(self) -> None:
        if self.source is not None:
            source, self.source = self.source, None
            await source.stop()

    async def start_destination(self) -> None:
        if self.destination is None:
            self.destination = DestinationWorker(DestinationConfig(
                src=self.src, dst="B", bootstrap=self.kafka, metadata_max_age_ms=1000, feedback_interval_s=1,
                resync_request_interval_s=5), self.b)
            await self.destination.start()

    async def stop_destination(self) -> None:
        if self.destination is not None:
            destination, self.destination = self.destination, None
            await destination.stop()

    def all_shards(self) -> list[str]:
        return [s for shards in self.collections.values() for s in shards]

    async def write(self) -> None:
        """Inserts, updates and removes on a random collection of A."""
        coll = self.rnd.choice(sorted(self.collections))
        keys = self.keys.setdefault(coll, set())
        new = [f"k{self.written + i}" for i in range(self.rnd.randint(1, 40))]
        self.written += len(new)
        await insert(self.a, self.db, coll, [{"_key": k, "v": 0} for k in new])
        keys.update(new)
        changed = self.rnd.sample(sorted(keys), min(len(keys), self.rnd.randint(0, 20)))
        if changed:
            await self.a.request("PATCH", f"/_api/document/{coll}", db=self.db,
                                 json=[{"_key": k, "v": self.written} for k in changed])
        gone = self.rnd.sample(sorted(keys), min(len(keys), self.rnd.randint(0, 10)))
        if gone:
            await remove(self.a, self.db, coll, gone)
            keys.difference_update(gone)


async def _restart_source(w: World, standin: dict[str, Any]) -> None:
    await w.stop_source()
    await w.write()
    await w.start_source(standin)


async def _restart_destination(w: World, standin: dict[str, Any]) -> None:
    await w.stop_destination()
    await w.write()
    await w.start_destination()


async def _lose_shard_topic(w: World, standin: dict[str, Any]) -> None:
    """Retention ran out or an operator re-created the topic while the workers were down."""
    await w.stop_source()
    await w.stop_destination()
    await delete_topic(w.kafka, shard_topic(w.src, w.rnd.choice(w.all_shards())))
    await w.write()
    await w.start_source(standin)
    await w.start_destination()


async def _purge_wal(w: World, standin: dict[str, Any]) -> None:
    """The source was down longer than the WAL is kept: its tail position is gone on restart."""
    await w.stop_source()
    await w.write()
    await w.a.request("PUT", "/_admin/standin/wal-purge", json={"keep": 0})
    await w.write()
    await w.start_source(standin)


async def _lose_leader(w: World, standin: dict[str, Any]) -> None:
    shard = w.rnd.choice(w.all_shards())
    await w.a.request("PUT", "/_admin/standin/leader-report",
                      json={"database": w.db, "shard": shard, "leader": w.rnd.choice(["none", "resigned"])})
    w.unreported.add(shard)
    await w.write()
    await asyncio.sleep(w.rnd.uniform(0.5, 3))


async def _leader_back(w: World, _standin: dict[str, Any]) -> None:
    for shard in sorted(w.unreported):
        await w.a.request("PUT", "/_admin/standin/leader-report",
                          json={"database": w.db, "shard": shard, "leader": None})
    w.unreported.clear()
    await w.write()


async def _move_leader(w: World, _standin: dict[str, Any]) -> None:
    await w.a.request("PUT", "/_admin/standin/move-leader",
                      json={"database": w.db, "shard": w.rnd.choice(w.all_shards())})
    await w.write()


async def _new_collection(w: World, _standin: dict[str, Any]) -> None:
    name = f"c{len(w.collections)}"
    w.collections[name] = await create_collection(w.a, w.db, name, shards=w.rnd.randint(1, 3))
    await w.write()


async def _write(w: World, _standin: dict[str, Any]) -> None:
    await w.write()


async def _pause(w: World, _standin: dict[str, Any]) -> None:
    await asyncio.sleep(w.rnd.uniform(0.2, 4))


Action = Callable[[World, dict[str, Any]], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "write": _write, "pause": _pause, "restart_source": _restart_source,
    "restart_destination": _restart_destination, "lose_shard_topic": _lose_shard_topic,
    "purge_wal": _purge_wal, "lose_leader": _lose_leader, "leader_back": _leader_back,
    "move_leader": _move_leader, "new_collection": _new_collection,
}


async def dc2dc_status(topology: Path, src: str) -> dict[str, Any]:
    """What an operator sees: ``dc2dc status --json`` run as its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dc2dc.pipeline.ops.cli", "status", "--topology", str(topology),
        "--from", src, "--to", "B", "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert out, f"dc2dc status printed nothing (exit {proc.returncode}): {err.decode()[-2000:]}"
    return orjson.loads(out)


def differing_shards(report: CheckReport) -> set[str]:
    return {s.source_shard for s in report.shards if not s.in_sync}


def silent_differences(report: CheckReport, status: dict[str, Any]) -> list[str]:
    """What differs between A and B although status does not say so."""
    if report.in_sync:
        return []
    states = {s["shard"]: s["state"] for s in status["shards"]}
    if status["in_sync"]:
        return [f"status says in sync, check finds: {report.structure_differences[:5]} "
                f"shards {sorted(differing_shards(report))}"]
    return [f"shard {s} differs, status: {states.get(s, 'not listed')}"
            for s in sorted(differing_shards(report)) if states.get(s, "in sync") == "in sync"]


async def stream_tails(w: World, status: dict[str, Any], last: int = 8) -> str:
    """The newest envelopes of every shard that status does not call in sync (why it is stuck)."""
    lines = []
    for shard in (s["shard"] for s in status["shards"] if s["state"] != "in sync"):
        envs = await read_topic(w.kafka, shard_topic(w.src, shard))
        lines += [f"  {shard}: " + ", ".join(f"{e.seq}:{e.op.value}{'/' + e.tid if e.tid else ''}"
                                            f"{'#' + str(e.chunk) if e.chunk is not None else ''}"
                                            for e in envs[-last:])]
    return "\n".join(lines)


async def settle(w: World, timeout: float = 240.0) -> None:
    """Poll status and check until both say in sync; fail on a silent difference seen three times running."""
    deadline = asyncio.get_running_loop().time() + timeout
    silent_streak = 0
    while True:
        status = await dc2dc_status(w.topology, w.src)
        report = await compare(w.a, w.b)
        if report.in_sync and status["in_sync"]:
            return
        silent = silent_differences(report, status)
        # One reading can race a record being applied between the two reads; three in a row cannot.
        silent_streak = silent_streak + 1 if silent else 0
        assert silent_streak < 3, (f"B differs from A while status does not say so: {silent}\n"
                                  f"history:\n  " + "\n  ".join(w.log))
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"no convergence after the faults ended (status named every differing shard: {not silent}).\n"
                f"history:\n  " + "\n  ".join(w.log) + f"\ncheck: {report.structure_differences[:5]} shards "
                f"{sorted(differing_shards(report))}\nstatus: {status}\n"
                f"tails of the shards not in sync:\n{await stream_tails(w, status)}\n"
                f"source: {w.source.status() if w.source else None}\n"
                f"destination: {w.destination.status() if w.destination else None}")
        await asyncio.sleep(2)


async def run_history(standin_a: dict[str, Any], standin_b: dict[str, Any], kafka: str, tmp: Path,
                      actions: list[str], seed: int) -> None:
    src = new_dc_id()
    topology = tmp / f"{src}.toml"
    for dc, info in (("A", standin_a), ("B", standin_b)):
        secret = tmp / f"{dc}.password"
        secret.write_text(info["password"])
        secret.chmod(0o600)   # dc2dc refuses secret files others can read
    topology.write_text(TOPOLOGY.format(src=src, kafka=kafka, a=standin_a["coordinator"], b=standin_b["coordinator"],
                                        pw_a=tmp / "A.password", pw_b=tmp / "B.password"))
    async with client(standin_a) as a, client(standin_b) as b:
        w = World(a=a, b=b, kafka=kafka, src=src, db=f"d{src}", topology=topology, rnd=random.Random(seed))
        await a.request("POST", "/_api/database", json={"name": w.db})
        w.collections["items"] = await create_collection(a, w.db, "items", shards=3)
        await w.write()
        try:
            await w.start_source(standin_a)
            await w.start_destination()
            for action in actions:
                await ACTIONS[action](w, standin_a)
                heads = await read_heads(kafka, src)
                w.log.append(f"{action} -> heads {({s: (h.gen, h.seq) for s, h in sorted(heads.items())})}")
            w.log.append("faults end")
            await _leader_back(w, standin_a)
            await w.start_source(standin_a)
            await w.start_destination()
            await settle(w)
        finally:
            await w.stop_source()
            await w.stop_destination()
            await _leader_back(w, standin_a)
        # A and B are compared whole: the next example starts from both without this one's database.
        for side in (a, b):
            await side.request("DELETE", f"/_api/database/{w.db}")


@pytest.mark.timeout(600 + 400 * EXAMPLES)
@settings(max_examples=max(1, EXAMPLES), deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(st.sampled_from(sorted(ACTIONS)), min_size=2, max_size=7),
       seed=st.integers(0, 2**32 - 1))
@example(actions=["write", "lose_leader", "restart_source", "leader_back", "move_leader", "new_collection",
                  "lose_shard_topic", "restart_destination", "purge_wal"], seed=1)
def test_after_any_interleaving_of_faults_b_equals_a_or_status_names_the_shard(
        standin_a: dict[str, Any], standin_b: dict[str, Any], kafka_b: str,  # noqa: F811
        tmp_path: Path, actions: list[str], seed: int) -> None:
    asyncio.run(run_history(standin_a, standin_b, kafka_b, tmp_path, actions, seed))
