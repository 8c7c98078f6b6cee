"""Stand-ins for the replay: one per (mode, ArangoDB release) an example was recorded on, started when
first needed and always stopped, so a 3.11 example meets a stand-in answering as 3.11."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

from standin.conftest import StandinHandle, _start


@pytest.fixture(scope="session")
def standin_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, str], StandinHandle]]:
    """`standin_of(mode, version)` -> a stand-in started with `--mode mode --arangodb-version version`."""
    started: dict[tuple[str, str], StandinHandle] = {}
    with ExitStack() as stack:
        def of(mode: str, version: str) -> StandinHandle:
            if (mode, version) not in started:
                tmp = tmp_path_factory.mktemp(f"fidelity-{mode}-{version}")
                started[mode, version] = stack.enter_context(contextmanager(_start)(tmp, mode, version))
            return started[mode, version]
        yield of
