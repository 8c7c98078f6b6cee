"""AQL queries running now, for `GET /_api/query/current` and `DELETE /_api/query/<id>` (kill).

A query is registered while `/_api/cursor` runs it. Killing one cancels the task that runs it;
the cursor call then fails with ArangoDB's 410 / 1500 "query killed". Only a query that waits
(`SLEEP()`) can be killed part-way: the rest of the evaluation never yields to the event loop.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class RunningQuery:
    id: str
    database: str
    user: str
    query: str
    bind_vars: dict
    task: asyncio.Task | None
    modification: bool
    stream: bool
    started: float = field(default_factory=time.time)
    killed: bool = False

    def describe(self, with_bind_vars: bool) -> dict:
        return {"id": self.id, "database": self.database, "user": self.user, "query": self.query,
                "bindVars": self.bind_vars if with_bind_vars else {},
                "started": datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "runTime": round(time.time() - self.started, 6), "peakMemoryUsage": 0,
                "state": "executing", "stream": self.stream, "modificationQuery": self.modification}


class RunningQueries:
    def __init__(self) -> None:
        self._queries: dict[str, RunningQuery] = {}

    def start(self, query_id: str, database: str, user: str, query: str, bind_vars: dict, *,
              modification: bool, stream: bool) -> RunningQuery:
        running = RunningQuery(query_id, database, user, query, bind_vars, asyncio.current_task(),
                               modification, stream)
        self._queries[query_id] = running
        return running

    def finish(self, running: RunningQuery) -> None:
        self._queries.pop(running.id, None)

    def in_database(self, database: str) -> list[RunningQuery]:
        return [q for q in self._queries.values() if q.database == database]

    def kill(self, database: str, query_id: str) -> bool:
        running = self._queries.get(query_id)
        if running is None or running.database != database or running.killed:
            return False
        running.killed = True
        if running.task is not None:
            running.task.cancel()
        return True
