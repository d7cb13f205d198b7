"""The `autoinform` command: one sub-command group per concern, each in its own module."""

from __future__ import annotations

import importlib

import typer

from autoinform.errors import AutoinformError

app = typer.Typer(
    name="autoinform",
    help="Autoinform campaigns and hotline IVR for an electricity retailer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, group name); each module defines `app`, a typer.Typer.
GROUPS = (
    ("config_cmd", "config"),
    ("db_cmd", "db"),
    ("lists_cmd", "lists"),
    ("scenarios_cmd", "scenarios"),
    ("campaigns_cmd", "campaigns"),
    ("results_cmd", "results"),
    ("users_cmd", "users"),
    ("say_cmd", "say"),
    ("audio_cmd", "audio"),
    ("ivr_cmd", "ivr"),
)
for _module, _name in GROUPS:
    _mod = importlib.import_module(f"autoinform.cli.{_module}")
    app.add_typer(_mod.app, name=_name)

# Top-level commands (run, demo) register themselves on `app`.
importlib.import_module("autoinform.cli.engine_cmd")


def main() -> None:
    try:
        app()
    except AutoinformError as exc:  # last resort: commands normally exit through common.fail
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
