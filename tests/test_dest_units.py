"""Destination-side pieces that need no server: comparison rules, topic pattern, positions, gate, lag."""

from __future__ import annotations

import asyncio
import re

import pytest

from dc2dc.pipeline.destination.structure_gate import StructureGate
from dc2dc.pipeline.ops.lag import FOLLOW_TOLERANCE_MS, Head, head_of, shard_lags
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.agents.destination import DestinationConfig
from dc2dc.topics.names import control_group, shard_topics_pattern
from dc2dc.pipeline.applied import AppliedPosition, applied_from_wire
from dc2dc.pipeline.destination.positions import Position
from dc2dc.pipeline.destination.structure_requests import covers, differs


def test_covers_accepts_server_defaults_but_not_other_values() -> None:
    desired = {"links": {"c": {"includeAllFields": True}}, "fields": ["a"]}
    actual = {"links": {"c": {"includeAllFields": True, "analyzers": ["identity"]}}, "fields": ["a"], "id": "7"}
    assert covers(actual, desired)
    assert not covers({**actual, "fields": ["a", "b"]}, desired)
    assert not covers({"links": {"c": {"includeAllFields": False}}, "fields": ["a"]}, desired)
    assert not covers({"fields": ["a"]}, desired)


def test_differs_names_only_keys_the_server_reports_with_another_value() -> None:
    actual = {"waitForSync": False, "cacheEnabled": True, "numberOfShards": 3}
    desired = {"waitForSync": True, "cacheEnabled": True, "numberOfShards": 3, "schema": {"rule": {}}}
    assert differs(actual, desired) == ["waitForSync"]
    assert differs(actual, desired, ("numberOfShards", "cacheEnabled")) == []


def test_shard_topic_pattern_matches_exactly_the_shard_topics_of_one_source() -> None:
    rx = re.compile(shard_topics_pattern("A"))
    assert rx.match("dc2dc.A.shard.s1001")
    for other in ("dc2dc.A.control", "dc2dc.AB.shard.s1", "dc2dc.B.shard.s1", "dc2dc.A.shard.s1.x",
                  "dc2dc.A.feedback.B", "xdc2dc.A.shard.s1", "dc2dcXAXshardXs1"):
        assert not rx.match(other), other


def test_destination_group_ids_are_named_after_the_flow() -> None:
    flow = DestinationConfig("A", "B", "127.0.0.1:9092")
    assert (flow.group, control_group(flow.group)) == ("dc2dc.A.B.apply", "dc2dc.A.B.apply.control")
    own = DestinationConfig("A", "B", "127.0.0.1:9092", group_id="mine")
    assert (own.group, control_group(own.group)) == ("mine", "mine.control")


def test_position_resumes_after_the_applied_seq_or_at_an_open_resync() -> None:
    plain = Position(src="A", shard="s1", seq=41, offset=99)
    assert (plain.resume_seq(), plain.resume_offset(), plain.key) == (42, 100, "A__s1")
    in_resync = Position(src="A", shard="s1", seq=41, offset=99, resync_from=30, resync_offset=80)
    assert (in_resync.resume_seq(), in_resync.resume_offset()) == (30, 80)


async def test_a_structure_change_waits_for_running_shard_steps_and_blocks_new_ones() -> None:
    gate, log = StructureGate(), []
    step_may_finish = asyncio.Event()

    async def shard_step(name: str, wait: asyncio.Event | None) -> None:
        async with gate.shared():
            log.append(f"{name} start")
            if wait is not None:
                await wait.wait()
            log.append(f"{name} end")

    async def structure() -> None:
        async with gate.exclusive():
            log.append("structure")

    first = asyncio.create_task(shard_step("s1", step_may_finish))
    await asyncio.sleep(0)
    change = asyncio.create_task(structure())
    await asyncio.sleep(0)
    second = asyncio.create_task(shard_step("s2", None))
    await asyncio.sleep(0.01)
    assert log == ["s1 start"]
    step_may_finish.set()
    await asyncio.gather(first, change, second)
    assert log == ["s1 start", "s1 end", "structure", "s2 start", "s2 end"]


def test_lag_counts_messages_and_source_time_behind() -> None:
    heads = {"s1": Head(seq=10, tick=5, ts=9_000), "s2": Head(seq=4, tick=1, ts=5_000)}
    applied = {"s1": Position(src="A", shard="s1", seq=7, ts=6_500),
               "s2": Position(src="A", shard="s2", seq=4, ts=5_000),
               "s3": Position(src="A", shard="s3", seq=2, ts=1_000)}
    lags = {lag.shard: lag for lag in shard_lags(heads, applied)}
    assert (lags["s1"].behind, lags["s1"].lag_ms, lags["s1"].in_sync) == (3, 2_500, False)
    assert (lags["s2"].behind, lags["s2"].lag_ms, lags["s2"].in_sync) == (0, 0, True)
    assert lags["s3"].in_sync   # topic gone or empty: nothing known to be behind
    unapplied = shard_lags({"s9": Head(seq=3, tick=1, ts=100)}, {})[0]
    assert (unapplied.behind, unapplied.applied_seq) == (3, 0)


def test_a_shard_with_only_recent_heartbeats_pending_is_in_sync_but_one_with_a_change_pending_is_not() -> None:
    applied = {"s1": Position(src="A", shard="s1", seq=7, ts=10_000)}
    (lag,) = shard_lags({"s1": Head(seq=9, tick=5, ts=12_000, change_seq=7)}, applied)
    assert lag.in_sync and lag.behind == 2    # two heartbeats on their way: nothing left to apply
    (lag,) = shard_lags({"s1": Head(seq=9, tick=5, ts=12_000, change_seq=8)}, applied)
    assert not lag.in_sync                     # a change is not applied yet
    (lag,) = shard_lags({"s1": Head(seq=9, tick=5, ts=10_001 + FOLLOW_TOLERANCE_MS, change_seq=7)}, applied)
    assert not lag.in_sync                     # the destination stopped following the stream
    (lag,) = shard_lags({"s1": Head(seq=9, tick=5, ts=12_000)}, applied)
    assert not lag.in_sync                     # not known what the newest records are: behind


def test_the_head_of_a_stream_knows_where_its_changes_end() -> None:
    def env(seq: int, op: Op, gen: int = 5) -> Envelope:
        return Envelope(op=op, src="A", seq=seq, gen=gen, ts=seq)
    head = head_of([env(3, Op.INSERT), env(4, Op.HEARTBEAT), env(5, Op.HEARTBEAT)])
    assert head is not None and (head.seq, head.change_seq) == (5, 3)
    head = head_of([env(8, Op.HEARTBEAT), env(9, Op.HEARTBEAT)])
    assert head is not None and (head.seq, head.change_seq) == (9, 7)   # the change is older than the window
    # A new generation's records alone decide (an old generation's remain in a mirrored topic).
    head = head_of([env(50, Op.INSERT, gen=1), env(1, Op.RESYNC_BEGIN), env(2, Op.HEARTBEAT)])
    assert head is not None and (head.gen, head.seq, head.change_seq) == (5, 2, 1)
    assert head_of([]) is None


def test_a_destination_ahead_of_the_source_is_an_alarm_not_in_sync() -> None:
    (lag,) = shard_lags({"s1": Head(seq=3, tick=1, ts=10)}, {"s1": Position(src="A", shard="s1", seq=5)})
    assert not lag.in_sync and "ahead" in (lag.alarm or "")
    assert lag.behind == 0 and lag.lag_ms == 0   # nothing to wait for: someone must look


def test_a_new_stream_generation_at_the_source_is_an_alarm_until_the_destination_follows_it() -> None:
    head = Head(seq=3, tick=1, ts=10, gen=2000)
    (lag,) = shard_lags({"s1": head}, {"s1": Position(src="A", shard="s1", seq=90, gen=1000)})
    assert (lag.in_sync, lag.behind) == (False, 3) and "generation" in (lag.alarm or "")
    (lag,) = shard_lags({"s1": head}, {"s1": Position(src="A", shard="s1", seq=3, gen=2000)})
    assert lag.in_sync and lag.alarm is None
    (lag,) = shard_lags({"s1": head}, {})
    assert (lag.in_sync, lag.behind, lag.alarm) == (False, 3, None)   # not applied yet is just behind


def test_applied_feedback_carries_the_tick_as_a_string_and_the_source_reads_it_as_an_int() -> None:
    wire = AppliedPosition(seq=7, tick=18446744073709551615, ts=1_000).to_wire()
    assert wire == {"seq": 7, "tick": "18446744073709551615", "ts": 1_000}
    parsed = applied_from_wire({"s1": wire, "s2": {"seq": 1, "tick": "x", "ts": 0}, "s3": {"seq": 2}})
    assert parsed == {"s1": AppliedPosition(seq=7, tick=18446744073709551615, ts=1_000)}, \
        "an entry that does not parse is left out"
