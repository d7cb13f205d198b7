"""`autoinform ivr`."""

from __future__ import annotations

import typer

app = typer.Typer(help="The FastAGI IVR server.", no_args_is_help=True)
