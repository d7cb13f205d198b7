"""`autoinform hotline`: check the hotline's menu and information base, and read the base as the
IVR speaks it (issue 11; HL-6: operators and the IVR answer from the same data)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from autoinform.cli.common import fail, print_json
from autoinform.errors import AutoinformError, ScenarioError

if TYPE_CHECKING:
    from autoinform.config import Settings

app = typer.Typer(help="Hotline IVR: check the menu and the information base (hotline/).", no_args_is_help=True)

MenuOpt = typer.Option(None, "--menu", help="Default: the hotline.menu_file setting (hotline/menu.yaml).")
InfoOpt = typer.Option(None, "--info", help="Default: the hotline.info_file setting (hotline/info.yaml).")


def _settings() -> Settings:
    from autoinform.config import load_settings

    try:
        return load_settings()
    except AutoinformError as exc:
        fail(str(exc))


def _errors(exc: ScenarioError) -> list[ScenarioError]:
    return list(getattr(exc, "errors", [exc]))


@app.command()
def check(menu: Path | None = MenuOpt, info: Path | None = InfoOpt,
          audio_dir: Path | None = typer.Option(None, "--audio-dir", help="Default: the audio_dir setting."),
          no_audio: bool = typer.Option(False, "--no-audio", help="Skip the check of prompt audio."),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Validate the menu and the information base (file, line and field in every error), and check
    that every prompt the hotline plays has audio built from its current text."""
    from ivr.hotline.info import load_info
    from ivr.hotline.menu import check_menu, load_menu

    settings = _settings()
    menu_file = menu or settings.hotline.menu_file
    info_file = info or settings.hotline.info_file
    errors: list[ScenarioError] = []
    loaded_menu = loaded_info = None
    try:
        loaded_menu = load_menu(menu_file)
    except ScenarioError as exc:
        errors += _errors(exc)
    try:
        loaded_info = load_info(info_file)
    except ScenarioError as exc:
        errors += _errors(exc)
    if loaded_menu is not None and loaded_info is not None:
        errors += check_menu(loaded_menu, loaded_info, None if no_audio else (audio_dir or settings.audio_dir))
    if as_json:
        print_json({"ok": not errors, "menu": str(menu_file), "info": str(info_file),
                    "errors": [{"file": e.file, "line": e.line, "field": e.field, "message": e.detail}
                               for e in errors]})
    else:
        for e in errors:
            typer.echo(str(e))
        if loaded_menu is not None and loaded_info is not None:
            items = sum(len(m.items) for m in loaded_menu.spec.menus.values())
            typer.echo(f"{menu_file}: {len(loaded_menu.spec.menus)} menus, {items} items; "
                       f"{info_file}: {len(loaded_info.topics)} topics")
        typer.echo("ok" if not errors else f"{len(errors)} problem(s)")
    if errors:
        raise typer.Exit(1)


@app.command("info")
def show_info(topic: str | None = typer.Argument(None, help="A topic id; all topics if omitted."),
              on: str | None = typer.Option(None, "--on", help="The day (YYYY-MM-DD); default today."),
              info: Path | None = InfoOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """What the IVR says for each topic on a day: the entry in force, as text."""
    from ivr.hotline.info import load_info

    settings = _settings()
    try:
        base = load_info(info or settings.hotline.info_file)
    except ScenarioError as exc:
        fail(str(exc))
    try:
        day = date.fromisoformat(on) if on else datetime.now(settings.tz).date()
    except ValueError:
        fail(f"--on {on!r}: expected YYYY-MM-DD", 2)
    if topic is not None and topic not in base.topics:
        fail(f"no topic {topic!r}; known: {', '.join(base.topics)}")
    rows = []
    for tid in [topic] if topic else list(base.topics):
        entry = base.entry(tid, day)
        speech = base.speech(tid, day)
        rows.append({"topic": tid, "title": base.topics[tid].title,
                     "effective": entry.effective.isoformat() if entry else None,
                     "text": speech.text if speech else None})
    if as_json:
        print_json(rows)
        return
    for row in rows:
        since = f" (since {row['effective']})" if row["effective"] else ""
        text = row["text"] or f"(nothing in force on {day})"
        typer.echo(f"{row['topic']}: {row['title']}{since}\n  {text}")
