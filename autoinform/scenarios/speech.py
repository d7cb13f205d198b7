"""Spoken forms of scenario variables for phone steps, through ivr.say (AI-10)."""

from __future__ import annotations

from datetime import date, time

from autoinform.scenarios.model import SayKind, StepSpec
from autoinform.scenarios.values import Unit, Value
from ivr import say


def speak(step: StepSpec, value: Value, unit: Unit | None = None) -> say.Speech:
    """The speech of a `say` step for a typed value; say.SpeechError if it cannot be spoken."""
    match step.say, value:
        case SayKind.MONEY, int():
            return say.money(value, zero_kopecks=bool(step.zero_kopecks))
        case SayKind.DATE, date():
            return say.date(value, year=step.year is not False)
        case SayKind.TIME, time():
            return say.time_of_day(value)
        case SayKind.NUMBER, int():
            return say.number(value, step.gender or "m")
        case SayKind.QUANTITY, int() if unit is not None:
            return say.quantity(value, unit.value)
        case SayKind.PHONE, str():
            return say.phone(value)
        case SayKind.DIGITS, str() | int():
            return say.digits(str(value))
    raise say.SpeechError(value, f"cannot say {step.say} of this value")
