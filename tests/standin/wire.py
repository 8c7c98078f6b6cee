"""Plain-HTTP helpers for the WAL API, shared by the stand-in tests."""
from __future__ import annotations

import orjson
import requests


def tail(url: str, db: str, headers: dict, **params: object) -> requests.Response:
    """GET /_api/wal/tail on a DBServer (or single server)."""
    return requests.get(f"{url}/_db/{db}/_api/wal/tail", params=params, headers=headers, timeout=10)


def markers(response: requests.Response) -> list[dict]:
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
