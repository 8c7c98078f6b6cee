"""Batching a shard stream: batches applied in order equal the ops applied one by one.

The reference model below applies envelopes one at a time with the contract's meaning; the
batch model applies ``plan``'s steps the way the executor does (truncate, then removes and
upserts of disjoint keys, transactions as one unit, resync cleanup at the end). Hypothesis
checks that both end in the same state for any stream, any way of cutting it into polls, and
any replay of a suffix from a stored position.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dc2dc.pipeline.destination.apply_batch import Received, Step, StreamProtocolError, plan
from dc2dc.topics.envelope import Envelope, Op

KEYS = ["a", "b", "c", "d", "e"]


def env(op: Op, seq: int, key: str | None = None, value: int = 0, tid: str | None = None,
        body: dict[str, Any] | None = None) -> Envelope:
    doc = {"_key": key, "_rev": f"r{seq}", "v": value} if op in (Op.INSERT, Op.RESYNC_DOC) else None
    return Envelope(op=op, src="A", seq=seq, shard="s1", key=key, doc=doc, tid=tid, body=body)


def rec(e: Envelope) -> Received:
    return Received(e, offset=e.seq + 100)


# ---- the two models --------------------------------------------------------------------------

def apply_one_by_one(state: dict[str, Any], envs: list[Envelope]) -> dict[str, Any]:
    state = dict(state)
    sent: set[str] | None = None
    pending: list[Envelope] | None = None

    def one(e: Envelope) -> None:
        if e.op in (Op.INSERT, Op.RESYNC_DOC):
            state[e.doc["_key"]] = e.doc
            if sent is not None:
                sent.add(e.doc["_key"])
        elif e.op in (Op.REMOVE, Op.RESYNC_REMOVE):
            state.pop(e.key, None)
        elif e.op is Op.TRUNCATE:
            state.clear()
            if sent is not None:
                sent.clear()

    for e in envs:
        if e.op is Op.TXN_BEGIN:
            pending = []
        elif e.op is Op.TXN_COMMIT:
            for p in pending or []:
                one(p)
            pending = None
        elif e.op is Op.TXN_ABORT:
            pending = None
        elif pending is not None:
            pending.append(e)
        elif e.op is Op.RESYNC_BEGIN:
            sent = set()
        elif e.op is Op.RESYNC_END:
            if e.body.get("full"):
                for k in [k for k in state if k not in sent]:
                    del state[k]
            sent = None
        else:
            one(e)
    return state


class BatchModel:
    """What arango_apply's executor does with steps, on a dict instead of a shard."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)
        self.sent: set[str] | None = None

    def apply(self, step: Step) -> None:
        assert not set(step.upserts) & set(step.removes), "a key twice in one batch"
        if step.resync == "begin":
            self.sent = set()
            return
        if step.resync == "end":
            if step.body.get("full"):
                self.state = {k: v for k, v in self.state.items() if k in self.sent}
            self.sent = None
            return
        if step.truncate:
            self.state.clear()
            if self.sent is not None:
                self.sent.clear()
        for k in step.removes:
            self.state.pop(k, None)
        for k, d in step.upserts.items():
            self.state[k] = d
            if self.sent is not None:
                self.sent.add(k)


def resume_seq(steps: list[Step], done: int) -> int:
    """Where a restarted applier resumes after ``done`` steps: inside a resync, at its begin."""
    resync_from = None
    for s in steps[:done]:
        if s.resync == "begin":
            resync_from = s.first_seq
        elif s.resync == "end":
            resync_from = None
    if resync_from is not None:
        return resync_from
    return steps[done - 1].last.env.seq + 1 if done else 1


# ---- stream generator ------------------------------------------------------------------------

@st.composite
def streams(draw: st.DrawFn) -> list[Envelope]:
    """A well-formed shard stream: plain ops, transactions, truncates, resyncs, heartbeats."""
    envs: list[Envelope] = []

    def nxt() -> int:
        return len(envs) + 1

    def data_op() -> None:
        kind = draw(st.sampled_from(["ins", "ins", "ins", "rem", "trunc", "hb"]))
        k = draw(st.sampled_from(KEYS))
        if kind == "ins":
            envs.append(env(Op.INSERT, nxt(), k, draw(st.integers(0, 9))))
        elif kind == "rem":
            envs.append(env(Op.REMOVE, nxt(), k))
        elif kind == "trunc":
            envs.append(env(Op.TRUNCATE, nxt()))
        else:
            envs.append(env(Op.HEARTBEAT, nxt()))

    for _ in range(draw(st.integers(0, 12))):
        block = draw(st.sampled_from(["op", "op", "op", "txn", "resync"]))
        if block == "op":
            data_op()
        elif block == "txn":
            tid = f"t{nxt()}"
            envs.append(env(Op.TXN_BEGIN, nxt(), tid=tid))
            for _ in range(draw(st.integers(0, 5))):
                kind = draw(st.sampled_from(["ins", "ins", "rem", "trunc"]))
                k = draw(st.sampled_from(KEYS))
                op = {"ins": Op.INSERT, "rem": Op.REMOVE, "trunc": Op.TRUNCATE}[kind]
                envs.append(env(op, nxt(), None if op is Op.TRUNCATE else k, draw(st.integers(0, 9)), tid=tid))
            end = draw(st.sampled_from([Op.TXN_COMMIT, Op.TXN_COMMIT, Op.TXN_ABORT]))
            envs.append(env(end, nxt(), tid=tid))
        else:
            envs.append(env(Op.RESYNC_BEGIN, nxt(), body={"tick": "1", "reason": "gap"}))
            for k in draw(st.lists(st.sampled_from(KEYS), unique=True)):
                envs.append(env(Op.RESYNC_DOC, nxt(), k, draw(st.integers(0, 9))))
            envs.append(env(Op.RESYNC_END, nxt(), body={"count": 0, "full": draw(st.booleans())}))
    return envs


initial_states = st.dictionaries(st.sampled_from(KEYS), st.just({"v": "old"}), max_size=5)


# ---- properties ------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(envs=streams(), start=initial_states, max_ops=st.integers(1, 4))
def test_batches_applied_in_order_equal_ops_applied_one_by_one(
    envs: list[Envelope], start: dict[str, Any], max_ops: int
) -> None:
    steps, rest = plan([rec(e) for e in envs], max_ops=max_ops)
    assert rest == []
    model = BatchModel(start)
    for s in steps:
        model.apply(s)
    assert model.state == apply_one_by_one(start, envs)


@settings(max_examples=300, deadline=None)
@given(envs=streams(), max_ops=st.integers(1, 4))
def test_steps_cover_every_seq_once_in_order_and_respect_the_size_limit(envs: list[Envelope], max_ops: int) -> None:
    steps, _ = plan([rec(e) for e in envs], max_ops=max_ops)
    covered = [seq for s in steps for seq in range(s.first_seq, s.last.env.seq + 1)]
    assert covered == [e.seq for e in envs]
    assert sum(s.messages for s in steps) == len(envs)
    for s in steps:
        assert s.last.offset == s.last.env.seq + 100
        if s.tid is None:
            assert s.ops <= max_ops


@settings(max_examples=300, deadline=None)
@given(envs=streams(), cuts=st.lists(st.integers(0, 60), max_size=6))
def test_polling_in_arbitrary_pieces_gives_the_same_result(envs: list[Envelope], cuts: list[int]) -> None:
    # The consumer plans whatever one poll returned plus the rest held back from the last one.
    bounds = sorted({min(c, len(envs)) for c in cuts} | {len(envs)})
    model, held, prev = BatchModel({}), [], 0
    for b in bounds:
        steps, held = plan(held + [rec(e) for e in envs[prev:b]])
        prev = b
        for s in steps:
            model.apply(s)
    assert held == []
    assert model.state == apply_one_by_one({}, envs)


@settings(max_examples=300, deadline=None)
@given(envs=streams(), max_ops=st.integers(1, 4), data=st.data())
def test_replaying_from_any_stored_position_converges(envs: list[Envelope], max_ops: int, data: st.DataObject) -> None:
    # A worker killed after storing the position of step `done` (or killed before storing it,
    # with the step's data already applied) replays the stream from where that position says.
    steps, _ = plan([rec(e) for e in envs], max_ops=max_ops)
    final = apply_one_by_one({}, envs)
    done = data.draw(st.integers(0, len(steps)))
    extra = data.draw(st.integers(done, len(steps)))   # steps applied beyond the stored position
    model = BatchModel({})
    for s in steps[:extra]:
        model.apply(s)
    frm = resume_seq(steps, done)
    replay, _ = plan([rec(e) for e in envs if e.seq >= frm], max_ops=max_ops)
    restarted = BatchModel(model.state)
    for s in replay:
        restarted.apply(s)
    assert restarted.state == final


# ---- examples --------------------------------------------------------------------------------

def test_a_thousand_updates_of_one_key_collapse_to_the_last_value() -> None:
    envs = [env(Op.INSERT, i, "hot", i) for i in range(1, 1001)]
    steps, rest = plan([rec(e) for e in envs])
    assert rest == []
    assert len(steps) == 1
    assert steps[0].upserts == {"hot": {"_key": "hot", "_rev": "r1000", "v": 1000}}
    assert steps[0].last.env.seq == 1000 and steps[0].messages == 1000


def test_insert_then_remove_of_one_key_is_one_remove() -> None:
    steps, _ = plan([rec(env(Op.INSERT, 1, "k", 1)), rec(env(Op.REMOVE, 2, "k"))])
    assert steps[0].upserts == {} and list(steps[0].removes) == ["k"]


def test_size_limit_cuts_between_keys() -> None:
    envs = [env(Op.INSERT, i, f"k{i}") for i in range(1, 6)]
    steps, _ = plan([rec(e) for e in envs], max_ops=2)
    assert [list(s.upserts) for s in steps] == [["k1", "k2"], ["k3", "k4"], ["k5"]]


def test_byte_limit_cuts_before_the_batch_grows_past_it() -> None:
    envs = [env(Op.INSERT, i, f"k{i}") for i in range(1, 4)]
    steps, _ = plan([rec(e) for e in envs], max_bytes=1)
    assert [list(s.upserts) for s in steps] == [["k1"], ["k2"], ["k3"]]


def test_a_transaction_is_one_step_and_never_merged_with_plain_ops() -> None:
    envs = [env(Op.INSERT, 1, "a"), env(Op.TXN_BEGIN, 2, tid="9"), env(Op.INSERT, 3, "b", tid="9"),
            env(Op.INSERT, 4, "c", tid="9"), env(Op.TXN_COMMIT, 5, tid="9"), env(Op.INSERT, 6, "d")]
    steps, _ = plan([rec(e) for e in envs], max_ops=1)
    assert [(s.tid, sorted(s.upserts)) for s in steps] == [(None, ["a"]), ("9", ["b", "c"]), (None, ["d"])]
    assert (steps[1].first_seq, steps[1].last.env.seq) == (2, 5)


def test_an_open_transaction_waits_for_its_commit() -> None:
    envs = [env(Op.INSERT, 1, "a"), env(Op.TXN_BEGIN, 2, tid="9"), env(Op.INSERT, 3, "b", tid="9")]
    steps, rest = plan([rec(e) for e in envs])
    assert [s.last.env.seq for s in steps] == [1]
    assert [r.env.seq for r in rest] == [2, 3]


def test_truncate_voids_earlier_ops_of_its_step_and_keeps_later_ones() -> None:
    envs = [env(Op.INSERT, 1, "a"), env(Op.TRUNCATE, 2), env(Op.INSERT, 3, "b")]
    (step,), _ = plan([rec(e) for e in envs])
    assert step.truncate and list(step.upserts) == ["b"]


def test_resync_boundaries_stand_alone() -> None:
    envs = [env(Op.INSERT, 1, "a"), env(Op.RESYNC_BEGIN, 2, body={"tick": "5"}), env(Op.RESYNC_DOC, 3, "b"),
            env(Op.RESYNC_END, 4, body={"count": 1, "full": True}), env(Op.INSERT, 5, "c")]
    steps, _ = plan([rec(e) for e in envs])
    assert [(s.resync, s.first_seq) for s in steps] == [(None, 1), ("begin", 2), (None, 3), ("end", 4), (None, 5)]
    assert steps[3].body == {"count": 1, "full": True}


def test_ops_of_a_transaction_entered_after_its_begin_apply_as_plain_ops() -> None:
    envs = [env(Op.INSERT, 1, "a", tid="9"), env(Op.TXN_COMMIT, 2, tid="9"), env(Op.INSERT, 3, "b")]
    (step,), rest = plan([rec(e) for e in envs])
    assert step.tid is None and sorted(step.upserts) == ["a", "b"] and rest == []


def test_a_resync_after_a_gap_supersedes_a_transaction_whose_end_was_lost() -> None:
    envs = [env(Op.TXN_BEGIN, 1, tid="1"), env(Op.INSERT, 2, "a", tid="1"),
            env(Op.RESYNC_BEGIN, 9, body={"tick": "5"}), env(Op.RESYNC_DOC, 10, "b")]
    steps, rest = plan([rec(e) for e in envs])
    assert rest == [] and [(s.resync, sorted(s.upserts)) for s in steps] == [("begin", []), (None, ["b"])]


@pytest.mark.parametrize("bad", [
    [env(Op.TXN_BEGIN, 1, tid="1"), env(Op.INSERT, 2, "a", tid="2")],
    [env(Op.TXN_BEGIN, 1, tid="1"), env(Op.TXN_BEGIN, 2, tid="2")],
    [env(Op.TXN_BEGIN, 1, tid="1"), env(Op.TXN_COMMIT, 2, tid="2")],
    [env(Op.TXN_BEGIN, 1, tid="0")],
    [env(Op.STRUCTURE, 1)],
    [Envelope(op=Op.INSERT, src="A", seq=1, shard="s1", doc={"no": "key"})],
    [Envelope(op=Op.REMOVE, src="A", seq=1, shard="s1")],
])
def test_a_stream_that_breaks_the_contract_is_refused_loudly(bad: list[Envelope]) -> None:
    with pytest.raises(StreamProtocolError):
        plan([rec(e) for e in bad])
