"""Top-level commands: `autoinform run` (the engine) and `autoinform demo` (the README's main job)."""

from __future__ import annotations

from typing import Annotated

import typer

from autoinform.cli import app
from autoinform.cli.common import fail
from autoinform.errors import AutoinformError


async def _run_engine(until_idle: bool, web: bool, ivr: bool) -> None:
    import asyncio
    import signal

    from autoinform.engine import Engine, EngineOptions
    from autoinform.runtime import open_runtime
    from autoinform.startup import check_prompts

    rt = open_runtime()
    try:
        check_prompts(rt)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        engine = Engine(rt, options=EngineOptions(web=web, ivr=ivr, until_idle=until_idle))
        await engine.run(stop)
    finally:
        rt.close()


@app.command("run")
def run(
    until_idle: Annotated[bool, typer.Option(help="Stop when no campaign is active any more.")] = False,
    web: Annotated[bool, typer.Option(help="Serve the HTTP API and provider callbacks.")] = True,
    ivr: Annotated[bool, typer.Option(help="Serve FastAGI for Asterisk.")] = True,
) -> None:
    """Run the engine: scheduler, dispatcher, callback endpoint and FastAGI server, until SIGTERM/Ctrl-C."""
    import asyncio

    from autoinform import logs
    from autoinform.config import load_settings

    try:
        settings = load_settings()
    except AutoinformError as exc:
        fail(str(exc), 2)
    logs.configure(settings.log_level, settings.log_json)
    try:
        asyncio.run(_run_engine(until_idle, web, ivr))
    except AutoinformError as exc:
        fail(str(exc))


@app.command("demo")
def demo(rows: Annotated[int, typer.Option(help="Rows in the generated billing export.")] = 300) -> None:
    """Set up the embedded default (SQLite) and show a small campaign end to end."""
    from autoinform import logs
    from autoinform.cli.common import console
    from autoinform.config import load_settings
    from autoinform.demo import run_demo

    try:
        settings = load_settings()
    except AutoinformError as exc:
        fail(str(exc), 2)
    logs.configure("WARNING", settings.log_json)
    try:
        run_demo(console, rows=rows)
    except AutoinformError as exc:
        fail(str(exc))
