"""dc2dc reads the ArangoDB release at start: 3.11 and 3.12 are accepted, anything else is refused
with an error naming the release (a stand-in started with that version string answers it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.pipeline.arango.server_version import (ServerVersion, UnsupportedVersion, check_server_version,
                                                 parse_version)
from dc2dc.agents.destination import DestinationConfig, DestinationWorker
from dc2dc.agents.source import SourceComponent
from source_helpers import new_dc_id, run_standin, source_settings


async def _check(tmp_path: Path, version: str) -> ServerVersion:
    """Start a single-server stand-in reporting ``version``, check it, stop it."""
    standin = run_standin(tmp_path, mode="single", version=version)
    info = next(standin)
    try:
        async with ArangoHttp(info["coordinator"], username=info["username"], password=info["password"]) as http:
            return await check_server_version(http)
    finally:
        standin.close()


@pytest.mark.parametrize(("started_as", "release"), [("3.11", "3.11"), ("3.12", "3.12")])
async def test_supported_releases_are_accepted(tmp_path: Path, started_as: str, release: str) -> None:
    version = await _check(tmp_path, started_as)
    assert version.release == release


@pytest.mark.parametrize("reported", ["4.0.0", "3.10.14", "3.13.0-devel"])
async def test_other_releases_are_refused_by_name_and_never_retried(tmp_path: Path, reported: str) -> None:
    with pytest.raises(UnsupportedVersion) as refused:
        await _check(tmp_path, reported)
    assert f"ArangoDB {reported} " in refused.value.message and "supported: 3.11, 3.12" in refused.value.message
    assert not refused.value.retriable
    if reported.startswith("4."):
        assert "WAL access on DBServers" in refused.value.message


def test_version_strings_with_suffixes_are_read_and_garbage_refused() -> None:
    assert (parse_version("3.11.14-1").major, parse_version("3.11.14-1").minor) == (3, 11)
    with pytest.raises(UnsupportedVersion):
        parse_version("unknown")


async def test_source_and_destination_workers_refuse_to_start_on_an_unsupported_release(
        tmp_path: Path, kafka_two_dc: Any) -> None:
    standin = run_standin(tmp_path, mode="cluster", version="4.0.0")
    info = next(standin)
    try:
        bootstrap = kafka_two_dc.bootstrap("A")
        with pytest.raises(UnsupportedVersion, match="ArangoDB 4.0.0"):
            await SourceComponent(source_settings(info, bootstrap, new_dc_id())).start()
        async with ArangoHttp(info["coordinator"], username=info["username"], password=info["password"]) as http:
            with pytest.raises(UnsupportedVersion, match="ArangoDB 4.0.0"):
                await DestinationWorker(DestinationConfig(src=new_dc_id(), dst="B", bootstrap=bootstrap), http).start()
    finally:
        standin.close()
