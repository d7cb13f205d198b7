"""Fixtures for the IVR tests: a real FastAGI server on a loopback port chosen by the OS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from autoinform.config import IvrSettings
from ivr.router import Flow, Router
from ivr.server import FastAgiServer

ServerFactory = Callable[..., AbstractAsyncContextManager[FastAgiServer]]


@pytest.fixture
def agi_server() -> ServerFactory:
    """`async with agi_server({"path": flow}, **settings) as server:` -> server.port, server.stats."""

    @asynccontextmanager
    async def start(routes: dict[str, Flow] | Router, **overrides: Any) -> AsyncIterator[FastAgiServer]:
        if isinstance(routes, Router):
            router = routes
        else:
            router = Router()
            for path, flow in routes.items():
                router.add(path, flow)
        settings = IvrSettings(**{"port": 0, "command_timeout_s": 5.0, "shutdown_grace_s": 1.0,
                                  **overrides})
        server = FastAgiServer(settings, router)
        await server.start()
        try:
            yield server
        finally:
            await server.shutdown()

    return start


async def settle(server: FastAgiServer, timeout_s: float = 5.0) -> None:
    """Wait until every accepted call has ended (the server closes after the flow returns)."""
    async with asyncio.timeout(timeout_s):
        while server.stats.active or server.tasks:
            await asyncio.sleep(0.001)
