"""``dc2dc status`` tells the truth about a shard that is not applying (issue 8, cases 7 and 10).

A stopped shard's position looks like one that is merely behind; once the source goes quiet it even
looks in sync. These tests run a real destination worker on real Kafka and a stand-in B, break a
shard's stream, and ask the real CLI.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from click.testing import CliRunner, Result

from dc2dc.agents.destination import DestinationWorker
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.cli import main
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.envelope import Op
from dc2dc.topics.names import feedback_topic
from dest_helpers import all_docs, http, kafka_b, standin_b  # noqa: F401 (fixtures)
from test_dest_worker import Source, _at, _feedback, coll, config, eventually, source  # noqa: F401 (fixture)


def _topology(tmp_path: Path, source: Source, standin: dict[str, Any]) -> Path:
    secret = tmp_path / "B.password"
    secret.write_text(standin["password"])
    secret.chmod(0o600)
    path = tmp_path / "topology.toml"
    path.write_text(f"""
[dc.{source.src}]
kafka = "{source.bootstrap}"
arangodb = "{standin['coordinator']}"
password_file = "{secret}"

[dc.B]
kafka = "{source.bootstrap}"
arangodb = "{standin['coordinator']}"
password_file = "{secret}"

[[replication]]
from = "{source.src}"
to = "B"
""")
    return path


async def _status(topology: Path) -> tuple[Result, dict[str, Any]]:
    result = await asyncio.to_thread(CliRunner().invoke, main, ["status", "--topology", str(topology), "--json"])
    return result, json.loads(result.output)


async def test_a_shard_waiting_for_a_resync_is_shown_as_such_until_the_resync_heals_it(
    http: ArangoHttp, source: Source, standin_b: dict[str, Any], tmp_path: Path,  # noqa: F811
) -> None:
    db = f"d{source.src}"
    topology = _topology(tmp_path, source, standin_b)
    await source.topics("s11")
    await ensure_topics(source.bootstrap, [feedback_topic(source.src, "B")])
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    await source.insert("s11", "a")
    await source.data("s11", Op.INSERT, seq=3, doc={"_key": "after-gap"})   # seq 2 lost

    feedback = AIOKafkaConsumer(feedback_topic(source.src, "B"), bootstrap_servers=source.bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await feedback.start()
    try:
        async with DestinationWorker(config(source, resync_request_interval_s=0.5), http) as worker:
            await eventually(lambda: _at(http, source, {"s11": 1}), "the message before the gap applied")

            async def shown_waiting() -> bool:
                _, shown = await _status(topology)
                return shown["shards"][0]["state"] == "waiting_for_resync"

            await eventually(shown_waiting, "status showing the shard waiting for its resync")
            result, shown = await _status(topology)
            assert result.exit_code == 1
            assert shown["healthy"] is False and shown["in_sync"] is False
            assert "seq gap" in shown["shards"][0]["reason"]

            # Nobody answered the first request: it is asked again, not forgotten.
            requests = await _feedback(feedback, Op.RESYNC_REQUEST, timeout=20.0)
            while len(requests) < 2:
                requests += await _feedback(feedback, Op.RESYNC_REQUEST, timeout=20.0)
            assert {r.body["shard"] for r in requests} == {"s11"}

            await source.data("s11", Op.RESYNC_BEGIN, seq=4, body={"tick": "3", "reason": "gap"})
            await source.data("s11", Op.RESYNC_DOC, doc={"_key": "a"})
            await source.data("s11", Op.RESYNC_DOC, doc={"_key": "b"})
            await source.data("s11", Op.RESYNC_END, body={"count": 2, "full": True})
            await eventually(lambda: _at(http, source, {"s11": 7}), "resync applied")
            assert worker.stats.stopped == {}

            async def shown_in_sync() -> bool:
                result, shown = await _status(topology)
                return result.exit_code == 0 and shown["in_sync"] and shown["shards"][0]["state"] == "in sync"

            await eventually(shown_in_sync, "status showing the healed shard in sync")
            assert sorted(await all_docs(http, db, "c")) == ["a", "b"]
    finally:
        await feedback.stop()
