"""The plain answers of `/_api/wal/*` as recorded from ArangoDB 3.11 and 3.12 single servers
(tests/fidelity/recorded: RestWalAccessFirstTick, TickRange, TailingEmpty)."""
from __future__ import annotations

import requests

from .conftest import StandinHandle


def _get(single: StandinHandle, path: str) -> requests.Response:
    return requests.get(single.coordinator + path, auth=single.auth, timeout=10)


def test_last_tick_and_range_answer_without_error_and_code(single_of_version: StandinHandle) -> None:
    # ArangoDB answers these two with the bare object: no "error"/"code" envelope
    assert set(_get(single_of_version, "/_api/wal/lastTick").json()) == {"time", "tick", "server"}
    assert set(_get(single_of_version, "/_api/wal/range").json()) == {"time", "tickMin", "tickMax", "server"}


def test_an_empty_tail_is_a_204_that_still_names_the_dump_content_type(single_of_version: StandinHandle) -> None:
    tick = _get(single_of_version, "/_api/wal/lastTick").json()["tick"]
    got = _get(single_of_version, f"/_api/wal/tail?from={tick}")
    assert got.status_code == 204
    assert got.headers["content-type"].split(";")[0] == "application/x-arango-dump"
