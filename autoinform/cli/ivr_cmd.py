"""`autoinform ivr`: the FastAGI server on its own (`autoinform run` serves it with the engine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from autoinform.cli.common import console, fail
from autoinform.errors import ConfigError

if TYPE_CHECKING:
    import asyncio

    from autoinform.config import IvrSettings

app = typer.Typer(help="The FastAGI IVR server.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: ivr.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: ivr.port, 4573).")] = None,
    uvloop: Annotated[bool, typer.Option("--uvloop", help="Use uvloop if it is installed.")] = False,
    check_prompts: Annotated[bool, typer.Option(help="Refuse to start if prompt audio is missing.")] = True,
) -> None:
    """Serve FastAGI for Asterisk until Ctrl-C or SIGTERM, then let running calls finish."""
    import asyncio
    import contextlib
    import signal

    from autoinform.config import load_settings
    from autoinform.logs import configure
    from ivr import prompts
    from ivr.router import load_router
    from ivr.server import serve_ivr

    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    configure(settings.log_level, settings.log_json)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    ivr: IvrSettings = settings.ivr.model_copy(update=overrides)
    try:
        router = load_router(ivr.router)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        fail(f"ivr.router {ivr.router!r}: {exc}")
    if check_prompts:
        report = prompts.check(settings.audio_dir)
        if report.missing or report.corrupt:
            ids = ", ".join((*report.missing, *report.corrupt)[:10])
            fail(f"prompt audio missing or corrupt in {settings.audio_dir}: {ids} (run `autoinform audio build`)")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # no signal handlers on some platforms
                loop.add_signal_handler(sig, stop.set)
        console.print(f"FastAGI on {ivr.host}:{ivr.port}, routes: {', '.join(router)}", highlight=False)
        stats = await serve_ivr(ivr, router, stop)
        console.print(f"stopped after {stats.ended} calls: {dict(stats.by_reason)}", highlight=False)

    try:
        with asyncio.Runner(loop_factory=_loop_factory(uvloop)) as runner:
            runner.run(main())
    except OSError as exc:  # address in use, permission denied
        fail(f"cannot listen on {ivr.host}:{ivr.port}: {exc}")


@app.command("routes")
def routes() -> None:
    """List the paths the configured router serves (agi://host/PATH, AGI(ivr-agi,PATH))."""
    from autoinform.config import load_settings
    from ivr.router import load_router

    try:
        router = load_router(load_settings().ivr.router)
    except (ConfigError, ImportError, AttributeError, TypeError, ValueError) as exc:
        fail(str(exc))
    for path in router:
        console.print(path, highlight=False)


def _loop_factory(want_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when asked for and installed (about twice the calls per second, bench/fastagi.py);
    the standard loop otherwise."""
    if not want_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        console.print("uvloop is not installed: using the standard event loop", style="yellow")
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
