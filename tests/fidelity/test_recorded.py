"""Recorded answers of real ArangoDB 3.11 and 3.12 servers, replayed against the stand-in.

Every example must match, or be listed with its reason in `known_differences.toml`; a listed example
that matches again must leave the list, so the list stays the exact set of differences.
"""
from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from standin.conftest import StandinHandle

from .replay import Outcome, Replayer, load

VERSIONS = ("3.11", "3.12")
KNOWN = Path(__file__).parent / "known_differences.toml"


def known_differences() -> dict[str, str]:
    """example@version -> the reason it differs."""
    listed: dict[str, str] = {}
    for entry in tomllib.loads(KNOWN.read_text())["difference"]:
        for ref in entry["examples"]:
            assert ref not in listed, f"{ref} listed twice in {KNOWN.name}"
            listed[ref] = entry["reason"]
    return listed


def replay_all(standin_of: Callable[[str, str], StandinHandle]) -> list[Outcome]:
    """Every example against a stand-in of its mode answering as the release it was recorded on."""
    replayers: dict[tuple[str, str], Replayer] = {}
    outcomes = []
    for version in VERSIONS:
        for ex in load(version):
            key = (ex["mode"], version)
            if key not in replayers:
                handle = standin_of(*key)
                replayers[key] = Replayer(handle.coordinator, handle.auth)
            outcomes.append(replayers[key].run(ex))
    return outcomes


def test_recorded_examples_match_or_are_known_differences(standin_of: Callable[[str, str], StandinHandle],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = replay_all(standin_of)
    listed = known_differences()
    matching = [o for o in outcomes if not o.diffs]
    with capsys.disabled():
        print(f"\n{len(matching)} of {len(outcomes)} recorded examples match")
    regressions = {o.ref: o.diffs for o in outcomes if o.diffs and o.ref not in listed}
    stale = sorted(o.ref for o in matching if o.ref in listed)
    unknown = sorted(set(listed) - {o.ref for o in outcomes})
    assert not regressions, "differences from recorded ArangoDB answers:\n" + "\n".join(
        f"{ref}: " + "; ".join(diffs[:6]) for ref, diffs in sorted(regressions.items()))
    assert not stale, f"these match now; remove them from {KNOWN.name}: {stale}"
    assert not unknown, f"{KNOWN.name} names examples that are not recorded: {unknown}"
