"""Poison records on the destination: a record that fails to verify, decode or reassemble.

Such a record is set aside with its reason (log line, ``status()["rejected"]``, metric) and the
stream goes on waiting for its genuine next seq: it is not a change, so it consumes no seq.
If that seq never comes, the gap it leaves goes the resync way, as any gap does. A worker is
never stopped by such a record, and nothing unverified is ever applied. Real Kafka (DC B's),
a stand-in cluster, records produced by hand as in ``test_dest_worker``.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dc2dc.agents.destination import DestinationWorker
from dc2dc.agents.metrics import StatusCollector
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.admin import ensure_topics
from dc2dc.topics.chunking import to_records
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import control_topic, feedback_topic, shard_topic
from dc2dc.topics.signing import Signer, Verifier
from dest_helpers import all_docs, http, kafka_b, standin_b  # noqa: F401 (fixtures)
from test_dest_worker import Source, _at, _feedback, _now, _true, coll, config, eventually, source  # noqa: F401


def rejected(worker: DestinationWorker) -> dict[tuple[str, str], int]:
    return {(r["topic"], r["reason"]): r["count"] for r in worker.status()["rejected"]}


async def test_bad_shard_records_are_set_aside_the_stream_waits_for_its_genuine_seq_and_a_lost_one_asks_for_resync(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    key = Ed25519PrivateKey.generate()
    genuine = source.signer = Signer("dcA", key)
    forger = Signer("dcA", Ed25519PrivateKey.generate())   # same key id, other key
    await source.topics("s11", "s12", "s13")
    await ensure_topics(source.bootstrap, [feedback_topic(source.src, "B")])
    await source.structure(1, db, {"c": coll("c1", ["s11", "s12", "s13"])})
    t11, t12, t13 = (shard_topic(source.src, s) for s in ("s11", "s12", "s13"))

    # s11: between seq 1 and the genuine seq 2, an unsigned garbage record, an authentic record that
    # is no envelope, and a forged seq 2 - none of them may take seq 2's place.
    await source.insert("s11", "a")
    await source.producer.send_and_wait(t11, b"\x00 not an envelope")
    await source.producer.send_and_wait(t11, b"{}", headers=genuine.sign(b"{}", [("shard", b"s11")]))
    source.signer = forger
    await source.data("s11", Op.INSERT, seq=2, doc={"_key": "forged"})
    source.signer = genuine
    await source.data("s11", Op.INSERT, seq=2, doc={"_key": "b"})
    await source.insert("s11", "c")

    # s12: the forged record is all there is of seq 2: seq 3 shows the gap.
    await source.insert("s12", "x")
    source.signer = forger
    await source.data("s12", Op.INSERT, seq=2, doc={"_key": "forged"})
    source.signer = genuine
    await source.data("s12", Op.INSERT, seq=3, doc={"_key": "z"})

    # s13: seq 2 is a document in chunks whose middle chunk was lost; seq 3 shows it never completes.
    await source.insert("s13", "p")
    big = Envelope(op=Op.INSERT, src=source.src, seq=2, epoch=1, shard="s13", ts=_now(), tick="2",
                   doc={"_key": "big", "blob": "y" * 450_000})
    chunks = to_records(big, source.limits)
    assert len(chunks) == 3
    for value, headers in (chunks[0], chunks[2]):
        await source.producer.send_and_wait(t13, value, headers=genuine.sign(value, headers))
    source.seqs["s13"] = 2
    await source.insert("s13", "q")

    feedback = AIOKafkaConsumer(feedback_topic(source.src, "B"), bootstrap_servers=source.bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await feedback.start()
    try:
        verifier = Verifier({"dcA": key.public_key()})
        async with DestinationWorker(config(source), http, verifier=verifier) as worker:
            await eventually(lambda: _at(http, source, {"s11": 3, "s12": 1, "s13": 1}), "genuine records applied")
            await eventually(lambda: _true({"s12", "s13"} <= set(worker.stats.stopped)), "both gaps seen")
            requests = await _feedback(feedback, Op.RESYNC_REQUEST,
                                       lambda e: e.body["shard"] in ("s12", "s13"), timeout=20)
            assert {e.body["shard"] for e in requests} >= {"s12", "s13"}
            await eventually(lambda: _true(len(rejected(worker)) == 4), "every bad record counted")
            assert rejected(worker) == {(t11, "signature"): 2, (t11, "decode"): 1,
                                        (t12, "signature"): 1, (t13, "chunk"): 1}
            assert "s11" not in worker.stats.stopped
            assert "seq gap" in worker.stats.stopped["s12"] and "seq gap" in worker.stats.stopped["s13"]
            assert worker.stats.failed is None
            samples = _rejected_samples(worker)
            assert samples[(t11, "signature")] == 2 and samples[(t13, "chunk")] == 1
    finally:
        await feedback.stop()
    assert sorted(await all_docs(http, db, "c")) == ["a", "b", "c", "p", "x"]


def _rejected_samples(worker: DestinationWorker) -> dict[tuple[str, str], float]:
    families = StatusCollector(lambda: {"DestinationWorker": worker.status()}).collect()
    family = next(f for f in families if f.name == "dc2dc_records_rejected")
    return {(s.labels["topic"], s.labels["reason"]): s.value for s in family.samples if s.name.endswith("_total")}


async def test_bad_control_records_are_set_aside_and_later_epochs_still_apply(
    http: ArangoHttp, source: Source
) -> None:
    db = f"d{source.src}"
    key = Ed25519PrivateKey.generate()
    genuine = source.signer = Signer("dcA", key)
    control = control_topic(source.src)
    await source.topics("s11", "s21")
    await source.structure(1, db, {"c": coll("c1", ["s11"])})
    await source.producer.send_and_wait(control, b"garbage")
    await source.producer.send_and_wait(control, b"[1]", headers=genuine.sign(b"[1]", []))
    source.signer = Signer("dcA", Ed25519PrivateKey.generate())
    await source.structure(2, db, {})   # forged: would drop everything
    source.signer = genuine
    # Epoch 2, too large for one record, lost its last chunk: epoch 3 supersedes it.
    snap: dict[str, Any] = {"databases": {db: {"options": {}, "collections": {}}}, "users": {},
                            "padding": "z" * 300_000}
    chunks = to_records(Envelope(op=Op.STRUCTURE, src=source.src, seq=2, epoch=2, ts=_now(), body=snap),
                        source.limits)
    assert len(chunks) == 2
    await source.producer.send_and_wait(control, chunks[0][0], headers=genuine.sign(*chunks[0]))
    await source.structure(3, db, {"c": coll("c1", ["s11"]), "d": coll("c2", ["s21"])})
    await source.insert("s21", "new", epoch=3)

    async with DestinationWorker(config(source), http, verifier=Verifier({"dcA": key.public_key()})) as worker:
        await eventually(lambda: _at(http, source, {"s21": 1}), "data of epoch 3 applied")
        assert worker.structure_epoch == 3
        assert worker.stats.failed is None and worker.stats.control_error is None
        assert rejected(worker) == {(control, "signature"): 2, (control, "decode"): 1}
    assert sorted(await all_docs(http, db, "d")) == ["new"]
