"""Checks made before the engine takes any work: a missing prompt is an error here, before a call,
because Asterisk plays a missing file as silence (asterisk/README.md)."""

from __future__ import annotations

from pathlib import Path

from autoinform.errors import ConfigError
from autoinform.runtime import Runtime


def scenario_prompts(directory: Path) -> dict[str, str]:
    """Fixed-phrase prompts of every scenario in `directory` (prompt id -> text). load_all already
    refuses one id with two texts across files."""
    from autoinform.scenarios import load_all

    texts: dict[str, str] = {}
    for sc in load_all(directory):
        texts.update(sc.prompt_texts())
    return texts


def check_prompts(rt: Runtime) -> None:
    """Every prompt a scenario or an IVR flow can play must exist in the audio folder."""
    from ivr import prompts

    report = prompts.check(rt.settings.audio_dir, scenario_prompts(rt.settings.scenarios_dir))
    if report.missing or report.corrupt:
        ids = ", ".join((*report.missing, *report.corrupt)[:10])
        raise ConfigError(f"prompt audio missing or corrupt in {rt.settings.audio_dir}: {ids} "
                          "(run `autoinform audio build`)")
