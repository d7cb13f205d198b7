"""`autoinform users`: who may form, approve and export (AI-15, AI-19)."""

from __future__ import annotations

from typing import Annotated

import typer

from autoinform.cli.common import console, fail, print_json, runtime

app = typer.Typer(help="Users and roles (AI-15, AI-19).", no_args_is_help=True)


@app.command("add")
def add(login: str, role: Annotated[str, typer.Option(help="specialist, manager, operator or admin")],
        full_name: Annotated[str, typer.Option("--name")] = "") -> None:
    """Add a user with a role."""
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.users import add_user

    try:
        r = Role(role)
    except ValueError:
        fail(f"unknown role {role!r}; one of: {', '.join(x.value for x in Role)}", 2)
    with runtime() as rt, transaction(rt.sessions) as s:
        add_user(s, login, r, full_name)
    console.print(f"user {login} ({r.value}) added")


@app.command("ls")
def ls(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users and roles."""
    from rich.table import Table
    from sqlalchemy import select

    from autoinform.models import User

    with runtime() as rt, rt.sessions() as s:
        users = [(u.login, u.role.value, u.full_name) for u in s.scalars(select(User).order_by(User.login))]
    if as_json:
        print_json([{"login": a, "role": b, "name": c} for a, b, c in users])
        return
    t = Table("login", "role", "name")
    for row in users:
        t.add_row(*row)
    console.print(t)
