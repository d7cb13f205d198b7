"""Helpers shared by CLI commands: settings, database, errors and output.

Kept light on purpose (issue 9 item 5): every command imports this module, so the database
layer and rich are imported only when a command uses them, not for `--help` or `say`.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from autoinform.errors import AuthenticationError, AutoinformError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from autoinform.models import Role, User
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


TOKEN_FILE_ENV = "AUTOINFORM_TOKEN_FILE"


def token_file_path() -> Path:
    """Where this person's API token is: AUTOINFORM_TOKEN_FILE, else ~/.config/autoinform/token."""
    named = os.environ.get(TOKEN_FILE_ENV)
    return Path(named).expanduser() if named else Path.home() / ".config" / "autoinform" / "token"


def read_token_file(path: Path) -> str:
    """The token in `path`, refused like ~/.pgpass when anyone but its owner may read or write it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AuthenticationError(
            f"no API token at {path}: ask an admin for one (`autoinform users token create`) and keep "
            f"it there, or name its file in {TOKEN_FILE_ENV}; the first admin is made by "
            f"`autoinform users add LOGIN --role admin`") from None
    except OSError as exc:
        raise AuthenticationError(f"cannot read the API token file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise AuthenticationError(f"the API token file {path} is not a regular file")
    if st.st_uid != os.getuid():
        raise AuthenticationError(f"the API token file {path} belongs to another account")
    if st.st_mode & 0o077:
        raise AuthenticationError(
            f"the API token file {path} has mode {stat.S_IMODE(st.st_mode):04o}: others may read it; "
            f"it is not used (chmod 600 {path}, and revoke the token if someone did)")
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise AuthenticationError(f"the API token file {path} is empty")
    return secret


def acting_user(session: Session, *roles: Role) -> User:
    """The one place the command line learns who is acting (issue 12): the owner of the API token
    in the caller's token file, if enabled and, with `roles`, holding one of them (or admin).
    Every command that changes or exports something passes this user's login on."""
    from autoinform.tokens import user_for_token
    from autoinform.users import require_role

    user = user_for_token(session, read_token_file(token_file_path()))
    if roles:
        require_role(session, user.login, *roles)
    return user
