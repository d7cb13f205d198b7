"""The shared information base (HL-6): what the IVR says and operators read, from hotline/info.yaml.

Staff edit the YAML: each topic (tariffs, offices, payment, readings) has entries with the date
they take effect; the entry in force on the day of the call is spoken (a new tariff is added ahead
of time with its date, the old one stays as history). An entry is a list of parts, each one of:
a prompt (with its `text` when the information base defines it: `autoinform audio build` makes its
audio), or a value spoken by ivr/say.py: money (roubles with kopecks), number, kwh, date, time,
phone, digits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autoinform.scenarios.yamlsource import LineMap
from ivr import say
from ivr.hotline.data import combine, parse_model, problem, read_text
from ivr.prompts import PromptError, validate_id

VALUE_KINDS = ("prompt", "money", "number", "kwh", "date", "time", "phone", "digits")


class Part(BaseModel):
    """One spoken piece of an entry: exactly one of the value kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str | None = None
    text: str | None = None  # the prompt's Russian text, when this file defines the prompt
    money: Decimal | None = None  # roubles: 6.12 is "шесть рублей двенадцать копеек"
    number: int | None = None
    kwh: int | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    phone: str | None = None
    digits: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _money_as_text(cls, data: Any) -> Any:
        # YAML reads 6.1 as a float: keep what the file says, not its binary neighbour
        if isinstance(data, dict) and isinstance(data.get("money"), float):
            data = {**data, "money": str(data["money"])}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Part:
        given = [k for k in VALUE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a part is exactly one of {', '.join(VALUE_KINDS)} (got {', '.join(given) or 'none'})")
        if self.text is not None and self.prompt is None:
            raise ValueError("`text` goes with `prompt` only")
        if self.money is not None and self.money != self.money.quantize(Decimal("0.01")):
            raise ValueError(f"money {self.money} has more than two decimals (kopecks)")
        return self

    @field_validator("prompt")
    @classmethod
    def _prompt_id(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                validate_id(value)
            except PromptError as exc:
                raise ValueError(str(exc)) from None
        return value

    def speech(self) -> say.Speech:
        if self.prompt is not None:
            return say.Speech((self.prompt,), self.text or "")
        if self.money is not None:
            return say.money(int(self.money * 100))
        if self.number is not None:
            return say.number(self.number)
        if self.kwh is not None:
            return say.kwh(self.kwh)
        if self.date is not None:
            return say.date(self.date)
        if self.time is not None:
            return say.time_of_day(self.time, zero_minutes=False)
        if self.phone is not None:
            return say.phone(self.phone)
        assert self.digits is not None
        return say.digits(self.digits)


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    effective: dt.date
    say: list[Part] = Field(min_length=1)
    note: str = ""  # for the staff: where the figures come from


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    entries: list[Entry] = Field(min_length=1)


class InfoSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: dict[str, Topic] = Field(min_length=1)


@dataclass(frozen=True)
class InfoBase:
    spec: InfoSpec
    file: str
    lines: LineMap

    def entry(self, topic: str, on: dt.date) -> Entry | None:
        """The entry in force on `on`: the latest one whose date has come."""
        current = [e for e in self.spec.topics[topic].entries if e.effective <= on]
        return max(current, key=lambda e: e.effective) if current else None

    def speech(self, topic: str, on: dt.date) -> say.Speech | None:
        entry = self.entry(topic, on)
        return None if entry is None else say.Speech.join(p.speech() for p in entry.say)

    @property
    def topics(self) -> Mapping[str, Topic]:
        return self.spec.topics

    def prompt_texts(self) -> dict[str, str]:
        """Prompts this file defines (id -> text), for `autoinform audio build` and the checks."""
        return {p.prompt: p.text for t in self.spec.topics.values() for e in t.entries for p in e.say
                if p.prompt is not None and p.text is not None}

    def prompt_ids(self) -> set[str]:
        """Every prompt an entry can play, word prompts of the values included."""
        return {pid for t in self.spec.topics.values() for e in t.entries for p in e.say
                for pid in p.speech().prompts}


def parse_info(text: str, file: str) -> InfoBase:
    spec, lines = parse_model(text, file, InfoSpec)
    errors = []
    defined: dict[str, str] = {}
    for tid, topic in spec.topics.items():
        seen: set[dt.date] = set()
        for i, entry in enumerate(topic.entries):
            path: tuple[str | int, ...] = ("topics", tid, "entries", i)
            if entry.effective in seen:
                errors.append(problem(f"two entries take effect on {entry.effective}", file, lines,
                                      (*path, "effective")))
            seen.add(entry.effective)
            for j, part in enumerate(entry.say):
                try:
                    part.speech()
                except say.SpeechError as exc:
                    errors.append(problem(str(exc), file, lines, (*path, "say", j)))
                if (part.prompt is not None and part.text is not None
                        and defined.setdefault(part.prompt, part.text) != part.text):
                    errors.append(problem(f"prompt {part.prompt!r} has another text earlier in the file",
                                          file, lines, (*path, "say", j, "text")))
    if errors:
        raise combine(errors)
    return InfoBase(spec, file, lines)


def load_info(path: Path) -> InfoBase:
    return parse_info(read_text(path), str(path))
