"""Feedback is signed by the destination DC's key and verified by the source before it acts.

The source trusts the verify keys the topology lists for its destinations (a set: during a
rotation the old and the new key). A resync request that is unsigned, signed by a key the source
does not trust, or forged under a trusted key id is set aside with its reason and triggers nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dc2dc.agents.destination import DestinationConfig
from dc2dc.agents.destination.feedback import Feedback
from dc2dc.agents.source import SourceComponent
from dc2dc.agents.worker import signer_of
from dc2dc.pipeline.topology import verifier_of_keys
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.source.feedback_reader import FeedbackReader
from dc2dc.pipeline.topology import Datacenter, Topology
from dc2dc.topics.codec import encode
from dc2dc.topics.errors import ConfigError
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.names import feedback_topic
from dc2dc.topics.signing import Signer, generate_keypair, key_id, load_private_key
from source_helpers import (  # noqa: F401 - fixtures
    arango,
    bootstrap,
    caught_up,
    create_collection,
    new_dc_id,
    source_settings,
    standin,
    wait_until,
)


def topology(tmp_path: Path, src: str, verify: list[str], signing: str) -> Topology:
    return Topology.from_dict({
        "dc": {src: {"kafka": "k", "arangodb": "a"},
               "B": {"kafka": "k", "arangodb": "a", "signing_key": signing, "verify_key": verify}},
        "replication": [{"from": src, "to": "B"}],
    }, base=tmp_path)


def destination(topo: Topology, src: str, bootstrap: str, signing_key: str | None = None) -> Feedback:
    """B's own feedback producer, signing as the worker does (with another key if given)."""
    b = topo.dcs["B"]
    if signing_key is not None:
        b = Datacenter(id="B", kafka=b.kafka, arangodb=b.arangodb, signing_key=signing_key)
    return Feedback(DestinationConfig(src=src, dst="B", bootstrap=bootstrap), signer_of(b))


async def request_resync(feedback: Feedback, shard: str) -> None:
    await feedback.start()
    try:
        await feedback.request_resync(shard, "seq gap")
    finally:
        await feedback.stop()


async def write(bootstrap: str, topic: str, records: list[tuple[bytes, list[tuple[str, bytes]]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value, headers=headers)
    finally:
        await producer.stop()


async def test_a_signed_resync_request_resyncs_and_unsigned_or_forged_ones_are_set_aside_with_their_reason(
        standin: dict[str, Any], arango: ArangoHttp, bootstrap: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    await arango.request("POST", "/_api/database", json={"name": "fbsig"})
    shards = await create_collection(arango, "fbsig", "c", shards=1)
    private, public = generate_keypair(tmp_path, "b")
    src = new_dc_id()
    topo = topology(tmp_path, src, ["b.pub"], "b.key")
    settings = source_settings(standin, bootstrap, src, destinations=("B",),
                               feedback_verifier=verifier_of_keys([topo.dcs["B"]]))
    request = Envelope(op=Op.RESYNC_REQUEST, src=src, seq=1, body={"dst": "B", "shard": shards[0], "reason": "seq gap"})
    value, headers = encode(request)
    trusted_kid = key_id(load_private_key(private).public_key())
    caplog.set_level(logging.ERROR, logger="dc2dc.pipeline.quarantine")
    async with SourceComponent(settings) as source:
        await caught_up(source, arango, shards)
        await write(bootstrap, feedback_topic(src, "B"), [
            (value, headers),                                                          # unsigned
            (value, Signer.for_key(Ed25519PrivateKey.generate()).sign(value, headers)),  # untrusted key
            (value, Signer(trusted_kid, Ed25519PrivateKey.generate()).sign(value, headers)),  # forged kid
        ])
        await wait_until(lambda: source.feedback.quarantine.total == 3, what="the three forgeries set aside")
        await asyncio.sleep(1.0)
        assert source.stats["resync_gap"] == 0
        messages = " ".join(r.getMessage() for r in caplog.records)
        assert "not signed" in messages and "unknown key id" in messages and "bad signature" in messages

        await request_resync(destination(topo, src, bootstrap), shards[0])
        await wait_until(lambda: source.stats["resync_gap"] == 1, what="the genuine request acted on")
        assert source.feedback.quarantine.total == 3


async def test_during_a_rotation_either_key_verifies_and_after_it_the_old_key_is_an_unknown_key_id(
        bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    generate_keypair(tmp_path, "old")
    generate_keypair(tmp_path, "new")
    src = new_dc_id()
    overlap = topology(tmp_path, src, ["old.pub", "new.pub"], "new.key")
    after = topology(tmp_path, src, ["new.pub"], "new.key")
    caplog.set_level(logging.ERROR, logger="dc2dc.pipeline.quarantine")

    async def read(topo: Topology, expected: int, rejected: int) -> list[Envelope]:
        seen: list[Envelope] = []
        reader = FeedbackReader(bootstrap=bootstrap, src=src, destinations=("B",), handle=seen.append,
                                verifier=verifier_of_keys([topo.dcs["B"]]))
        task = asyncio.create_task(reader.run())
        try:
            await wait_until(lambda: len(seen) == expected and reader.quarantine.total == rejected,
                             what=f"{expected} accepted, {rejected} refused")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return seen

    for key in ("old.key", "new.key"):
        await request_resync(destination(overlap, src, bootstrap, signing_key=str(tmp_path / key)), f"s-{key}")
    seen = await read(overlap, expected=2, rejected=0)
    assert [e.body["shard"] for e in seen] == ["s-old.key", "s-new.key"]

    await request_resync(destination(after, src, bootstrap, signing_key=str(tmp_path / "old.key")), "s-late-old")
    await request_resync(destination(after, src, bootstrap), "s-late-new")
    seen = await read(after, expected=1, rejected=1)
    assert [e.body["shard"] for e in seen] == ["s-late-new"]
    assert "unknown key id" in " ".join(r.getMessage() for r in caplog.records)


def test_verify_key_is_one_path_or_a_list_of_paths_relative_to_the_topology(tmp_path: Path) -> None:
    assert topology(tmp_path, "A", ["x.pub", "/k/y.pub"], "b.key").dcs["B"].verify_key == \
        (str(tmp_path / "x.pub"), "/k/y.pub")
    single = Topology.from_dict({"dc": {"B": {"kafka": "k", "arangodb": "a", "verify_key": "x.pub"}}}, base=tmp_path)
    assert single.dcs["B"].verify_key == (str(tmp_path / "x.pub"),)
    with pytest.raises(ConfigError, match="verify_key must be a path or a list of paths"):
        Topology.from_dict({"dc": {"B": {"kafka": "k", "arangodb": "a", "verify_key": [1]}}})
