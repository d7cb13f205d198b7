"""A loaded scenario: its validated spec, its exact source text and what it can play."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from autoinform.errors import AutoinformError
from autoinform.models import Channel
from autoinform.scenarios import samples
from autoinform.scenarios.model import Kind, ScenarioSpec
from autoinform.scenarios.resolve import Resolver
from autoinform.scenarios.speech import speak
from ivr import say


@dataclass(frozen=True, eq=False)
class Scenario:
    spec: ScenarioSpec
    source: str  # the YAML text exactly as read: what a stored snapshot keeps (AI-3)
    path: Path | None = None

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    @property
    def channels(self) -> tuple[Channel, ...]:
        return self.spec.channels

    @property
    def file(self) -> str | None:
        return str(self.path) if self.path else None

    def prompt_texts(self) -> dict[str, str]:
        """Prompt id -> text of every fixed phrase the phone content plays (for the audio builder)."""
        if self.spec.phone is None:
            return {}
        return {step.prompt: step.text.render(str) for step in self.spec.phone.steps
                if step.prompt is not None and step.text is not None}

    def prompt_ids(self) -> set[str]:
        """Every prompt id a call can play: the fixed phrases, plus the word prompts of each `say`
        step spoken for the sample values (which words a real value needs depends on the value;
        the full word inventory is ivr.say.WORD_PROMPTS)."""
        ids = set(self.prompt_texts())
        if self.spec.phone is None:
            return ids
        example = samples.sample(self.spec)
        resolver = Resolver(self.spec, example.recipient, send_date=example.send_date, file=self.file)
        for step in self.spec.phone.steps:
            if step.say is None or step.var is None:
                continue
            var = self.spec.variables.get(step.var)
            try:
                ids.update(speak(step, resolver.get(step.var), var.unit if var else None).prompts)
            except (AutoinformError, say.SpeechError):
                continue  # an unspeakable sample is reported by `scenarios check`, not here
        return ids
