"""The `autoinform` command: one sub-command group per concern, each in its own module.

The groups are imported when they are used (issue 9 item 5): `autoinform say money 1` loads the
`say` module only, and `autoinform --help` loads every group module but none of the heavy
libraries behind them (those are imported inside the commands).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import typer
import typer.core
import typer.main
import typer.models

from autoinform.errors import AutoinformError

if TYPE_CHECKING:
    from typer._click import Command, Context  # typer 0.29 carries its own click

# (group name, module); each module defines `app`, a typer.Typer.
GROUPS = (
    ("config", "config_cmd"),
    ("db", "db_cmd"),
    ("lists", "lists_cmd"),
    ("scenarios", "scenarios_cmd"),
    ("campaigns", "campaigns_cmd"),
    ("results", "results_cmd"),
    ("report", "report_cmd"),
    ("users", "users_cmd"),
    ("say", "say_cmd"),
    ("audio", "audio_cmd"),
    ("ivr", "ivr_cmd"),
    ("billing", "billing_cmd"),
    ("readings", "readings_cmd"),
    ("callbacks", "callbacks_cmd"),
    ("recordings", "recordings_cmd"),
    ("hotline", "hotline_cmd"),
    ("templates", "templates_cmd"),  # issue 14
)
_LAZY = dict(GROUPS)


class LazyGroup(typer.core.TyperGroup):
    """The top-level group: a sub-command group's module is imported when that group is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _LAZY if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in _LAZY:
            module = importlib.import_module(f"autoinform.cli.{_LAZY[cmd_name]}")
            # As app.add_typer would build it: a sub-group, without the root's completion options.
            self.commands[cmd_name] = typer.main.get_group_from_info(
                typer.models.TyperInfo(module.app, name=cmd_name), pretty_exceptions_short=True,
                suggest_commands=self.suggest_commands, rich_markup_mode=self.rich_markup_mode)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Context, args: list[str]) -> Any:
        # Typer suggests close names from the commands loaded so far: load them all on a typo.
        if args and args[0] not in self.commands and args[0] not in _LAZY:
            for name in _LAZY:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="autoinform",
    help="Autoinform campaigns and hotline IVR for an electricity retailer.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
)

# Top-level commands (run, demo) register themselves on `app`.
importlib.import_module("autoinform.cli.engine_cmd")


def main() -> None:
    try:
        app()
    except AutoinformError as exc:  # last resort: commands normally exit through common.fail
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
