"""`autoinform campaigns`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Create, approve and run campaigns (AI-7, AI-15).", no_args_is_help=True)
