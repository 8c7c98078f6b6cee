"""What both sides know of a structure snapshot: which names are system names and how shards sort.

The source writes snapshots (``pipeline/source/structure_read.py``) and the destination reads them
(``pipeline/destination/``); the rules they must agree on live here, once.
"""

from __future__ import annotations

import re

_SHARD_NUMBER = re.compile(r"\d+")


def is_system(name: str) -> bool:
    return name.startswith("_")


def shard_order(shard: str) -> tuple[int, str]:
    """Sort key of shard ids: numerically (``s99`` before ``s100``) = hash-slot order."""
    m = _SHARD_NUMBER.search(shard)
    return (int(m.group()) if m else 0, shard)
