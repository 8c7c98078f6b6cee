"""Which ArangoDB release the stand-in answers as (`--arangodb-version`).

The wire differences between 3.11 and 3.12 that a replicator sees are few; the ones modelled are
in `Flavour`. Any other version string is reported as given (with 3.12 behaviour), so a client's
handling of a release it does not support can be tested.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import VERSION

_RELEASES = {"3.11": "3.11.14", "3.12": VERSION}


@dataclass(frozen=True)
class Flavour:
    version: str         # what /_api/version and the WAL API's "server" part report
    document_ticks: int  # ticks one document operation consumes in the WAL (see wal.Wal)
    supports_rbac: bool  # collection answers carry "supportsRBAC" (new in 3.12)


def flavour(requested: str) -> Flavour:
    """"3.11", "3.12" (their current patch releases) or a full version string such as "4.0.0"."""
    version = _RELEASES.get(requested, requested)
    is_311 = version.startswith("3.11.")
    return Flavour(version, 4 if is_311 else 2, not is_311)
