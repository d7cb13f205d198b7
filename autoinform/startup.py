"""Checks made before the engine takes any work: a missing prompt is an error here, before a call,
because Asterisk plays a missing file as silence (asterisk/README.md)."""

from __future__ import annotations

from autoinform.errors import ConfigError
from autoinform.runtime import Runtime


def scenario_prompts(rt: Runtime) -> dict[str, str]:
    from autoinform.scenarios import load_all

    texts: dict[str, str] = {}
    for sc in load_all(rt.settings.scenarios_dir):
        texts.update(sc.prompt_texts())
    return texts


def check_prompts(rt: Runtime) -> None:
    """Every prompt a scenario or an IVR flow can play must exist in the audio folder."""
    from ivr import prompts

    report = prompts.check(rt.settings.audio_dir, scenario_prompts(rt))
    if report.missing or report.corrupt:
        ids = ", ".join((*report.missing, *report.corrupt)[:10])
        raise ConfigError(f"prompt audio missing or corrupt in {rt.settings.audio_dir}: {ids} "
                          "(run `autoinform audio build`)")
