"""`autoinform scenarios`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Check and render notification scenarios (AI-3).", no_args_is_help=True)
