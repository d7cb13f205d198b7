"""Issue 8 item 10 (AI-19): request bodies are capped before they are read, for the whole web app.

The real app (create_app with the Twilio callback router) served by uvicorn on 127.0.0.1, spoken
to over raw sockets where the point is what the server reads, and over httpx otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Request
from pydantic import BaseModel, SecretStr

from autoinform.channels.base import ProviderStatus
from autoinform.channels.twilio_callbacks import SMS_STATUS_PATH, twilio_status_router
from autoinform.config import Settings, TwilioSettings, WebSettings
from autoinform.db import transaction
from autoinform.models import Role
from autoinform.runtime import Runtime, open_runtime
from autoinform.sandbox.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, twilio_signature
from autoinform.tokens import create_token
from autoinform.users import add_user
from autoinform.web.app import create_app
from autoinform.web.limits import BodyLimitCounters

MiB = 1024 * 1024
UPLOAD_PATH = "/test/upload"
JSON_PATH = "/test/json"


class Item(BaseModel):
    text: str


@dataclass
class Served:
    url: str
    port: int
    limits: BodyLimitCounters
    statuses: list[ProviderStatus] = field(default_factory=list)
    viewer: dict[str, str] = field(default_factory=dict)  # /api needs a user (issue 12)


@pytest.fixture
def web_rt(tmp_path: Path) -> Iterator[Runtime]:
    web = WebSettings(max_body_bytes=MiB, max_body_bytes_by_path={UPLOAD_PATH: 8 * MiB})
    rt = open_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", var_dir=tmp_path / "var", web=web))
    yield rt
    rt.close()


@pytest.fixture
async def served(web_rt: Runtime) -> AsyncIterator[Served]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    statuses: list[ProviderStatus] = []

    async def sink(status: ProviderStatus) -> None:
        statuses.append(status)

    upload = APIRouter()

    @upload.post(UPLOAD_PATH)
    async def receive_upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    @upload.post(JSON_PATH)
    async def receive_json(item: Item) -> dict[str, int]:
        return {"size": len(item.text)}

    twilio = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN))
    url = f"http://127.0.0.1:{port}"
    app = create_app(web_rt, routers=[twilio_status_router(twilio, sink, url), upload])
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    with transaction(web_rt.sessions) as s:
        add_user(s, "view", Role.VIEWER, actor="test")
        token = create_token(s, "view", "test", actor="test").secret
    yield Served(url, port, app.state.body_limits, statuses, {"Authorization": f"Bearer {token}"})
    server.should_exit = True
    await task
    sock.close()


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-www-form-urlencoded",
             *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status_line(response: bytes) -> str:
    return response.split(b"\r\n", 1)[0].decode()


def _declared(port: int, length: int, path: str = SMS_STATUS_PATH) -> bytes:
    """Declare `length` bytes, send none of them, and read whatever the server answers (a client
    that went on sending would see the connection reset, as it should)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_head(path, f"Content-Length: {length}"))
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    return response


async def test_declared_400_mb_is_refused_without_reading(served: Served) -> None:
    """Issue 8 item 10: a Content-Length of 400 MB gets 413 at once, the connection closed, no byte
    of the body awaited (the client sends none: an app that read it would hang, not answer)."""
    response = await asyncio.to_thread(_declared, served.port, 400 * MiB)
    assert _status_line(response) == "HTTP/1.1 413 Request Entity Too Large"
    assert b"connection: close" in response.lower()
    assert served.limits.refused_declared == 1 and served.statuses == []


def _stream(port: int, path: str, total: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """Send up to `total` bytes chunked while a second thread reads the answer; stop sending when
    the answer comes or the server drops the connection. Returns (answer, bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    answered = threading.Event()
    response = bytearray()

    def read() -> None:
        try:
            while data := s.recv(65536):
                response.extend(data)
                if b"\r\n\r\n" in response:
                    answered.set()
        except OSError:
            pass
        answered.set()

    reader = threading.Thread(target=read)
    reader.start()
    sent = 0
    piece = f"{chunk:x}\r\n".encode() + b"a" * chunk + b"\r\n"
    try:
        s.sendall(_head(path, "Transfer-Encoding: chunked"))
        while sent < total and not answered.is_set():
            s.sendall(piece)
            sent += chunk
        if sent >= total:
            s.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection: that is the point
        pass
    answered.wait(30)
    s.close()
    reader.join(30)
    return bytes(response), sent


async def test_chunked_200_mb_is_refused_near_the_cap(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 8 item 10: a chunked body with no length is counted as it streams; past the 1 MiB cap
    the app answers 413 and drops the connection, so of a 200 MB stream the app reads about the
    cap and the client gets rid of a few MB at most (kernel socket buffers), never the 200 MB."""
    with caplog.at_level(logging.WARNING, logger="autoinform.web.limits"):
        response, sent = await asyncio.to_thread(_stream, served.port, SMS_STATUS_PATH, 200 * MiB)
    assert _status_line(response) == "HTTP/1.1 413 Request Entity Too Large"
    assert served.limits.refused_streamed == 1 and served.statuses == []
    assert sent < 64 * MiB, sent
    [record] = [r for r in caplog.records if r.name == "autoinform.web.limits"]
    read, limit = record.args[3], record.args[4]  # type: ignore[index]
    assert limit == MiB and MiB < read <= MiB + 512 * 1024  # one read of the server past the cap
    assert "aaaa" not in record.getMessage()  # never the body


async def test_json_endpoint_refuses_with_413_too(served: Served) -> None:
    """A FastAPI endpoint with a parsed body (which turns any error while reading into its own
    400) still answers 413 to a chunked body past the cap; a small one is parsed as usual."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        small = await client.post(JSON_PATH, json={"text": "abc"})
    assert small.json() == {"size": 3}
    response, _ = await asyncio.to_thread(_stream, served.port, JSON_PATH, 3 * MiB)
    assert _status_line(response) == "HTTP/1.1 413 Request Entity Too Large"
    assert served.limits.refused_streamed == 1


async def test_per_path_limit_lets_a_larger_body_through_there_only(served: Served) -> None:
    """The upload routes of a later issue get their own limit: 3 MB passes on the upload path,
    streamed or declared, and is refused on the callback path."""
    body = b"x" * (3 * MiB)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), MiB):
            yield body[i:i + MiB]

    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        declared = await client.post(UPLOAD_PATH, content=body)
        streamed = await client.post(UPLOAD_PATH, content=chunks())
    assert declared.json() == {"size": 3 * MiB} and streamed.json() == {"size": 3 * MiB}
    refused = await asyncio.to_thread(_declared, served.port, len(body))
    assert _status_line(refused).startswith("HTTP/1.1 413") and served.limits.refused_declared == 1
    over_upload = await asyncio.to_thread(_declared, served.port, 9 * MiB, UPLOAD_PATH)
    assert _status_line(over_upload).startswith("HTTP/1.1 413")
    response, _ = await asyncio.to_thread(_stream, served.port, UPLOAD_PATH, 9 * MiB)
    assert _status_line(response) == "HTTP/1.1 413 Request Entity Too Large"


async def test_normal_callback_still_works_and_refusals_are_in_metrics(served: Served) -> None:
    url = served.url + SMS_STATUS_PATH
    params = {"AccountSid": ACCOUNT_SID, "From": FROM_NUMBER, "MessageSid": "SM" + "2" * 32,
              "MessageStatus": "delivered", "To": "+79023456789"}
    async with httpx.AsyncClient(timeout=30) as client:
        signature = twilio_signature(AUTH_TOKEN, url, params)
        ok = await client.post(url, data=params, headers={"X-Twilio-Signature": signature})
        too_big = await asyncio.to_thread(_declared, served.port, 2 * MiB)
        metrics = (await client.get(served.url + "/api/metrics", headers=served.viewer)).json()
    assert ok.status_code == 204 and [s.provider_id for s in served.statuses] == ["SM" + "2" * 32]
    assert _status_line(too_big).startswith("HTTP/1.1 413")
    assert metrics["web"] == {"refused_declared": 1, "refused_streamed": 0}
