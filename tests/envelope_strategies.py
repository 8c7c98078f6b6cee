"""Hypothesis strategies for envelopes, shared by the codec, chunking and signing tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dc2dc.topics.envelope import Envelope, Op

ids = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.floats(
    allow_nan=False, allow_infinity=False
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@st.composite
def envelopes(draw: st.DrawFn, *, chunked: bool | None = None) -> Envelope:
    opt_text = st.none() | st.text(max_size=20)
    chunk = None
    if chunked or (chunked is None and draw(st.booleans())):
        count = draw(st.integers(1, 1000))
        chunk = (draw(st.integers(0, count - 1)), count)
    extra_keys = st.from_regex(r"future_[a-z]{1,6}", fullmatch=True)
    extra: dict[str, Any] = draw(st.dictionaries(extra_keys, json_values, max_size=2))
    return Envelope(
        op=draw(st.sampled_from(Op)),
        src=draw(ids),
        seq=draw(st.integers(0, 2**63 - 1)),
        epoch=draw(st.integers(0, 2**31)),
        tick=str(draw(st.integers(0, 2**64 - 1))),
        server=draw(st.none() | ids),
        ts=draw(st.integers(0, 2**53)),
        db=draw(opt_text),
        coll=draw(opt_text),
        shard=draw(st.none() | ids),
        key=draw(opt_text),
        rev=draw(opt_text),
        tid=draw(opt_text),
        cid=draw(opt_text),
        doc=None if chunk else draw(st.none() | json_objects),
        body=draw(st.none() | json_objects),
        chunk=chunk,
        part=draw(st.text()) if chunk else None,
        part_of=draw(st.sampled_from(["doc", "body"])) if chunk else None,
        extra=extra,
    )
