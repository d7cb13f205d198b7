"""`autoinform say`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Russian speech of numbers, money, dates (AI-10).", no_args_is_help=True)
