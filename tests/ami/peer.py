"""A test Asterisk manager on a loopback port: replays the recorded AMI sessions byte for byte
(tests/fixtures/asterisk/ami_*.txt, copied from shared/asterisk/transcripts/), or runs a handler
that scripts Asterisk's replies for the cases the recordings do not hold (EventLists, replies out
of order, a peer that stops answering Ping, drops the link, refuses the login).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asterisk"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_LINE = re.compile(r"^\[\+(?P<t>\d+\.\d+)\] (?P<dir>C>A|A>C) (?P<data>b(?P<q>['\"]).*(?P=q))$")


@dataclass(frozen=True)
class Record:
    at: float
    direction: Literal["C>A", "A>C"]
    data: bytes


def load(name: str) -> list[Record]:
    records = []
    for line in (FIXTURES / f"{name}.txt").read_text().splitlines():
        m = _LINE.match(line)
        if m:
            records.append(Record(float(m.group("t")), m.group("dir"), ast.literal_eval(m.group("data"))))  # type: ignore[arg-type]
        elif line and not line.startswith("#"):
            raise ValueError(f"{name}: unreadable line {line!r}")
    return records


def transcripts() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("ami_*.txt"))


def fields_of(block: bytes) -> list[tuple[str, str]]:
    out = []
    for line in block.decode().split("\r\n"):
        if line:
            key, _, value = line.partition(": ")
            out.append((key, value))
    return out


def block(*pairs: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in pairs) + b"\r\n"


class PeerConnection:
    """One client connection, as Asterisk's side sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.actions: list[bytes] = []

    async def read_action(self) -> bytes | None:
        """The next whole action block (bytes up to and including the blank line), None on EOF."""
        try:
            data = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        self.actions.append(data)
        return data

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.transport.abort()


Handler = Callable[[PeerConnection], Awaitable[None]]


@dataclass
class AmiPeer:
    """The listening side: every connection runs `handler`; `connections` counts them."""

    handler: Handler
    connections: list[PeerConnection] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = PeerConnection(reader, writer)
        self.connections.append(conn)
        self.connected.set()
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self.handler(conn)
        except ConnectionError:
            pass
        finally:
            self.tasks.discard(task)
            conn.close()

    async def wait_connections(self, n: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.connections) < n:
                self.connected.clear()
                await self.connected.wait()

    def drop_all(self) -> None:
        for conn in self.connections:
            conn.abort()


@asynccontextmanager
async def ami_peer(handler: Handler) -> AsyncIterator[AmiPeer]:
    peer = AmiPeer(handler)
    peer.server = await asyncio.start_server(peer._serve, "127.0.0.1", 0)
    try:
        yield peer
    finally:
        peer.server.close()
        peer.drop_all()
        if peer.tasks:  # handlers end on the dropped links; cancel only a stuck one
            _, stuck = await asyncio.wait(set(peer.tasks), timeout=5)
            for task in stuck:
                task.cancel()
        await peer.server.wait_closed()


# --- replaying a recording ------------------------------------------------------------------------

def replay(records: list[Record], *, chunk: int | None = None, seen: list[bytes] | None = None) -> Handler:
    """Asterisk's side of a recording: its writes as recorded (optionally re-cut into `chunk`-byte
    pieces), each recorded client action awaited before the writes that followed it. The client's
    ActionIDs replace the recorded ones in what Asterisk sends back; `seen` collects the client's
    actions with its ActionIDs put back to the recorded ones, to compare with the recording."""

    async def handler(conn: PeerConnection) -> None:
        ids: dict[bytes, bytes] = {}
        for rec in records:
            if rec.direction == "C>A":
                got = await conn.read_action()
                if got is None:
                    return
                recorded_id = re.search(rb"ActionID: ([^\r]*)\r\n", rec.data)
                client_id = re.search(rb"ActionID: ([^\r]*)\r\n", got)
                if recorded_id and client_id:
                    ids[recorded_id.group(1)] = client_id.group(1)
                    got = got.replace(b"ActionID: " + client_id.group(1), b"ActionID: " + recorded_id.group(1))
                if seen is not None:
                    seen.append(got)
                continue
            if not rec.data:
                conn.close()
                return
            data = rec.data
            for recorded, ours in ids.items():
                data = data.replace(b"ActionID: " + recorded + b"\r\n", b"ActionID: " + ours + b"\r\n")
            pieces = [data] if chunk is None else [data[i:i + chunk] for i in range(0, len(data), chunk)]
            for piece in pieces:
                conn.send(piece)
                await conn.drain()
        await conn.reader.read()  # recording over: stay until the client goes

    return handler


# --- a scripted Asterisk --------------------------------------------------------------------------

@dataclass
class Script:
    """Asterisk's manager for the cases no recording holds. Override `on_action` per test."""

    username: str = "ref"
    secret: str = "ref"
    answer_ping: bool = True
    challenge: str = "295936951"
    channels: list[list[tuple[str, str]]] = field(default_factory=list)
    pings: int = 0
    logins: int = 0

    async def __call__(self, conn: PeerConnection) -> None:
        conn.send(BANNER)
        authed = False
        while (data := await conn.read_action()) is not None:
            fields = fields_of(data)
            f = {k.lower(): v for k, v in fields}
            name, aid = f.get("action", ""), f.get("actionid", "")
            if not authed and name.lower() not in ("login", "challenge"):
                conn.send(block(("Response", "Error"), ("ActionID", aid), ("Message", "Permission denied")))
                continue
            if name == "Challenge":
                conn.send(block(("Response", "Success"), ("ActionID", aid), ("Challenge", self.challenge)))
            elif name == "Login":
                self.logins += 1
                if f.get("authtype", "").lower() == "md5":
                    good = f.get("key") == hashlib.md5((self.challenge + self.secret).encode()).hexdigest()
                else:
                    good = f.get("secret") == self.secret
                if f.get("username") != self.username or not good:
                    conn.send(block(("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")))
                    await conn.drain()
                    conn.close()
                    return
                authed = True
                conn.send(block(("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted"))
                          + block(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "5"),
                                  ("LastReload", "5"), ("Status", "Fully Booted")))
            elif name == "Ping":
                self.pings += 1
                if self.answer_ping:
                    conn.send(block(("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"),
                                    ("Timestamp", "1796161806.409508")))
            elif name == "Logoff":
                conn.send(block(("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")))
                await conn.drain()
                conn.close()
                return
            else:
                await self.on_action(conn, name, aid, fields)
            await conn.drain()

    async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
        if name == "CoreShowChannels":
            conn.send(core_show_channels(aid, self.channels))
            return
        conn.send(block(("Response", "Error"), ("ActionID", aid),
                        ("Message", f"Invalid/unknown command: {name}. Use Action: ListCommands to show "
                                    "available commands.")))


def core_show_channels(aid: str, channels: list[list[tuple[str, str]]]) -> bytes:
    """The reply as Asterisk 22 sends it (checked against the real one, tests/asterisk/)."""
    out = block(("Response", "Success"), ("ActionID", aid), ("EventList", "start"),
                ("Message", "Channels will follow"))
    for channel in channels:
        out += block(("Event", "CoreShowChannel"), ("ActionID", aid), *channel)
    out += block(("Event", "CoreShowChannelsComplete"), ("ActionID", aid), ("EventList", "Complete"),
                 ("ListItems", str(len(channels))))
    return out
