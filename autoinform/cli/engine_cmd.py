"""Top-level commands: `autoinform run` (the engine) and `autoinform demo` (the README's main job)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from autoinform.cli import app
from autoinform.cli.common import fail
from autoinform.errors import AutoinformError

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

    from autoinform.config import Settings
    from autoinform.runtime import Runtime
    from ivr.hotline.backend import HotlineBackend


def _settings_and_logs() -> Settings:
    """The settings, checked at start (exit 2 with the reason), and logging configured from them."""
    from autoinform import logs
    from autoinform.config import load_settings

    try:
        settings = load_settings()
    except AutoinformError as exc:
        fail(str(exc), 2)
    logs.configure(settings.log_level, settings.log_json)
    return settings


async def _run_engine(until_idle: bool, web: bool, ivr: bool, sandbox: bool) -> None:
    import asyncio
    import contextlib
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
        async with contextlib.AsyncExitStack() as sinks:
            options = EngineOptions(web=web, ivr=ivr, until_idle=until_idle)
            if sandbox:
                rt = await _sandboxed(rt, sinks)
                # SMS delivery reports come back over HTTP; status work runs often, as in the demo.
                options = EngineOptions(web=True, ivr=ivr, until_idle=until_idle, housekeeping_s=0.5)
            options.hotline = _hotline(rt) if ivr else None
            await Engine(rt, options=options).run(stop)
    finally:
        rt.close()


def _hotline(rt: Runtime) -> HotlineBackend | None:
    """The hotline's backend when its menu is there to serve (issue 11); the engine checks the menu,
    the information base and their prompts before it takes a call."""
    import logging

    from autoinform.hotline.backend import hotline_backend

    menu = rt.settings.hotline.menu_file
    if not menu.exists():
        logging.getLogger("autoinform.engine").warning(
            "hotline menu %s not found: /hotline is not served (set hotline.menu_file)", menu)
        return None
    return hotline_backend(rt)


async def _sandboxed(rt: Runtime, sinks: AsyncExitStack) -> Runtime:
    """The runtime with every channel pointed at a local sink, as `autoinform demo` does: e-mail into
    var/sandbox/outbox/*.eml, SMS to a local server implementing the Twilio Messages API whose
    signed delivery reports come back to this engine. The informing window is lifted because
    nothing reaches a customer; both facts are printed."""
    import logging
    import socket
    from datetime import time

    from pydantic import SecretStr

    from autoinform.cli.common import console
    from autoinform.config import SmtpSettings, TwilioSettings, WebSettings, WindowSettings
    from autoinform.runtime import Runtime
    from autoinform.sandbox.smtp_outbox import SmtpOutbox
    from autoinform.sandbox.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd, the outbox: a line per command
    outbox = rt.settings.var_dir / "sandbox" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    box = sinks.enter_context(SmtpOutbox(outbox))
    twilio = await sinks.enter_async_context(FakeTwilio())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    settings = rt.settings.model_copy(update={
        "window": WindowSettings(start=time(0), end=time(23, 59, 59, 999999), calendar="any"),
        # The outbox is the recipients' mailbox itself: its 250 is final, no bounce to await.
        "smtp": SmtpSettings(port=box.port, sender=rt.settings.smtp.sender, delivery_mode="direct"),
        "twilio": TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                                 from_number=FROM_NUMBER, api_base_url=twilio.base_url),
        "web": WebSettings(port=port, public_url=f"http://127.0.0.1:{port}"),
    })
    console.print(f"[yellow]sandbox: e-mail goes to {outbox}/*.eml and SMS to a local Twilio-compatible "
                  f"server; nothing reaches a customer, so the informing window is lifted for this run[/]",
                  highlight=False)
    return Runtime(settings, rt.engine, rt.sessions)


@app.command("run")
def run(
    until_idle: Annotated[bool, typer.Option(help="Stop when no campaign is active any more.")] = False,
    web: Annotated[bool, typer.Option(help="Serve the HTTP API and provider callbacks.")] = True,
    ivr: Annotated[bool, typer.Option(help="Serve FastAGI for Asterisk.")] = True,
    sandbox: Annotated[bool, typer.Option(
        help="Send to local sinks only (an e-mail outbox under var/sandbox, a local Twilio-compatible "
             "server) with the informing window lifted: for trying the engine, never for customers.")] = False,
) -> None:
    """Run the engine: scheduler, dispatcher, callback endpoint and FastAGI server, until SIGTERM/Ctrl-C.

    It needs the channels configured first (SMTP relay, Twilio; see the README), or --sandbox."""
    import asyncio

    _settings_and_logs()
    try:
        asyncio.run(_run_engine(until_idle, web, ivr, sandbox))
    except AutoinformError as exc:
        fail(str(exc))


@app.command("demo")
def demo(rows: Annotated[int, typer.Option(help="Rows in the generated billing export.")] = 300,
         phone: Annotated[bool, typer.Option("--phone", help="Instead: a phone campaign through the prebuilt "
                                             "Asterisk of ../shared/asterisk (said when absent).")] = False,
         serve: Annotated[bool, typer.Option(
             envvar="AUTOINFORM_DEMO_SERVE",
             help="After the campaign ends, serve the dashboard until Ctrl-C (--no-serve, or "
                  "AUTOINFORM_DEMO_SERVE=0: end with the report).")] = True) -> None:
    """Set up the embedded default (SQLite) and show a small campaign end to end, then its dashboard."""
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
        if phone:
            from autoinform.demo_phone import run_phone_demo
            run_phone_demo(console, settings)
        else:
            run_demo(console, rows=rows, serve=serve)
    except AutoinformError as exc:
        fail(str(exc))


@app.command("web")
def web(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: web.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: web.port).")] = None,
) -> None:
    """Serve the web app alone: pages, JSON API and live updates, without the dispatcher.

    It reads and changes the same database as the engines (`autoinform run`), whose changes reach
    the open pages within a second. Provider callbacks (SMS delivery reports) are the engine's."""
    import asyncio

    from autoinform.runtime import open_runtime
    from autoinform.web.app import create_app
    from autoinform.web.serve import web_server

    settings = _settings_and_logs()
    try:
        rt = open_runtime(settings)
    except AutoinformError as exc:
        fail(str(exc))
    try:
        server = web_server(create_app(rt), host or settings.web.host,
                            settings.web.port if port is None else port)
        asyncio.run(server.serve())
    finally:
        rt.close()
