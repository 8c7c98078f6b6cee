"""What every ``dc2dc`` command group shares: the topology and output options, and loading the topology."""

from __future__ import annotations

import click

from dc2dc.pipeline.topology import Topology, TopologyError

topology_option = click.option("--topology", "topology_path", type=click.Path(exists=True, dir_okay=False),
                               required=True, help="the topology TOML file")
json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def load_topology(topology_path: str) -> Topology:
    """The topology, or a clear CLI error naming what is wrong with it."""
    try:
        return Topology.load(topology_path)
    except (OSError, TopologyError) as e:
        raise click.ClickException(str(e)) from None
