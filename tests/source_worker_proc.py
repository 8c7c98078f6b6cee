"""A source worker in its own process, so a test can kill it with SIGKILL (no clean stop at all).

Usage: ``python tests/source_worker_proc.py '<json of SourceSettings fields>'`` (``sync`` as a
dict of ``SyncSettings`` fields, the retry policies as dicts of ``RetryPolicy`` fields). It prints
``ready`` once started and runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

import orjson

from dc2dc.agents.source import SourceComponent, SourceSettings
from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.retry import RetryPolicy
from dc2dc.pipeline.source.snapshot_sync import SyncSettings


async def main(raw: str) -> None:
    fields = orjson.loads(raw)
    fields["arangodb"] = ArangoEndpoint(**fields["arangodb"])
    if "sync" in fields:
        fields["sync"] = SyncSettings(**fields["sync"])
    for policy in ("resync_retry", "structure_retry"):
        if policy in fields:
            fields[policy] = RetryPolicy(**fields[policy])
    async with SourceComponent(SourceSettings(**fields)) as source:
        print("ready", flush=True)
        await source.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
