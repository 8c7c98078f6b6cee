"""ArangoDB 3.12.4's AQL query plan cache, as far as clients can see it.

A cursor request with the option `usePlanCache: true` adds an entry for its query (keyed, as in
ArangoDB, by the query string, the `fullCount` option and the collection bind parameters) or
counts a hit on it; `GET /_api/query-plan-cache` lists a database's entries and `DELETE` clears
them. The stand-in has no plans to reuse, so the cache changes nothing but what is listed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class PlanEntry:
    query: str
    bind_vars: dict
    full_count: bool
    data_sources: list[str]
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    hits: int = 0

    def describe(self, key: str) -> dict:
        query_hash = int.from_bytes(hashlib.blake2b(self.query.encode(), digest_size=8).digest(), "big")
        return {"hash": key, "query": self.query, "queryHash": query_hash, "bindVars": self.bind_vars,
                "fullCount": self.full_count, "dataSources": self.data_sources, "created": self.created,
                "hits": self.hits, "memoryUsage": len(self.query) + 64 * len(self.data_sources)}


class PlanCache:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, PlanEntry]] = {}  # database -> key -> entry

    def use(self, database: str, query: str, bind_vars: dict, full_count: bool, data_sources: list[str]) -> None:
        collection_params = {k: v for k, v in sorted(bind_vars.items()) if k.startswith("@")}
        key = hashlib.blake2b(repr((query, full_count, collection_params)).encode(), digest_size=8).hexdigest()
        entries = self._entries.setdefault(database, {})
        if key in entries:
            entries[key].hits += 1
        else:
            entries[key] = PlanEntry(query, collection_params, full_count, sorted(data_sources))

    def entries(self, database: str) -> list[tuple[str, PlanEntry]]:
        return list(self._entries.get(database, {}).items())

    def clear(self, database: str) -> None:
        self._entries.pop(database, None)
