"""AQL through ``/_api/cursor``, page by page, so results of any size stream in bounded memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from dc2dc.pipeline.arango.http import ArangoHttp


async def query(
    http: ArangoHttp,
    aql: str,
    *,
    db: str,
    bind_vars: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    batch_size: int = 1000,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[Any]:
    """Yield every result of ``aql``; the server-side cursor is read to its end (and so released)."""
    body = (await http.request("POST", "/_api/cursor", db=db, headers=headers, json={
        "query": aql, "bindVars": dict(bind_vars or {}), "batchSize": batch_size, "options": dict(options or {}),
    })).json()
    while True:
        for item in body.get("result") or []:
            yield item
        if not body.get("hasMore"):
            return
        # POST /_api/cursor/<id> is the 3.11+ spelling; PUT is deprecated but the same.
        body = (await http.request("POST", f"/_api/cursor/{body['id']}", db=db, headers=headers)).json()
