"""Cross-reference checks of a parsed scenario: each problem with the path of the field at fault.

pydantic checks each field on its own; these checks need the whole scenario (a placeholder is
only known once the variables are), and run after it so that every problem keeps its own line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from autoinform.scenarios.model import BUILTINS, NAME_PATTERN, SAY_TYPES, Kind, ScenarioSpec
from autoinform.scenarios.template import Template
from autoinform.scenarios.values import FORMATS, VarType, coerce
from autoinform.scenarios.yamlsource import DataPath


@dataclass(frozen=True)
class Problem:
    path: DataPath
    message: str


def problems(spec: ScenarioSpec) -> list[Problem]:
    return [*_variables(spec), *_templates(spec), *_steps(spec), *_kind(spec), *_skips(spec)]


ORDERED = {VarType.DATE, VarType.TIME, VarType.MONEY, VarType.INTEGER, VarType.QUANTITY}


def _variables(spec: ScenarioSpec) -> Iterator[Problem]:
    for name, var in spec.variables.items():
        if name in BUILTINS:
            yield Problem(("variables", name), f"{name!r} is a built-in variable and cannot be redeclared")
        elif not re.fullmatch(NAME_PATTERN, name):
            yield Problem(("variables", name), f"bad variable name {name!r}: lower-case latin letters, "
                                               "digits and '_', starting with a letter")
        if var.after is not None:
            other = spec.variables.get(var.after)
            if other is None or var.after == name:
                yield Problem(("variables", name, "after"), f"`after` names {var.after!r}, not another "
                                                            "variable of this scenario")
            elif other.type is not var.type or var.type not in ORDERED:
                yield Problem(("variables", name, "after"), f"`after` compares two variables of one ordered "
                                                            f"type ({', '.join(sorted(ORDERED))}); {name!r} is "
                                                            f"{var.type}, {var.after!r} is {other.type}")
            elif _after_chain_returns(spec, name):
                yield Problem(("variables", name, "after"), f"`after` links {name!r} back to itself")


def _after_chain_returns(spec: ScenarioSpec, start: str) -> bool:
    seen, name = {start}, spec.variables[start].after
    while name is not None and name in spec.variables:
        if name in seen:
            return True
        seen.add(name)
        name = spec.variables[name].after
    return False


def templates_of(spec: ScenarioSpec) -> Iterator[tuple[DataPath, Template]]:
    if spec.phone:
        for i, step in enumerate(spec.phone.steps):
            if step.text is not None:
                yield ("phone", "steps", i, "text"), step.text
    if spec.sms:
        yield ("sms", "text"), spec.sms.text
    if spec.email:
        yield ("email", "subject"), spec.email.subject
        yield ("email", "text"), spec.email.text
        if spec.email.html is not None:
            yield ("email", "html"), spec.email.html


def _templates(spec: ScenarioSpec) -> Iterator[Problem]:
    for path, template in templates_of(spec):
        for ph in template.placeholders:
            vtype = spec.var_type(ph.name)
            if vtype is None:
                yield Problem(path, f"unknown variable {ph}: declare it under `variables` "
                                    f"(built-ins: {', '.join(BUILTINS)})")
            elif ph.fmt not in FORMATS[vtype]:
                known = ", ".join(sorted(f for f in FORMATS[vtype] if f)) or "none"
                yield Problem(path, f"format {ph.fmt!r} does not apply to {vtype} variable {ph.name!r} "
                                    f"(formats: {known})")


def _steps(spec: ScenarioSpec) -> Iterator[Problem]:
    if spec.phone is None:
        return
    seen: set[str] = set()
    prompts: dict[str, str] = {}
    for i, step in enumerate(spec.phone.steps):
        path: DataPath = ("phone", "steps", i)
        if step.id in seen:
            yield Problem((*path, "id"), f"duplicate step id {step.id!r}")
        seen.add(step.id)
        if (step.prompt is not None and step.text is not None
                and prompts.setdefault(step.prompt, step.text.source) != step.text.source):
            yield Problem((*path, "text"), f"prompt {step.prompt!r} is used twice with different texts")
        if step.say is None or step.var is None:
            continue
        vtype = spec.var_type(step.var)
        if vtype is None:
            yield Problem((*path, "var"), f"unknown variable {step.var!r}")
        elif vtype not in SAY_TYPES[step.say]:
            allowed = ", ".join(sorted(SAY_TYPES[step.say]))
            yield Problem((*path, "say"), f"cannot `say: {step.say}` a {vtype} variable "
                                          f"({step.var!r}); it speaks: {allowed}")


def _kind(spec: ScenarioSpec) -> Iterator[Problem]:
    if spec.kind is Kind.RESTRICTION_WARNING and not any(
            v.type is VarType.DATE and v.timeline for v in spec.variables.values()):
        yield Problem(("kind",), "a restriction warning needs a date variable with a `timeline` "
                                 "(restriction or cutoff) so its date follows the group's timeline (AI-18)")


REASON_MAX = 64  # Delivery.reason


def _skips(spec: ScenarioSpec) -> Iterator[Problem]:
    for reason, rule in spec.skip_when.items():
        path: DataPath = ("skip_when", reason)
        if not re.fullmatch(NAME_PATTERN, reason) or len(reason) > REASON_MAX:
            yield Problem(path, f"bad reason {reason!r}: lower-case latin letters, digits and '_', "
                                f"starting with a letter, up to {REASON_MAX} characters (e.g. no_debt)")
        vtype = spec.var_type(rule.var)
        if vtype is None:
            yield Problem(path, f"unknown variable {rule.var!r} in {str(rule)!r}")
            continue
        if rule.op not in ("==", "!=") and vtype not in ORDERED:
            yield Problem(path, f"{rule.op} compares ordered values ({', '.join(sorted(ORDERED))}); "
                                f"{rule.var!r} is {vtype}: use == or !=")
        try:
            coerce(vtype, rule.value, signed=True)
        except ValueError as exc:
            yield Problem(path, f"{rule.value!r} is not a {vtype} value for {rule.var!r}: {exc}")
