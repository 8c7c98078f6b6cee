"""Throughput of the record path without Kafka: encode+sign (source) and verify+decode (destination).

Run: ``python bench/codec.py [--count N] [--doc-bytes B]``; prints one JSON object (msgs/s).
Single-threaded, so the figures are per worker core.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import time

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dc2dc.topics.chunking import Reassembler, to_records
from dc2dc.topics.codec import decode, encode
from dc2dc.topics.envelope import Envelope, Op
from dc2dc.topics.signing import Signer, Verifier


def make_doc(i: int, size: int) -> dict:
    filler = (string.ascii_letters * (size // len(string.ascii_letters) + 1))
    doc = {"_key": f"k{i}", "_rev": f"_r{i}", "n": i, "tags": ["a", "b"], "text": ""}
    doc["text"] = filler[: max(0, size - len(orjson.dumps(doc)))]
    return doc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--doc-bytes", type=int, default=1024)
    parser.add_argument("--large-mb", type=int, default=32, help="document size for the chunking run")
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    signer, verifier = Signer("bench-1", key), Verifier({"bench-1": key.public_key()})
    envs = [
        Envelope(op=Op.INSERT, src="A", seq=i + 1, shard="s100001", db="db", coll="c",
                 key=f"k{i}", rev=f"_r{i}", tick=str(10**15 + i), server="PRMR-1",
                 ts=1_700_000_000_000 + i, epoch=3, doc=make_doc(i, args.doc_bytes))
        for i in range(args.count)
    ]

    t0 = time.perf_counter()
    records = []
    for env in envs:
        value, headers = encode(env)
        records.append((value, signer.sign(value, headers)))
    t1 = time.perf_counter()
    for value, headers in records:
        verifier.verify(value, headers, expected_shard="s100001")
        decode(value, headers)
    t2 = time.perf_counter()
    for env in envs:
        encode(env)
    t3 = time.perf_counter()
    for value, headers in records:
        decode(value, headers)
    t4 = time.perf_counter()
    large = Envelope(op=Op.INSERT, src="A", seq=1, shard="s100001", key="big",
                     doc=make_doc(0, args.large_mb * 1024 * 1024))
    chunks = [(v, signer.sign(v, h)) for v, h in to_records(large)]
    t5 = time.perf_counter()
    reassembler = Reassembler()
    for value, headers in chunks:
        verifier.verify(value, headers)
        whole = reassembler.feed(decode(value, headers))
    t6 = time.perf_counter()
    assert whole == large

    print(json.dumps({
        "bench": "codec",
        "count": args.count,
        "doc_bytes": args.doc_bytes,
        "value_bytes_avg": round(sum(len(v) for v, _ in records) / len(records)),
        "encode_sign_msgs_per_s": round(args.count / (t1 - t0)),
        "verify_decode_msgs_per_s": round(args.count / (t2 - t1)),
        "encode_only_msgs_per_s": round(args.count / (t3 - t2)),
        "decode_only_msgs_per_s": round(args.count / (t4 - t3)),
        "large_doc_mb": args.large_mb,
        "large_doc_chunks": len(chunks),
        "large_split_sign_s": round(t5 - t4, 3),
        "large_verify_reassemble_s": round(t6 - t5, 3),
        "cpu_count": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
