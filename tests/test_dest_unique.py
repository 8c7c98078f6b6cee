"""The destination applies what the source committed under a unique index, whatever order the
source used to get there (issue 8, case 9).

A step collapses a source stream to each key's final state and sends those in one array request,
which the server runs in no set order. Under a unique index a source can reach a state that no
order of final states reaches from the state before: a swap needs a temporary value. These tests
apply through the real planner and applier against a stand-in cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.errors import ArangoError
from dc2dc.pipeline.destination.apply_batch import Received, plan
from dc2dc.pipeline.destination.document_apply import DocumentWriter, ShardApplier, Target
from dc2dc.topics.envelope import Envelope, Op

from dest_helpers import all_docs, http, shard_ids, standin_b  # noqa: F401 (fixtures)

KEYS = ("k0", "k1", "k2")
VALUES = ("a", "b", "c")
_UNIQUE = {"type": "persistent", "fields": ["email"], "unique": True, "sparse": False, "name": "by_email"}


async def _unique_collection(http: ArangoHttp) -> Target:
    db = f"uniq-{uuid.uuid4().hex[:8]}"
    await http.request("POST", "/_api/database", json={"name": db})
    await http.request("POST", "/_api/collection", db=db, json={"name": "c", "numberOfShards": 1})
    await http.request("POST", "/_api/index", db=db, params={"collection": "c"}, json=_UNIQUE)
    return Target(db, "c", (await shard_ids(http, db, "c"))[0])


class Stream:
    """Builds one source shard's envelopes with consecutive seqs."""

    def __init__(self) -> None:
        self.seq = itertools.count(1)
        self.records: list[Received] = []

    def add(self, op: Op, *, key: str | None = None, doc: dict[str, Any] | None = None, tid: str | None = None) -> None:
        seq = next(self.seq)
        self.records.append(Received(Envelope(op=op, src="A", seq=seq, shard="s1", key=key, doc=doc, tid=tid),
                                     offset=seq))

    def put(self, key: str, email: str, tid: str | None = None) -> None:
        self.add(Op.INSERT, doc={"_key": key, "email": email}, tid=tid)


async def _apply(http: ArangoHttp, target: Target, records: list[Received], *, max_ops: int = 1000) -> None:
    steps, rest = plan(records, max_ops=max_ops)
    assert rest == []
    applier = ShardApplier(DocumentWriter(http))
    for step in steps:
        await applier.apply(step, target)


async def _emails(http: ArangoHttp, target: Target) -> dict[str, str]:
    return {k: d["email"] for k, d in (await all_docs(http, target.db, target.coll)).items()}


def _swap(stream: Stream, tid: str | None) -> None:
    """k1 and k2 exchange their emails through a temporary one, as A must do it."""
    stream.put("k1", "tmp", tid)
    stream.put("k2", "x", tid)
    stream.put("k1", "y", tid)


async def test_a_transaction_that_swaps_unique_values_applies(http: ArangoHttp) -> None:
    target = await _unique_collection(http)
    before = Stream()
    before.put("k1", "x")
    before.put("k2", "y")
    await _apply(http, target, before.records)
    swap = Stream()
    swap.seq = itertools.count(3)
    swap.add(Op.TXN_BEGIN, tid="9")
    _swap(swap, "9")
    swap.add(Op.TXN_COMMIT, tid="9")
    await _apply(http, target, swap.records)
    assert await _emails(http, target) == {"k1": "y", "k2": "x"}


async def test_single_operation_writes_that_swap_unique_values_apply_when_batched(http: ArangoHttp) -> None:
    target = await _unique_collection(http)
    before = Stream()
    before.put("k1", "x")
    before.put("k2", "y")
    before.put("k3", "z")
    await _apply(http, target, before.records)
    stream = Stream()
    stream.seq = itertools.count(4)
    _swap(stream, None)
    stream.put("k3", "w")
    await _apply(http, target, stream.records)
    assert await _emails(http, target) == {"k1": "y", "k2": "x", "k3": "w"}


async def test_a_real_conflict_still_stops_the_shard_and_keeps_the_documents_it_could_not_place(
    http: ArangoHttp,
) -> None:
    target = await _unique_collection(http)
    before = Stream()
    before.put("k1", "x")
    before.put("k2", "y")
    before.put("k9", "z")   # B holds "z" where the source's stream says it is free: a divergence
    await _apply(http, target, before.records)
    stream = Stream()
    stream.seq = itertools.count(4)
    stream.put("k1", "y")
    stream.put("k2", "z")
    with pytest.raises(ArangoError) as err:
        await _apply(http, target, stream.records)
    assert err.value.error_num == 1210 and not err.value.retriable
    assert await _emails(http, target) == {"k1": "x", "k2": "y", "k9": "z"}


@dataclass(frozen=True)
class Txn:
    """Source commits: one stream transaction, or (``plain``) each operation on its own."""

    ops: tuple[tuple[str, str | None], ...]   # (key, email) or (key, None) for a remove
    plain: bool


def _valid(state: dict[str, str], key: str, email: str | None) -> bool:
    return email is None or all(v != email for k, v in state.items() if k != key)


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, str], list[Txn]]:
    """An initial state and commits that are each valid in A's order (the model is A)."""
    initial = dict(zip(draw(st.lists(st.sampled_from(KEYS), unique=True)),
                       draw(st.permutations(VALUES))))
    state = dict(initial)
    txns = []
    for _ in range(draw(st.integers(1, 6))):
        ops = []
        for _ in range(draw(st.integers(1, 8))):
            key = draw(st.sampled_from(KEYS))
            email = draw(st.sampled_from((None,) + VALUES * 2 + ("tmp",)))
            if not _valid(state, key, email):
                continue   # A would refuse this operation (1210): it never reaches the stream
            ops.append((key, email))
            if email is None:
                state.pop(key, None)
            else:
                state[key] = email
            if draw(st.integers(0, 3)) == 0:
                txns.append(Txn(tuple(ops), plain=draw(st.booleans())))
                ops = []
        if ops:
            txns.append(Txn(tuple(ops), plain=draw(st.booleans())))
    return initial, txns


def _model(initial: dict[str, str], txns: list[Txn]) -> dict[str, str]:
    state = dict(initial)
    for txn in txns:
        for key, email in txn.ops:
            if email is None:
                state.pop(key, None)
            else:
                state[key] = email
    return state


def _stream(txns: list[Txn]) -> list[Received]:
    stream = Stream()
    for number, txn in enumerate(txns, 1):
        tid = None if txn.plain else str(number)
        if tid:
            stream.add(Op.TXN_BEGIN, tid=tid)
        for key, email in txn.ops:
            if email is None:
                stream.add(Op.REMOVE, key=key, tid=tid)
            else:
                stream.put(key, email, tid)
        if tid:
            stream.add(Op.TXN_COMMIT, tid=tid)
    return stream.records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), max_ops=st.integers(1, 6))
def test_any_valid_history_under_a_unique_index_applies_to_the_source_state(
    standin_b: dict[str, Any], history: tuple[dict[str, str], list[Txn]], max_ops: int,
) -> None:
    initial, txns = history

    async def run() -> dict[str, str]:
        async with ArangoHttp(standin_b["coordinator"], username=standin_b["username"],
                              password=standin_b["password"]) as client:
            target = await _unique_collection(client)
            if initial:
                await client.request("POST", "/_api/document/c", db=target.db,
                                     json=[{"_key": k, "email": v} for k, v in initial.items()])
            await _apply(client, target, _stream(txns), max_ops=max_ops)
            emails = await _emails(client, target)
            await client.request("DELETE", f"/_api/database/{target.db}")
            return emails

    assert asyncio.run(run()) == _model(initial, txns)
