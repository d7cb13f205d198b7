"""Helpers shared by CLI commands: settings, database, errors and output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from autoinform.errors import AutoinformError
from autoinform.runtime import Runtime, open_runtime

console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2
EXIT_ERROR = 1


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def runtime() -> Iterator[Runtime]:
    """Open the engine's runtime; engine errors become a clear message and exit code 1."""
    try:
        rt = open_runtime()
    except AutoinformError as exc:
        fail(str(exc))
    try:
        yield rt
    except AutoinformError as exc:
        fail(str(exc))
    finally:
        rt.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
