"""Helpers shared by CLI commands: settings, database, errors and output.

Kept light on purpose (issue 9 item 5): every command imports this module, so the database
layer and rich are imported only when a command uses them, not for `--help` or `say`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from autoinform.errors import AutoinformError

if TYPE_CHECKING:
    from rich.console import Console

    from autoinform.runtime import Runtime

EXIT_USAGE = 2
EXIT_ERROR = 1


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def __getattr__(name: str) -> Console:
    """`console` and `err_console` are made on first use: rich costs tens of milliseconds to import."""
    if name == "console":
        return _console(False)
    if name == "err_console":
        return _console(True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    _console(True).print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def runtime() -> Iterator[Runtime]:
    """Open the engine's runtime; engine errors become a clear message and exit code 1."""
    from autoinform.runtime import open_runtime

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
