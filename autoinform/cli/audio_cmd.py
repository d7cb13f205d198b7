"""`autoinform audio`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Prompt audio: build and check (audio/).", no_args_is_help=True)
