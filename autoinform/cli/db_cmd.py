"""`autoinform db`: schema migrations."""

from __future__ import annotations

import typer

from autoinform.cli.common import console, runtime

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database to the newest schema and seed the divisions (the engine does this on start)."""
    from autoinform import db

    with runtime() as rt:
        console.print(f"database at revision {db.current_revision(rt.engine)}")


@app.command("revision")
def revision() -> None:
    """Print the database's current schema revision."""
    from autoinform import db

    with runtime() as rt:
        console.print(db.current_revision(rt.engine) or "(empty)")
