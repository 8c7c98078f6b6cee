"""The ``dc2dc`` command line.

Development commands (``dev``, ``demo``) live in ``devcluster/`` and are loaded only when asked
for, so the product itself never imports the dev cluster.
"""

from __future__ import annotations

import importlib

import click

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
