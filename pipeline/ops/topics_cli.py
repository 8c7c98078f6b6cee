"""``dc2dc topics list|inspect``: dc2dc's topics in one DC's Kafka, and their messages decoded."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from datetime import datetime, timezone
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dc2dc.pipeline.ops.cli_options import json_option, load_topology, topology_option
from dc2dc.pipeline.ops.topics_view import MessageView, TopicInfo, inspect_topic, list_topics
from dc2dc.pipeline.topology import Datacenter, Topology
from dc2dc.topics.errors import Dc2dcError

T = TypeVar("T")

_dc_option = click.option("--dc", "dc_id", required=True, help="the DC whose Kafka to read")


def _dc(topology_path: str, dc_id: str) -> tuple[Topology, Datacenter]:
    topology = load_topology(topology_path)
    if dc_id not in topology.dcs:
        raise click.UsageError(f"DC {dc_id!r} is not in the topology; it has {sorted(topology.dcs)}")
    return topology, topology.dcs[dc_id]


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except Dc2dcError as e:
        raise click.ClickException(str(e)) from None


@click.group("topics")
def topics_group() -> None:
    """dc2dc's topics: sizes, offsets and owners; messages decoded and their signatures checked."""


@topics_group.command("list")
@topology_option
@_dc_option
@json_option
def list_command(topology_path: str, dc_id: str, as_json: bool) -> None:
    """Every dc2dc topic in the DC's Kafka, with offsets, settings, owner and consumer-group lag."""
    topology, dc = _dc(topology_path, dc_id)
    topics = _run(list_topics(topology, dc))
    if as_json:
        click.echo(orjson.dumps([{**dataclasses.asdict(t), "messages": t.messages, "owner": t.owner}
                                 for t in topics]).decode())
        return
    Console(width=200).print(_topics_table(topics, f"dc2dc topics in {dc.id} ({dc.kafka})"))


def _topics_table(topics: list[TopicInfo], title: str) -> Table:
    table = Table(title=title)
    for column in ("topic", "owner", "partitions", "start", "end", "messages", "retention.ms", "cleanup",
                   "groups (committed / lag)"):
        table.add_column(column, justify="right" if column in ("partitions", "start", "end", "messages") else "left")
    for t in topics:
        groups = ", ".join(f"{g.group} {g.committed}/{g.lag}" for g in t.groups)
        table.add_row(t.name, t.owner, str(t.partitions), str(t.start_offset), str(t.end_offset), str(t.messages),
                      t.retention_ms or "?", t.cleanup_policy or "?", groups)
    return table


def _since_ms(since: str | None) -> int | None:
    if since is None:
        return None
    try:
        when = datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter(f"{since!r} is not an ISO 8601 time", param_hint="--since") from None
    # A time without a zone is taken as UTC, like every time dc2dc prints.
    return int((when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp() * 1000)


@topics_group.command("inspect")
@topology_option
@_dc_option
@click.argument("topic")
@click.option("--from-offset", type=click.IntRange(min=0), help="first offset to show (default: the oldest)")
@click.option("--since", help="show records written at or after this ISO 8601 time (UTC unless a zone is given)")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="records per partition")
@json_option
def inspect_command(topology_path: str, dc_id: str, topic: str, from_offset: int | None, since: str | None,
                    limit: int, as_json: bool) -> None:
    """Decode the records of TOPIC and verify each signature with the signing DC's verify_key."""
    if from_offset is not None and since is not None:
        raise click.UsageError("give --from-offset or --since, not both")
    topology, dc = _dc(topology_path, dc_id)
    messages = _run(inspect_topic(topology, dc, topic, from_offset=from_offset, since_ms=_since_ms(since),
                                  limit=limit))
    if as_json:
        for m in messages:
            click.echo(orjson.dumps({**dataclasses.asdict(m), "time": m.time}).decode())
        return
    Console(width=200).print(_messages_table(messages, f"{topic} in {dc.id}"))


def _messages_table(messages: list[MessageView], title: str) -> Table:
    table = Table(title=title)
    for column in ("offset", "time", "op", "seq", "gen", "epoch", "tick", "key/shard", "size", "signature"):
        table.add_column(column, justify="right" if column in ("offset", "seq", "gen", "epoch", "size") else "left")
    for m in messages:
        op = m.op if m.error is None else f"[bold red]UNDECODABLE[/]: {escape(m.error)}"
        sig = "[green]verified[/]" if m.signature == "verified" else f"[bold red]{escape(m.signature)}[/]"
        numbers = ("" if v is None else str(v) for v in (m.seq, m.gen, m.epoch, m.tick))
        table.add_row(str(m.offset), m.time, op, *numbers, m.key or m.shard or "", str(m.size), sig)
    return table
