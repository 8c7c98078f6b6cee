"""The ``dc2dc`` command line.

Development commands (``dev``, ``demo``) live in ``devcluster/`` and are loaded only when asked
for, so the product itself never imports the dev cluster.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import sys
from collections.abc import Mapping

import click
import orjson
from rich.console import Console
from rich.table import Table

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.ops.certs_cli import certs_group
from dc2dc.pipeline.ops.cli_options import json_option, load_topology, topology_option
from dc2dc.pipeline.ops.check import CheckReport, compare
from dc2dc.pipeline.ops.lag import ShardLag, read_heads, shard_lags
from dc2dc.pipeline.ops.topics_cli import topics_group
from dc2dc.pipeline.destination.positions import PositionStore
from dc2dc.pipeline.destination.shard_health import HealthStore, ShardHealth
from dc2dc.pipeline.topology import Datacenter, Topology

# name -> (module, attribute) of commands loaded on first use
_LAZY: dict[str, tuple[str, str]] = {
    "dev": ("dc2dc.devcluster.cli", "dev"),
    "demo": ("dc2dc.devcluster.demo", "demo"),
    "mirrormaker": ("dc2dc.mirrormaker.cli", "mirrormaker"),
    "worker": ("dc2dc.agents.worker", "worker"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_LAZY))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _LAZY:
            module, attr = _LAZY[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="dc2dc")
def main() -> None:
    """dc2dc: asynchronous datacenter-to-datacenter replication for ArangoDB over Kafka."""


main.add_command(certs_group)
main.add_command(topics_group)


def _flow(topology: Topology, src: str | None, dst: str | None) -> tuple[Datacenter, Datacenter]:
    """The flow named by --from/--to; either may be left out when the topology has one such flow."""
    flows = [f for f in topology.flows if (src in (None, f.source)) and (dst in (None, f.target))]
    if len(flows) != 1:
        raise click.UsageError(f"name one flow with --from/--to; candidates: "
                               f"{[f'{f.source}->{f.target}' for f in flows] or 'none'}")
    return topology.dcs[flows[0].source], topology.dcs[flows[0].target]


def _coordinator(dc: Datacenter) -> ArangoHttp:
    return dc.endpoint().connect()


async def flow_lags(source: Datacenter, target: Datacenter) -> list[ShardLag]:
    """Per-shard lag of source -> target: heads in the source's Kafka vs positions stored in the target."""
    lags, _ = await flow_status(source, target)
    return lags


async def flow_status(source: Datacenter, target: Datacenter) -> tuple[list[ShardLag], dict[str, ShardHealth]]:
    """Per-shard lag of source -> target, and the health the target recorded for each shard that is not well."""
    async with _coordinator(target) as http:
        applied = await PositionStore(http, source.id).load()
        health = {shard: h for shard, h in (await HealthStore(http, source.id).load()).items() if not h.healthy}
    return shard_lags(await read_heads(source.kafka, source.id), applied), health


async def flow_check(source: Datacenter, target: Datacenter) -> CheckReport:
    """Compare both sides of a flow through their coordinators."""
    async with _coordinator(source) as a, _coordinator(target) as b:
        return await compare(a, b)


_from_option = click.option("--from", "src", help="source DC of the flow")
_to_option = click.option("--to", "dst", help="destination DC of the flow")


@main.command()
@topology_option
@_from_option
@_to_option
@json_option
def status(topology_path: str, src: str | None, dst: str | None, as_json: bool) -> None:
    """Per-shard lag and health of a flow: newest message produced in the source vs. applied in the destination.

    Exits 1 when a shard is not healthy (stopped, failed, waiting for a resync, or in alarm: its
    position cannot be compared with the source's), 0 otherwise.
    """
    source, target = _flow(load_topology(topology_path), src, dst)

    lags, health = asyncio.run(flow_status(source, target))
    healthy = not health and not any(x.alarm for x in lags)
    if as_json:
        click.echo(orjson.dumps({
            "from": source.id, "to": target.id, "healthy": healthy,
            "in_sync": healthy and all(x.in_sync for x in lags),
            "shards": [{**dataclasses.asdict(x), "behind": x.behind, "lag_ms": x.lag_ms, "alarm": x.alarm,
                        "in_sync": x.in_sync and x.shard not in health, "state": _state(x, health),
                        "reason": _reason(x, health)} for x in lags]}).decode())
    else:
        Console().print(lag_table(lags, f"{source.id} -> {target.id}", health))
    if not healthy:
        raise SystemExit(1)


def _state(lag: ShardLag, health: Mapping[str, ShardHealth]) -> str:
    if lag.shard in health:
        return health[lag.shard].state.value
    if lag.alarm:
        return "alarm"
    return "in sync" if lag.in_sync else "behind"


def _reason(lag: ShardLag, health: Mapping[str, ShardHealth]) -> str:
    return health[lag.shard].reason if lag.shard in health else lag.alarm or ""


_STATE_STYLE = {"in sync": "green", "behind": "yellow"}


def lag_table(lags: list[ShardLag], title: str, health: Mapping[str, ShardHealth] | None = None) -> Table:
    health = health or {}
    table = Table(title=title)
    for column in ("shard", "produced seq", "applied seq", "behind", "lag ms", "state"):
        table.add_column(column, justify="left" if column in ("shard", "state") else "right")
    for x in lags:
        state = _state(x, health)
        shown = f"[{_STATE_STYLE.get(state, 'bold red')}]{state}[/]"
        if _reason(x, health):
            shown += f" ({_reason(x, health)})"
        table.add_row(x.shard, str(x.head_seq), str(x.applied_seq), str(x.behind), str(x.lag_ms), shown)
    return table


@main.group()
def check() -> None:
    """Verify that a destination holds what its source holds."""


@check.command("sync")
@topology_option
@_from_option
@_to_option
@json_option
def check_sync(topology_path: str, src: str | None, dst: str | None, as_json: bool) -> None:
    """Compare structure and per-shard data digests; exit 1 when they differ."""
    source, target = _flow(load_topology(topology_path), src, dst)

    report = asyncio.run(flow_check(source, target))
    if as_json:
        click.echo(orjson.dumps(report.as_dict()).decode())
    else:
        print_report(report, Console())
    if not report.in_sync:
        sys.exit(1)


def print_report(report: CheckReport, console: Console) -> None:
    for difference in report.structure_differences:
        console.print(f"[red]structure[/] {difference}")
    table = Table(title="per-shard comparison")
    for column in ("database", "collection", "shard", "source docs", "destination docs", "state"):
        table.add_column(column)
    for s in report.shards:
        table.add_row(s.db, s.coll, f"{s.index} ({s.source_shard} -> {s.target_shard})", str(s.source.count),
                      str(s.target.count if s.target else "-"), "[green]in sync[/]" if s.in_sync else "[red]DIFFERS[/]")
    console.print(table)
    console.print("[bold green]in sync[/]" if report.in_sync else "[bold red]NOT in sync[/]")


if __name__ == "__main__":
    main()
