"""`autoinform users`: who may form, approve and export (AI-15, AI-19), passwords and API tokens.

Every command acts as the owner of the caller's API token (common.acting_user), except the very
first `users add … --role admin` on an empty user table: that one makes the first admin and writes
their token to the caller's token file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoinform.cli.common import (
    EXIT_USAGE,
    acting_user,
    console,
    err_console,
    fail,
    print_json,
    runtime,
    token_file_path,
)

if TYPE_CHECKING:
    from autoinform.models import Role

app = typer.Typer(help="Users, roles, passwords and API tokens (AI-15, AI-19).", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens: scripts and this command line act as their owner.",
                        no_args_is_help=True)
app.add_typer(token_app, name="token")

ROLES = "admin, manager, specialist, operator or viewer"
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from the "
                                             "first line of standard input (for scripts).")]
TokenFile = Annotated[Path | None, typer.Option(
    "--token-file", help="Also make the user an API token and write it to this new file (mode 600), "
                         "to hand to them.")]
Json = Annotated[bool, typer.Option("--json")]


def _role(text: str) -> Role:
    from autoinform.models import Role

    try:
        return Role(text)
    except ValueError:
        fail(f"unknown role {text!r}; one of: {', '.join(x.value for x in Role)}", EXIT_USAGE)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to ask the password on: use --password-stdin", EXIT_USAGE)
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(login: str, role: Annotated[str, typer.Option(help=ROLES)],
        full_name: Annotated[str, typer.Option("--name")] = "",
        password_stdin: PasswordStdin = False, token_file: TokenFile = None) -> None:
    """Add a user with a role (an admin does). On an empty database, `users add LOGIN --role admin`
    makes the first admin and writes their API token to your token file
    (AUTOINFORM_TOKEN_FILE or ~/.config/autoinform/token)."""
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.tokens import create_token, write_token_file
    from autoinform.users import add_user, user_count

    r = _role(role)
    password = _read_password(True) if password_stdin else None
    with runtime() as rt, transaction(rt.sessions) as s:
        if user_count(s) == 0:
            if r is not Role.ADMIN:
                fail("there is no user yet: the first one is an admin "
                     f"(`autoinform users add {login} --role admin`)")
            target = token_file or token_file_path()
            if target.exists():
                fail(f"{target} exists already; not overwritten: remove it or give --token-file")
            add_user(s, login, r, full_name, actor=login, password=password)
            write_token_file(target, create_token(s, login, "cli", actor=login).secret)
            console.print(f"first admin {login} added; their API token is in {target} (mode 600): "
                          f"commands now act as {login}", highlight=False)
            return
        actor = acting_user(s, Role.ADMIN)
        if token_file is not None and token_file.exists():
            fail(f"{token_file} exists already; not overwritten")
        add_user(s, login, r, full_name, actor=actor.login, password=password)
        if token_file is not None:
            write_token_file(token_file, create_token(s, login, "cli", actor=actor.login).secret)
    console.print(f"user {login} ({r.value}) added"
                  + (f"; API token written to {token_file}" if token_file else ""), highlight=False)


@app.command("passwd")
def passwd(login: str, password_stdin: PasswordStdin = False) -> None:
    """Set a user's web log-in password (your own, or anyone's as an admin); their sessions end."""
    from autoinform.db import transaction
    from autoinform.errors import PermissionDenied
    from autoinform.models import Role
    from autoinform.users import set_password

    password = _read_password(password_stdin)
    with runtime() as rt, transaction(rt.sessions) as s:
        actor = acting_user(s)
        if actor.login != login and actor.role is not Role.ADMIN:
            raise PermissionDenied("only an admin sets another user's password")
        set_password(s, login, password, actor=actor.login)
    console.print(f"password of {login} set", highlight=False)


@app.command("role")
def role_cmd(login: str, role: Annotated[str, typer.Argument(help=ROLES)]) -> None:
    """Change a user's role (an admin does)."""
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.users import set_role

    r = _role(role)
    with runtime() as rt, transaction(rt.sessions) as s:
        set_role(s, login, r, actor=acting_user(s, Role.ADMIN).login)
    console.print(f"{login} is now {r.value}", highlight=False)


@app.command("phone")
def phone(login: str, interface: Annotated[str, typer.Argument(
        help="the queue member interface the operators' queue rings for this user: PJSIP/201, "
             "Local/201@operators/n")]) -> None:
    """Link an operator to their phone: calls the queue connects to INTERFACE pop up on their desk
    (issue 13; an admin does)."""
    from autoinform.db import transaction
    from autoinform.desk.store import set_phone
    from autoinform.models import Role

    with runtime() as rt, transaction(rt.sessions) as s:
        row = set_phone(s, login, interface, actor=acting_user(s, Role.ADMIN).login)
        iface = row.interface
    console.print(f"{login}'s phone is {iface}", highlight=False)


@app.command("disable")
def disable(login: str) -> None:
    """Disable a user: their web sessions end, their tokens stop working (an admin does)."""
    _set_disabled(login, True)


@app.command("enable")
def enable(login: str) -> None:
    """Enable a disabled user again (an admin does)."""
    _set_disabled(login, False)


def _set_disabled(login: str, disabled: bool) -> None:
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.users import set_disabled

    with runtime() as rt, transaction(rt.sessions) as s:
        set_disabled(s, login, disabled, actor=acting_user(s, Role.ADMIN).login)
    console.print(f"{login} {'disabled' if disabled else 'enabled'}", highlight=False)


@app.command("whoami")
def whoami(as_json: Json = False) -> None:
    """Who this command line acts as (the owner of your API token)."""
    from autoinform.db import transaction

    with runtime() as rt, transaction(rt.sessions) as s:  # writes the token's last use
        user = acting_user(s)
        data = {"login": user.login, "role": user.role.value}
    if as_json:
        print_json(data)
    else:
        console.print(f"{data['login']} ({data['role']})", highlight=False)


@app.command("ls")
def ls(as_json: Json = False) -> None:
    """List users and roles (an admin or a manager)."""
    from rich.table import Table
    from sqlalchemy import select

    from autoinform.db import transaction
    from autoinform.models import Role, User

    with runtime() as rt, transaction(rt.sessions) as s:  # writes the token's last use
        acting_user(s, Role.MANAGER)
        users = [(u.login, u.role.value, u.full_name, u.disabled, u.password_hash is not None)
                 for u in s.scalars(select(User).order_by(User.login))]
    if as_json:
        print_json([{"login": a, "role": b, "name": c, "disabled": d, "password": p}
                    for a, b, c, d, p in users])
        return
    t = Table("login", "role", "name", "state", "web log-in")
    for a, b, c, d, p in users:
        t.add_row(a, b, c, "disabled" if d else "enabled", "password set" if p else "no password")
    console.print(t)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'laptop' or 'billing-sync'.")],
    user: Annotated[str | None, typer.Option("--user", help="Whose token (an admin only); yours by default.")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write it to this new file (mode 600) "
                                                 "instead of printing it.")] = None,
) -> None:
    """Make an API token. It is shown (or written) once: only its hash is kept."""
    from autoinform.db import transaction
    from autoinform.errors import PermissionDenied
    from autoinform.models import Role
    from autoinform.tokens import create_token, write_token_file

    if output is not None and output.exists():
        fail(f"{output} exists already; not overwritten")
    with runtime() as rt, transaction(rt.sessions) as s:
        actor = acting_user(s)
        owner = user or actor.login
        if owner != actor.login and actor.role is not Role.ADMIN:
            raise PermissionDenied("only an admin makes a token for another user")
        new = create_token(s, owner, name, actor=actor.login)
        if output is not None:
            write_token_file(output, new.secret)
    if output is not None:
        console.print(f"token {new.id} ({name}) of {owner} written to {output}", highlight=False)
    else:
        sys.stdout.write(new.secret + "\n")
        err_console.print(f"token {new.id} ({name}) of {owner}: shown once, keep it in a file only its "
                          f"owner reads (chmod 600)", highlight=False)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token (yours, or anyone's as an admin): it stops working at once."""
    from autoinform.db import transaction
    from autoinform.tokens import revoke_token

    with runtime() as rt, transaction(rt.sessions) as s:
        revoke_token(s, token_id, actor=acting_user(s))
    console.print(f"token {token_id} revoked", highlight=False)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="This user's tokens (an admin only).")] = None,
    all_users: Annotated[bool, typer.Option("--all", help="Everyone's tokens (an admin only).")] = False,
    as_json: Json = False,
) -> None:
    """Your tokens (names and dates, never the tokens themselves)."""
    from rich.table import Table

    from autoinform.db import transaction
    from autoinform.errors import PermissionDenied
    from autoinform.models import Role
    from autoinform.tokens import list_tokens

    with runtime() as rt, transaction(rt.sessions) as s:  # writes the token's last use
        actor = acting_user(s)
        if (all_users or (user and user != actor.login)) and actor.role is not Role.ADMIN:
            raise PermissionDenied("only an admin lists other users' tokens")
        rows = list_tokens(s, None if all_users else (user or actor.login))
    if as_json:
        print_json(rows)
        return
    t = Table("id", "name", "user", "created", "last used", "revoked")
    for r in rows:
        t.add_row(str(r["id"]), str(r["name"]), str(r["user"]), str(r["created_at"])[:16],
                  str(r["last_used_at"] or "—")[:16], str(r["revoked_at"] or "—")[:16])
    console.print(t)
