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
