"""`autoinform audio`: build and check the prompt audio under audio/ (AI-10, HL-3).

The catalogue is the word prompts, the fixed phrases, the fixed-phrase prompts of every
scenario in the scenarios folder and the prompts of the hotline's information base. Asterisk
plays a missing file as silence, so `check` must pass
before the engine places or answers calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

import typer

from autoinform.cli.common import fail, print_json
from autoinform.errors import AutoinformError

app = typer.Typer(help="Prompt audio: build and check (audio/).", no_args_is_help=True)

AudioDirOpt = typer.Option(None, "--audio-dir", help="Default: the audio_dir setting (audio/).")
ScenariosDirOpt = typer.Option(None, "--scenarios-dir", help="Default: the scenarios_dir setting.")


class EngineOpt(StrEnum):
    auto = "auto"
    gtts = "gtts"
    espeak = "espeak"


def _dirs(audio_dir: Path | None, scenarios_dir: Path | None) -> tuple[Path, Path]:
    if audio_dir is not None and scenarios_dir is not None:
        return audio_dir, scenarios_dir
    from autoinform.config import load_settings

    try:
        settings = load_settings()
    except AutoinformError as exc:
        fail(str(exc))
    return audio_dir or settings.audio_dir, scenarios_dir or settings.scenarios_dir


def _extra(scenarios_dir: Path) -> Mapping[str, str]:
    from autoinform.startup import scenario_prompts
    from ivr.prompts import PromptError

    try:
        return {**scenario_prompts(scenarios_dir), **_hotline_prompts()}
    except (AutoinformError, PromptError) as exc:
        fail(str(exc))


def _hotline_prompts() -> Mapping[str, str]:
    """The prompts the hotline's information base defines (hotline/info.yaml, issue 11)."""
    from autoinform.config import load_settings
    from ivr.hotline.info import load_info

    path = load_settings().hotline.info_file
    return load_info(path).prompt_texts() if path.is_file() else {}


@app.command()
def build(force: bool = typer.Option(False, "--force", help="Rebuild every prompt."),
          engine: EngineOpt = typer.Option(EngineOpt.auto, "--engine",
                                           help="auto: gTTS if reachable, else espeak-ng."),
          audio_dir: Path | None = AudioDirOpt, scenarios_dir: Path | None = ScenariosDirOpt,
          as_json: bool = typer.Option(False, "--json")) -> None:
    """(Re)generate the audio of prompts that are missing or whose text changed."""
    from ivr import prompts
    from ivr.audio_build import build as build_audio
    from ivr.prompts import PromptError

    audio, scenarios = _dirs(audio_dir, scenarios_dir)
    try:
        report = build_audio(audio, prompts.catalogue(_extra(scenarios)), engine=engine.value, force=force)
    except PromptError as exc:
        fail(str(exc))
    if as_json:
        print_json({"built": [{"prompt": b.prompt_id, "engine": b.engine, "reason": b.reason}
                              for b in report.built],
                    "up_to_date": len(report.up_to_date), "failed": report.failed, "notes": report.notes})
    else:
        for note in report.notes:
            typer.echo(f"note: {note}")
        for b in report.built:
            typer.echo(f"built {b.prompt_id} ({b.reason}) with {b.engine}")
        for pid, reason in sorted(report.failed.items()):
            typer.echo(f"FAILED {pid}: {reason}")
        engines = ", ".join(f"{n} by {e}" for e, n in report.engines().items()) or "none built"
        typer.echo(f"{len(report.built)} built ({engines}), {len(report.up_to_date)} up to date, "
                   f"{len(report.failed)} failed; audio in {audio}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def check(audio_dir: Path | None = AudioDirOpt, scenarios_dir: Path | None = ScenariosDirOpt,
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Exit non-zero, listing them, if any prompt is missing, changed or corrupt."""
    from ivr import prompts
    from ivr.prompts import PromptError

    audio, scenarios = _dirs(audio_dir, scenarios_dir)
    try:
        report = prompts.check(audio, _extra(scenarios))
    except PromptError as exc:
        fail(str(exc))
    if as_json:
        print_json({"ok": report.ok, "checked": report.checked, "problems": dict(report.reasons)})
    else:
        for line in report.problems():
            typer.echo(line)
        verdict = "all present" if report.ok else f"{len(report.reasons)} need `autoinform audio build`"
        typer.echo(f"{report.checked} prompts checked in {audio}: {verdict}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def adopt(prompt_ids: list[str] = typer.Argument(..., help="Prompt ids whose files were replaced."),
          source: str = typer.Option("studio", "--source", help="Recorded in the manifest as the engine."),
          voice: str = typer.Option("", "--voice", help="Speaker or voice name, for the record."),
          audio_dir: Path | None = AudioDirOpt, scenarios_dir: Path | None = ScenariosDirOpt) -> None:
    """Record hand-made files (studio recordings) in the manifest so `build` keeps them."""
    from ivr import prompts
    from ivr.audio_build import adopt as adopt_audio
    from ivr.prompts import PromptError

    audio, scenarios = _dirs(audio_dir, scenarios_dir)
    try:
        cat = prompts.catalogue(_extra(scenarios))
        unknown = sorted(set(prompt_ids) - set(cat))
        if unknown:
            fail(f"not in the prompt catalogue: {', '.join(unknown)}")
        adopted = adopt_audio(audio, {pid: cat[pid] for pid in prompt_ids}, source=source, voice=voice)
    except PromptError as exc:
        fail(str(exc))
    typer.echo(f"{len(adopted)} prompt(s) recorded as made by {source}: {' '.join(adopted)}")
