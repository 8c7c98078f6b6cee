"""Real TLS handshakes for tests: a server socket and a client connecting to it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path


async def tls_exchange(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str = "127.0.0.1") -> list[str]:
    """Connect a real TLS client to a real TLS server; the client CNs the server's handler saw.

    asyncio calls the handler only after the handshake succeeded, so an empty list means the server
    refused the connection. A refusal on the client's side raises ``ssl.SSLError``.
    """
    accepted: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        accepted.append(next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), ""))
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server)
    port = srv.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname=hostname)
        try:
            # With TLS 1.3 a server's refusal of the client's certificate arrives after the client's handshake.
            line = await asyncio.wait_for(reader.readline(), 10)
        except (ssl.SSLError, ConnectionResetError):
            line = b""
        writer.close()
        assert (line == b"hello\n") == bool(accepted)
    finally:
        srv.close()
        await srv.wait_closed()
    return accepted


def client_context(ca: Path, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)   # verifies the chain and the host name
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return ctx
