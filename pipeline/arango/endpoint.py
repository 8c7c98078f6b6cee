"""How to reach and authenticate to one ArangoDB deployment: its URL and credentials together.

Every connection dc2dc opens (a worker's coordinator, each DBServer a cluster source tails, the
CLI's) is built from one :class:`ArangoEndpoint`, so the credentials are assembled in one place.
Its ``repr`` names the URL and user but never the password or JWT secret.
"""

from __future__ import annotations

import ssl as ssl_module
from dataclasses import dataclass, field, replace

from dc2dc.pipeline.arango.http import ArangoHttp


@dataclass(frozen=True)
class ArangoEndpoint:
    """A coordinator (or single server) URL and the credentials to use on it and its DBServers."""

    url: str
    username: str | None = "root"
    password: str | None = field(default="", repr=False)
    jwt_secret: str | None = field(default=None, repr=False)   # superuser JWT for DBServers; basic auth if None
    ssl: ssl_module.SSLContext | bool | None = None

    def connect(self, *, jwt: bool = False) -> ArangoHttp:
        """A connection to ``url``: basic auth, or the superuser JWT when ``jwt`` and a secret is set."""
        return ArangoHttp(self.url, username=self.username, password=self.password,
                          jwt_secret=self.jwt_secret if jwt else None, ssl=self.ssl)

    def at(self, url: str) -> ArangoEndpoint:
        """The same credentials for another server of the deployment (a DBServer)."""
        return replace(self, url=url)
