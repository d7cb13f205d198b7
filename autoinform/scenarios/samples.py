"""Sample and worst-case recipients, for `scenarios check`, `scenarios render` and tests.

Samples are synthetic. The worst case estimates the longest SMS (AI-17): text variables at their
`max_length` (built-in customer fields at the bounds below), numbers at large values, the longest
month name in long dates. It is an estimate for authors, not a promise: rendering itself always
counts the real text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final

from autoinform.content import Recipient
from autoinform.scenarios.model import ScenarioSpec
from autoinform.scenarios.values import Value, VarType

SEND_DATE: Final = date(2026, 12, 1)  # a Tuesday and a working day

BUILTIN_SAMPLES: Final[Mapping[str, Value]] = MappingProxyType({
    "name": "Иванова Мария Петровна",
    "account": "300012345",
    "group": 1,
    "division": "Центральный абонентский пункт",
    "address": "г. Астрахань, ул. Савушкина, д. 12, кв. 34",
})
# Lengths billing exports rarely exceed; the database columns allow more.
BUILTIN_WORST_LENGTHS: Final[Mapping[str, int]] = MappingProxyType({
    "name": 60, "account": 20, "division": 40, "address": 150,
})
TYPE_SAMPLES: Final[Mapping[VarType, Value]] = MappingProxyType({
    VarType.MONEY: 123456,
    VarType.DATE: date(2026, 12, 15),
    VarType.TIME: time(10, 0),
    VarType.INTEGER: 42,
    VarType.QUANTITY: 150,
    VarType.PHONE: "+78000000000",
    VarType.TEXT: "пример",
})
TYPE_WORST: Final[Mapping[VarType, Value]] = MappingProxyType({
    VarType.MONEY: 999_999_999,  # 9 999 999 руб. 99 коп.
    VarType.DATE: date(2026, 9, 30),  # "30 сентября 2026 года": the longest long date
    VarType.TIME: time(23, 59),
    VarType.INTEGER: 999_999_999,
    VarType.QUANTITY: 999_999,
})
WORST_CHAR: Final = "Ж"  # Cyrillic: forces UCS-2, the costlier encoding


@dataclass
class SampleSet:
    recipient: Recipient
    send_date: date
    notes: list[str] = field(default_factory=list)  # where the worst case had to guess


def sample(spec: ScenarioSpec, group: int = 1) -> SampleSet:
    """Every declared variable at its sample (or default, or type sample); timeline dates are left
    to be computed from the send date."""
    variables: dict[str, object] = {}
    for name, var in spec.variables.items():
        value = var.sample if var.sample is not None else var.default
        if value is None and var.timeline is None:
            value = TYPE_SAMPLES[var.type]
        if value is not None:
            variables[name] = value
    return SampleSet(_recipient(dict(BUILTIN_SAMPLES), group, variables), SEND_DATE)


def worst(spec: ScenarioSpec, group: int = 1) -> SampleSet:
    notes: list[str] = []
    builtins: dict[str, Value] = dict(BUILTIN_SAMPLES)
    builtins |= {name: WORST_CHAR * n for name, n in BUILTIN_WORST_LENGTHS.items()}
    variables: dict[str, object] = {}
    for name, var in spec.variables.items():
        typical = var.sample if var.sample is not None else var.default or TYPE_SAMPLES[var.type]
        if var.timeline is not None:  # a lawful date (a year ahead) with the longest month name
            variables[name] = date(SEND_DATE.year + 1, 9, 30)
        elif var.type is VarType.TEXT:
            if var.max_length is not None:
                variables[name] = WORST_CHAR * var.max_length
            else:
                variables[name] = typical
                notes.append(f"text variable {name!r} has no max_length: its sample stands in")
        elif var.type in TYPE_WORST:
            variables[name] = TYPE_WORST[var.type]
        else:
            variables[name] = typical
    _order_for_after(spec, variables)
    return SampleSet(_recipient(builtins, group, variables), SEND_DATE, notes)


def _order_for_after(spec: ScenarioSpec, variables: dict[str, object]) -> None:
    """Worst values are equal per type, which `after` refuses: step each earlier value down by one
    unit (one minute, day or kopeck), which keeps its written length."""
    for _ in spec.variables:  # `after` chains are acyclic (references.py): this many passes settle them
        for name, var in spec.variables.items():
            if var.after is None or var.after not in variables:
                continue
            later, earlier = variables[name], variables[var.after]
            if isinstance(later, time) and isinstance(earlier, time) and not later > earlier:
                variables[var.after] = (datetime.combine(SEND_DATE, later) - timedelta(minutes=1)).time()
            elif isinstance(later, date) and isinstance(earlier, date) and not later > earlier:
                variables[var.after] = later - timedelta(days=1)
            elif isinstance(later, int) and isinstance(earlier, int) and not later > earlier:
                variables[var.after] = later - 1


def _recipient(builtins: Mapping[str, Value], group: int, variables: dict[str, object]) -> Recipient:
    return Recipient(account=str(builtins["account"]), name=str(builtins["name"]), group=group,
                     division=str(builtins["division"]), address=str(builtins["address"]),
                     variables=variables)
