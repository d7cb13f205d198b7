"""Routes: which flow answers which AGI path (`agi://host/hotline` and `AGI(ivr-agi,hotline)`)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.session import AgiSession

Flow = Callable[["AgiSession"], Awaitable[None]]
"""A call flow: `async def flow(session: AgiSession) -> None`."""


class Router:
    """Exact paths, without leading or trailing slashes: "hotline", "notify/debt"."""

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}

    def add(self, path: str, flow: Flow) -> None:
        key = path.strip("/")
        if not key:
            raise ValueError("a route needs a non-empty path")
        if key in self._flows:
            raise ValueError(f"route {key!r} is already registered")
        self._flows[key] = flow

    def resolve(self, path: str) -> Flow | None:
        return self._flows.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._flows

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._flows))

    def __len__(self) -> int:
        return len(self._flows)


def load_router(spec: str) -> Router:
    """Build the router named `module:factory` (IvrSettings.router), e.g. "ivr.flows:default_router"."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"router spec must be 'module:factory', got {spec!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    router = factory()
    if not isinstance(router, Router):
        raise TypeError(f"{spec} returned {type(router).__name__}, not a Router")
    return router
