"""Keeps a stand-in's model (data, structure, users, every server's WAL) on disk.

A snapshot of the whole model is written at most every `interval` seconds after a change (less
often when snapshots get expensive, see `_run`), and at shutdown, by writing a temporary file,
fsyncing it and renaming it over the previous one — so a crash loses at most the last interval
of writes, like ArangoDB with waitForSync=false and a delayed WAL sync. The file is a pickle:
it is private state of this process, never exchanged.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import time
from pathlib import Path

import orjson

from .model import Cluster

_MODEL = "model.pickle"
_PORTS = "ports.json"


class Store:
    def __init__(self, directory: Path, interval: float = 0.5) -> None:
        self.directory = directory
        self.interval = interval
        self.cluster: Cluster | None = None
        self.ports: dict[str, int] = {}
        self._dirty = False
        self._task: asyncio.Task | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> Cluster | None:
        path = self.directory / _MODEL
        if (self.directory / _PORTS).exists():
            self.ports = orjson.loads((self.directory / _PORTS).read_bytes())
        if not path.exists():
            return None
        cluster = pickle.loads(path.read_bytes())
        assert isinstance(cluster, Cluster)
        return cluster

    def attach(self, cluster: Cluster) -> None:
        self.cluster = cluster
        (self.directory / _PORTS).write_bytes(orjson.dumps(self.ports))
        self._dirty = True

    def mark_dirty(self) -> None:
        self._dirty = True

    async def start(self) -> None:
        await self.flush()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        pause = self.interval
        while True:
            await asyncio.sleep(pause)
            if self._dirty:
                started = time.perf_counter()
                await self.flush()
                # serialising blocks the event loop: keep that below ~10% of the time however
                # large the model grows, at the price of a longer loss window after a crash
                pause = max(self.interval, 10 * (time.perf_counter() - started))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        if self.cluster is None:
            return
        self._dirty = False
        # serialise on the loop (a consistent view), write and fsync off the loop
        data = pickle.dumps(self.cluster, protocol=pickle.HIGHEST_PROTOCOL)
        await asyncio.get_running_loop().run_in_executor(None, self._write, data)

    def _write(self, data: bytes) -> None:
        tmp = self.directory / (_MODEL + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.directory / _MODEL)
