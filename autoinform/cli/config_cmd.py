"""`autoinform config`: show and check the settings (secrets masked)."""

from __future__ import annotations

import typer

from autoinform.cli.common import fail, print_json
from autoinform.errors import ConfigError

app = typer.Typer(help="Show and check the configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective settings as JSON; secrets are shown as '**********'."""
    from autoinform.config import load_settings

    try:
        print_json(load_settings().redacted())
    except ConfigError as exc:
        fail(str(exc), 2)


@app.command("check")
def check() -> None:
    """Validate the settings and exit 0, or print what is wrong and exit 2."""
    from autoinform.config import load_settings

    try:
        load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)
    typer.echo("configuration OK")
