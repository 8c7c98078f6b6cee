"""Which ArangoDB release a deployment runs, and whether dc2dc can work with it.

dc2dc reads the WAL of every data server (``/_api/wal/tail``), dumps through replication batches
and authenticates to DBServers with the cluster's JWT secret: interfaces whose behaviour it has
been tested against on ArangoDB 3.11 and 3.12 only (ARCHITECTURE.md, "ArangoDB versions"). A
release outside that range is refused at start with an error that names it, rather than
replicated on assumptions that may no longer hold (ArangoDB 4 removes the applier endpoints and
no longer documents WAL access on DBServers for users).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.errors import Dc2dcError

SUPPORTED = ((3, 11), (3, 12))

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class UnsupportedVersion(Dc2dcError):
    """The deployment runs an ArangoDB release dc2dc does not support (never retried)."""


@dataclass(frozen=True)
class ServerVersion:
    text: str    # as the server reports it, e.g. "3.12.4" or "3.11.14-1"
    major: int
    minor: int

    @property
    def release(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_version(text: str) -> ServerVersion:
    """``"3.12.4"``, ``"3.11.14-1"``, ``"3.13.0-devel"`` -> its major and minor release."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise UnsupportedVersion(f"ArangoDB reports version {text!r}, which dc2dc cannot read")
    return ServerVersion(text, int(match.group(1)), int(match.group(2)))


async def check_server_version(http: ArangoHttp) -> ServerVersion:
    """The release behind ``http`` (``GET /_api/version``); ``UnsupportedVersion`` unless supported."""
    body = (await http.request("GET", "/_api/version")).json() or {}
    version = parse_version(str(body.get("version", "")))
    if (version.major, version.minor) in SUPPORTED:
        return version
    supported = ", ".join(f"{major}.{minor}" for major, minor in SUPPORTED)
    why = ""
    if version.major >= 4:
        why = ("; ArangoDB 4 takes the JWT secret from a keyfile only, has no applier endpoints and "
               "does not support WAL access on DBServers for users, which dc2dc tails")
    raise UnsupportedVersion(f"ArangoDB {version.text} at {http.base_url} is not supported by dc2dc "
                             f"(supported: {supported}){why}")
