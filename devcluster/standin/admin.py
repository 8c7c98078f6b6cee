"""Client for the stand-in's own administration endpoints (`/_admin/standin/...`), for
`dc2dc dev` subcommands and tests. `info` is what `launcher.start_standin` returned."""
from __future__ import annotations

import requests

TIMEOUT = 30


def _call(info: dict, method: str, path: str, body: dict | None = None) -> dict:
    r = requests.request(method, f"{info['coordinator']}/_admin/standin/{path}", json=body or {},
                         auth=(info["username"], info["password"]), timeout=TIMEOUT, verify=False)
    if r.status_code >= 400:
        raise RuntimeError(f"stand-in {path}: HTTP {r.status_code}: {r.text}")
    return r.json()


def state(info: dict) -> dict:
    """Servers (id, short name, role, running, url) and each DBServer's WAL window."""
    return _call(info, "GET", "state")


def move_leader(info: dict, database: str, shard: str, to: str | None = None) -> dict:
    """Make follower `to` (server id or short name; default: the first running follower) lead `shard`."""
    return _call(info, "PUT", "move-leader", {"database": database, "shard": shard, "to": to})


def stop_dbserver(info: dict, server: str) -> dict:
    """Stop a DBServer (id or short name); its shards fail over to running followers at once."""
    return _call(info, "PUT", f"dbserver/{server}/stop")


def start_dbserver(info: dict, server: str) -> dict:
    return _call(info, "PUT", f"dbserver/{server}/start")


def set_wal_retention(info: dict, entries: int | None = None, seconds: float | None = None,
                      server: str | None = None) -> dict:
    """Keep at most `entries` WAL entries / `seconds` of WAL per DBServer (None: unbounded)."""
    return _call(info, "PUT", "wal-retention", {"entries": entries, "seconds": seconds, "server": server})


def purge_wal(info: dict, keep: int = 0, server: str | None = None) -> dict:
    """Drop all but the newest `keep` WAL entries now (whole write batches)."""
    return _call(info, "PUT", "wal-purge", {"keep": keep, "server": server})


def ttl_sweep(info: dict) -> int:
    """Expire TTL-indexed documents now; returns how many were removed."""
    return _call(info, "PUT", "ttl-sweep")["removed"]
