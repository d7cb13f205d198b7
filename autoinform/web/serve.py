"""uvicorn for the web app, by `autoinform run` (embedded) and `autoinform web` (alone)."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from autoinform.web.live import end_pages

GRACE_S = 3  # a request still running after this much of a stop is cancelled


class WebServer(uvicorn.Server):
    """Ends the open live pages' streams first when it stops: uvicorn waits for every open
    response, and an SSE stream never ends by itself."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        end_pages(self.config.app)
        await super().shutdown(sockets)


def web_server(app: FastAPI, host: str, port: int, *, cls: type[WebServer] = WebServer) -> WebServer:
    return cls(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=GRACE_S))
