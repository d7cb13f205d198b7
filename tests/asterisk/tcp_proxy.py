"""A loopback TCP proxy for cutting a link on purpose (issue 10 item 2a): clients connect to
`port`, each connection is piped to the target; `cut()` drops every connection open at that instant
(new ones are accepted again afterwards, as a network that comes back); `hold()` cuts and refuses
new ones until `resume()` (a link down for a while: calls end meanwhile, their events unseen).
asyncio, bounded: every pipe task is tracked and ended by `close()`."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self.accepted = 0
        self.refusing = False
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        link = (writer, up_writer)
        self._links.add(link)
        pipes = [asyncio.create_task(self._pipe(reader, up_writer)), asyncio.create_task(self._pipe(up_reader, writer))]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in pipes:
                t.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._tasks.difference_update(pipes)
            self._links.discard(link)
            for w in link:
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    def cut(self) -> int:
        """Drop every open connection (both sides, at once); returns how many were dropped."""
        self.cuts += 1
        links = list(self._links)
        for client, upstream in links:
            for w in (client, upstream):
                transport = w.transport
                transport.abort()
        return len(links)

    def hold(self) -> int:
        """Cut every open connection and refuse new ones until resume()."""
        self.refusing = True
        return self.cut()

    def resume(self) -> None:
        self.refusing = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
