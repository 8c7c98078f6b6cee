"""Stream generations: how a stream that restarted its numbering is told apart from old news.

A shard topic's seqs and the control topic's epochs are read back from the topic itself when a
source worker starts (Kafka is the source's checkpoint store). A topic found *empty* — the
first start, retention ran out while the source was down, or an operator re-created it — leaves
nothing to continue from: the worker starts a new generation of that stream. Every record of
the stream carries the generation's id (``Envelope.gen``), and the id is read back with the
last record like the seq, so it stays the same for as long as the topic keeps a record.

The id is the source's clock in milliseconds when the generation began, so ids *order* the
generations of one stream: the newer is always the larger, and a destination holding records
of an old generation (B's mirror of a topic keeps them after A's copy was re-created) drops
them instead of taking them for a new stream. On the control topic the epochs of a generation
count up from its id, so epochs order across generations too (``structure_publisher``). That
holds as long as a source host's clock does not run back by more than the life of a generation
(at least until its topic was lost: days of retention, or an operator's deliberate re-creation). Records written before generations
existed carry 0, older than every generation.
"""

from __future__ import annotations

import time


def new_generation() -> int:
    """The id of a generation that begins now."""
    return time.time_ns() // 1_000_000
