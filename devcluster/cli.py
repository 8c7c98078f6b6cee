"""``dc2dc dev up|down|status``: the dev environment on this machine (never used by the product)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dc2dc.devcluster import up as devup
from dc2dc.pipeline.topology import TopologyError

_STATE_DIR = click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                          help="Folder for all state and logs (default: $DC2DC_DEV_STATE or "
                               "~/.local/state/dc2dc/dev).")


@click.group()
def dev() -> None:
    """Run a multi-DC dev environment (Kafka, MirrorMaker 2, ArangoDB stand-ins) on 127.0.0.1."""


@dev.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print every endpoint as JSON.")
@click.option("--dcs", default="A,B", show_default=True, help="Comma-separated DC ids.")
@click.option("--flows", default=None, help="Replication flows SOURCE:TARGET, comma-separated "
                                            "(default: first DC to each other DC, e.g. A:B).")
@click.option("--no-arangodb", is_flag=True, help="Start Kafka and MirrorMaker 2 only.")
@_STATE_DIR
def up_cmd(as_json: bool, dcs: str, flows: str | None, no_arangodb: bool, state_dir: Path | None) -> None:
    """Start everything and wait until it is ready (MM2 has mirrored a probe on every pair)."""
    dc_ids = tuple(d.strip() for d in dcs.split(",") if d.strip())
    try:
        flow_pairs = devup.parse_flows(flows) if flows is not None else \
            tuple((dc_ids[0], other) for other in dc_ids[1:])
        spec = devup.EnvSpec(state_dir or devup.default_state_dir(), dc_ids, flow_pairs, arangodb=not no_arangodb)
        env = devup.start_environment(spec)
    except (TopologyError, devup.DevEnvError) as exc:
        raise click.ClickException(str(exc)) from exc
    info = env.to_json()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"dev environment up, state in {info['state_dir']}, topology {info['topology']}")
    for dc, spec_ in info["dcs"].items():
        arango = spec_["arangodb"]["coordinator"] if spec_["arangodb"] else "(not started)"
        click.echo(f"  {dc}: kafka {spec_['kafka']['bootstrap']}  arangodb {arango}")
    for dc, mm in info["mirrormaker"].items():
        click.echo(f"  MirrorMaker 2 in {dc}: {', '.join(mm['pairs'])} (pid {mm['pid']})")
    click.echo("stop it with: dc2dc dev down")


@dev.command("down")
@_STATE_DIR
def down_cmd(state_dir: Path | None) -> None:
    """Stop everything of the dev environment, including leftovers of a crashed run."""
    stopped = devup.stop_environment(state_dir or devup.default_state_dir())
    click.echo("\n".join(f"stopped {name}" for name in stopped) or "nothing was running")


@dev.command("status")
@click.option("--json", "as_json", is_flag=True)
@_STATE_DIR
def status_cmd(as_json: bool, state_dir: Path | None) -> None:
    """Show which dev processes run."""
    info = devup.status(state_dir or devup.default_state_dir())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"state {info['state_dir']}: {'running' if info['running'] else 'not running'}")
    for proc in info["processes"]:
        click.echo(f"  {proc['name']:<8} pid {proc['pid']:<8} {'running' if proc['running'] else 'gone'}  "
                   f"{proc['dir']}")


@dev.command("fetch-jars")
def fetch_jars_cmd() -> None:
    """Fetch Apache Kafka's jars with Maven into the cache now (`dev up` would do it on first use)."""
    from dc2dc.devcluster.kafka import ensure_jars

    click.echo(ensure_jars())


def _arangodb(state_dir: Path | None, dc: str) -> dict:
    """The stand-in of ``dc`` as the running environment recorded it."""
    env = devup.status(state_dir or devup.default_state_dir()).get("environment") or {}
    info = (env.get("dcs", {}).get(dc) or {}).get("arangodb")
    if not info:
        raise click.ClickException(f"no running ArangoDB stand-in for DC {dc!r}; run `dc2dc dev up` first")
    return info


@dev.group("arangodb")
def arangodb_group() -> None:
    """Failures to rehearse on a DC's ArangoDB stand-in: leader moves, DBServer outages, WAL loss."""


_DC = click.argument("dc")


def _show(result: object) -> None:
    click.echo(json.dumps(result, indent=2))


@arangodb_group.command("state")
@_DC
@_STATE_DIR
def arangodb_state_cmd(dc: str, state_dir: Path | None) -> None:
    """Servers, their roles and each DBServer's WAL window."""
    from dc2dc.devcluster.standin import admin

    _show(admin.state(_arangodb(state_dir, dc)))


@arangodb_group.command("move-leader")
@_DC
@click.argument("database")
@click.argument("shard")
@click.option("--to", "to", default=None, help="a follower's server id (default: any follower)")
@_STATE_DIR
def move_leader_cmd(dc: str, database: str, shard: str, to: str | None, state_dir: Path | None) -> None:
    """Move SHARD's leadership to a follower; its WAL continues there with that server's ticks."""
    from dc2dc.devcluster.standin import admin

    _show(admin.move_leader(_arangodb(state_dir, dc), database, shard, to))


@arangodb_group.command("stop-dbserver")
@_DC
@click.argument("server")
@_STATE_DIR
def stop_dbserver_cmd(dc: str, server: str, state_dir: Path | None) -> None:
    """Stop a DBServer: its shards fail over to followers."""
    from dc2dc.devcluster.standin import admin

    _show(admin.stop_dbserver(_arangodb(state_dir, dc), server))


@arangodb_group.command("start-dbserver")
@_DC
@click.argument("server")
@_STATE_DIR
def start_dbserver_cmd(dc: str, server: str, state_dir: Path | None) -> None:
    """Start a stopped DBServer again; it rejoins as a follower."""
    from dc2dc.devcluster.standin import admin

    _show(admin.start_dbserver(_arangodb(state_dir, dc), server))


@arangodb_group.command("purge-wal")
@_DC
@click.option("--keep", default=0, show_default=True, help="newest WAL entries to keep per DBServer")
@click.option("--server", default=None, help="only this DBServer")
@_STATE_DIR
def purge_wal_cmd(dc: str, keep: int, server: str | None, state_dir: Path | None) -> None:
    """Purge WAL now: a tailer behind it gets frompresent=false and must resync."""
    from dc2dc.devcluster.standin import admin

    _show(admin.purge_wal(_arangodb(state_dir, dc), keep=keep, server=server))
