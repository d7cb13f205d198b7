"""`autoinform lists`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import and inspect contact lists (AI-4, AI-11).", no_args_is_help=True)
