"""Order-independent collection checksums and revisions, comparable between stand-ins."""
from __future__ import annotations

import hashlib
from typing import Iterable

import orjson

from .ids import decode_rev, encode_rev

_MASK = (1 << 64) - 1


def _h(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def checksum(docs: Iterable[dict], *, with_revisions: bool, with_data: bool) -> str:
    total = 0
    for doc in docs:
        if with_data:
            part = {k: v for k, v in doc.items() if k not in ("_id", "_rev") or (k == "_rev" and with_revisions)}
            value = _h(orjson.dumps(part, option=orjson.OPT_SORT_KEYS))
        else:
            fields = [doc["_key"]]
            if with_revisions:
                fields.append(doc["_rev"])
            if "_from" in doc:
                fields += [doc["_from"], doc.get("_to", "")]
            value = _h("\x00".join(fields).encode())
        total = (total + value) & _MASK
    return str(total)


def max_revision(docs: Iterable[dict]) -> str:
    best = 0
    for doc in docs:
        try:
            v = decode_rev(doc["_rev"])
        except ValueError:
            continue
        if v > best:
            best = v
    return encode_rev(best) if best else "0"
