"""The destination side of one replication flow (source DC -> this DC), as plain asyncio components.

It reads the flow's topics from the destination's Kafka (where MirrorMaker 2 mirrors them) and
writes through the destination's coordinator. By role:

* ``worker`` — ``DestinationWorker``: lifecycle, active/standby (the control partition is the
  lock), the main loops;
* ``structure`` — the control topic and the applied structure, behind the structure gate
  (``pipeline.destination.structure_gate``);
* ``shards`` — per-shard intake: assignment, seek, gap handling, one task per shard; the
  decisions themselves are ``pipeline.destination.intake`` (no I/O);
* ``commit`` — the commit step of one shard: drain → apply → store position;
* ``feedback`` — applied positions and resync requests to the source;
* ``clients`` — the Kafka consumers, their rebalance guard, stopping them.
"""

from dc2dc.agents.destination.config import DestinationConfig, DestinationStats
from dc2dc.agents.destination.worker import DestinationWorker

__all__ = ["DestinationConfig", "DestinationStats", "DestinationWorker"]
