"""The source deployment as a source worker sees it: which servers hold a WAL, who leads which shard.

A cluster's structure comes from a coordinator, its data from the DBServers (spec section 0
item 15): the coordinator's ``/_admin/cluster/health`` names the DBServers and their endpoints,
``/_db/<db>/_admin/cluster/shardDistribution`` names each shard's current leader. DBServers are
reached directly with a superuser JWT (or the same basic credentials when no JWT secret is
configured, which works when the user is an admin).

A single server (role ``SINGLE``) is its own only data server. Its collections play the part of
shards: the shard id of a single-server collection is ``"c<collection id>"`` (e.g. ``c10042``),
which is stable for the collection's life, differs for a dropped and re-created name, and is
safe in a topic name. ``ServerInfo.id`` of a single server is the ``serverId`` its WAL API reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from dc2dc.pipeline.arango.endpoint import ArangoEndpoint
from dc2dc.pipeline.arango.http import ArangoHttp
from dc2dc.topics.errors import ConfigError

ROLE_SINGLE = "SINGLE"
ROLE_COORDINATOR = "COORDINATOR"


def single_shard_id(collection_id: str) -> str:
    """The shard id dc2dc gives a single server's collection."""
    return f"c{collection_id}"


@dataclass(frozen=True)
class ServerInfo:
    """A server whose WAL dc2dc tails: a DBServer, or the single server itself."""

    id: str
    name: str
    url: str


class SourceCluster:
    """Connections to a source deployment: its coordinator (or single server) and data servers."""

    def __init__(
        self,
        coordinator: ArangoHttp,
        endpoint: ArangoEndpoint | None = None,
    ) -> None:
        self.coordinator = coordinator
        self._endpoint = endpoint or ArangoEndpoint(coordinator.base_url, username=None)
        self.role: str = ""
        self._servers: dict[str, ServerInfo] = {}
        self._clients: dict[str, ArangoHttp] = {}

    @property
    def single(self) -> bool:
        return self.role == ROLE_SINGLE

    async def detect(self) -> None:
        """Learn the role; a single server also learns its own server id."""
        role = (await self.coordinator.request("GET", "/_admin/server/role")).json()["role"].upper()
        if role not in (ROLE_SINGLE, ROLE_COORDINATOR):
            raise ConfigError(f"{self.coordinator.base_url} is a {role}: point dc2dc at a coordinator or single server")
        self.role = role
        if self.single:
            last = (await self.coordinator.request("GET", "/_api/wal/lastTick")).json()
            server_id = str(last.get("server", {}).get("serverId") or "single")
            self._servers = {server_id: ServerInfo(server_id, "SINGLE", self.coordinator.base_url)}

    async def data_servers(self) -> dict[str, ServerInfo]:
        """Server id -> server, for every server with a WAL to tail (refreshed on each call)."""
        if self.single:
            return dict(self._servers)
        health = (await self.coordinator.request("GET", "/_admin/cluster/health")).json()["Health"]
        servers = {
            sid: ServerInfo(sid, info.get("ShortName", sid), info["Endpoint"])
            for sid, info in health.items()
            if str(info.get("Role", "")).lower() in ("dbserver", "primary")
        }
        self._servers = servers
        return dict(servers)

    def known(self, server_id: str) -> bool:
        """Whether ``server_id`` is a data server as of the last ``data_servers`` call."""
        return server_id in self._servers

    def client(self, server_id: str) -> ArangoHttp:
        """A (cached) connection to one data server."""
        if self.single:
            return self.coordinator
        client = self._clients.get(server_id)
        if client is None:
            info = self._servers[server_id]
            client = self._endpoint.at(info.url).connect(jwt=True)
            self._clients[server_id] = client
        return client

    async def shard_distribution(self, db: str) -> dict[str, tuple[list[str], dict[str, str]]]:
        """Collection name -> (its shard ids, shard -> leader server id), system collections included.

        ``Current`` is what is actually serving; a shard missing there (still being created)
        falls back to ``Plan``. Leaders are reported by short name when one is known.
        """
        results = (await self.coordinator.request(
            "GET", "/_admin/cluster/shardDistribution", db=db)).json()["results"]
        by_name = {info.name: sid for sid, info in self._servers.items()}
        out: dict[str, tuple[list[str], dict[str, str]]] = {}
        for coll, dist in results.items():
            plan, current = dist.get("Plan", {}), dist.get("Current", {})
            leaders: dict[str, str] = {}
            for shard in plan:
                leader = (current.get(shard) or plan[shard]).get("leader", "")
                if leader:  # no leader while a failover is in progress: the next poll knows it
                    leaders[shard] = by_name.get(leader, leader)
            out[coll] = (list(plan), leaders)
        return out

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
