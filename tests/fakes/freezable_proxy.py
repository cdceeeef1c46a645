"""A TCP proxy (to PostgreSQL or Redis) that can go dark (no answer) or down (reset)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from psycopg.conninfo import conninfo_to_dict


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, as a host whose server is down answers."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FreezableProxy:
    """A TCP proxy that can stop forwarding, like a host that went dark.

    ``frozen`` (dark): connections are accepted and never answered. ``go_down()``
    (down): every connection is reset and new ones are refused with a reset, until
    ``restore()``.

    ``FreezableProxy(pg_url)`` fronts PostgreSQL (TCP or its socket directory);
    ``FreezableProxy(address=(host, port))`` any TCP service, e.g. Redis.
    """

    def __init__(self, pg_url: str | None = None, *,
                 address: tuple[str, int] | None = None) -> None:
        if address is None:
            info = conninfo_to_dict(pg_url or "")
            address = (str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432))
        self._upstream = address
        self.frozen = asyncio.Event()
        self.down = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._closed = False

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self._upstream
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self._closed:
            writer.transport.abort()
            return
        if self.down.is_set():
            _reset(writer)
            return
        if self.frozen.is_set():
            return  # accepted, never answered
        up_reader, up_writer = await self._open_upstream()
        self._writers.append(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if self.frozen.is_set():
                    return  # swallow: the bytes never arrive
                writer.write(data)
                await writer.drain()
            if not self.frozen.is_set():
                writer.close()  # pass the end on, as the network would (a FIN)

    def go_down(self) -> None:
        """Reset every connection and refuse new ones (the server is down)."""
        self.down.set()
        for writer in self._writers:
            _reset(writer)
        self._writers.clear()

    def restore(self) -> None:
        """Forward again after ``go_down`` or a freeze."""
        self.down.clear()
        self.thaw()

    def thaw(self) -> None:
        """Forward again; the connections that went dark are cut (as a reboot would)."""
        self.frozen.clear()
        for writer in self._writers:
            writer.transport.abort()  # close() would wait for buffered bytes to drain
        self._writers.clear()

    async def close(self) -> None:
        self._closed = True
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.thaw()
        await asyncio.sleep(0.1)  # let the aborted transports finish closing


def proxied_url(pg_url: str, port: int) -> str:
    """``pg_url``'s database reached through the proxy on ``port``."""
    return (f"postgresql://postgres@127.0.0.1:{port}/{conninfo_to_dict(pg_url)['dbname']}"
            "?sslmode=disable")
