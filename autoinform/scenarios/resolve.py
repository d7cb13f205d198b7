"""The typed value of each variable for one recipient, strictly (AI-16, AI-18).

Where a value comes from, first match wins: the list row (`Recipient.variables`), deployment
constants (for example the hotline number, from settings), the scenario's default, and for a
timeline date the date computed from `send_date` and the customer's group. A variable found
nowhere is a RenderError: rendering never fills a gap with an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import cast

from autoinform.content import Recipient
from autoinform.errors import RenderError
from autoinform.scenarios import timeline
from autoinform.scenarios.model import BUILTINS, ScenarioSpec, Variable
from autoinform.scenarios.values import Value, VarType, coerce, format_text


class Resolver:
    def __init__(self, spec: ScenarioSpec, recipient: Recipient, *, send_date: date | None = None,
                 constants: Mapping[str, object] | None = None, file: str | None = None) -> None:
        self.spec = spec
        self.recipient = recipient
        self.send_date = send_date
        self.constants = constants or {}
        self.file = file
        self._cache: dict[str, Value] = {}
        self._texts: dict[tuple[str, str | None], str] = {}  # a value recurs in subject, text and HTML

    def error(self, message: str, name: str) -> RenderError:
        return RenderError(message, file=self.file, field=name)

    def all(self) -> dict[str, Value]:
        """Every declared variable: a list missing a required one is wrong for every channel."""
        return {name: self.get(name) for name in self.spec.variables}

    def get(self, name: str) -> Value:
        if name not in self._cache:
            if name in self.spec.variables:
                self._cache[name] = self._declared(name, self.spec.variables[name])
            elif name in BUILTINS:
                self._cache[name] = self._builtin(name)
            else:
                raise self.error("not a variable of this scenario", name)
        return self._cache[name]

    def comparable(self, name: str) -> Value:
        """The value a skip rule compares: as `get`, but a negative amount from the list is a value
        here (an overpayment a debt scenario skips), where `get` refuses it."""
        try:
            return self.get(name)
        except RenderError:
            var = self.spec.variables.get(name)
            raw = self.recipient.variables.get(name)
            if var is None or var.type is not VarType.MONEY or raw is None or raw == "":
                raise
            try:
                return coerce(var.type, raw, signed=True)
            except ValueError:
                raise self.error(f"bad money value from the list: {raw!r}", name) from None

    def text(self, name: str, fmt: str | None = None) -> str:
        found = self._texts.get((name, fmt))
        if found is None:
            vtype = self.spec.var_type(name)
            assert vtype is not None  # placeholders were checked against the declarations at load time
            var = self.spec.variables.get(name)
            found = self._texts[name, fmt] = format_text(vtype, self.get(name), fmt, var.unit if var else None)
        return found

    def _coerce(self, name: str, vtype: VarType, raw: object, source: str,
                max_length: int | None = None) -> Value:
        try:
            return coerce(vtype, raw, max_length=max_length)
        except ValueError as exc:
            raise self.error(f"bad {vtype} value from {source}: {exc}", name) from None

    def _declared(self, name: str, var: Variable) -> Value:
        value = self._source(name, var)
        if var.after is not None:
            earlier = self.get(var.after)
            if not value > earlier:  # type: ignore[operator]  # `after` links two variables of one ordered type
                vtype = var.type
                raise self.error(f"{format_text(vtype, value)} is not after {var.after} "
                                 f"{format_text(vtype, earlier)}", name)
        return value

    def _source(self, name: str, var: Variable) -> Value:
        raw = self.recipient.variables.get(name)
        if raw is not None and raw != "":
            value = self._coerce(name, var.type, raw, "the list", var.max_length)
            if var.timeline is not None:
                assert isinstance(value, date)
                self._check_timeline(name, var, value)
            return value
        if name in self.constants:
            return self._coerce(name, var.type, self.constants[name], "the constants", var.max_length)
        if var.default is not None:
            return cast(Value, var.default)  # coerced when the scenario was loaded
        if var.timeline is not None and not var.required:
            return self._earliest(name, var)
        raise self.error(f"missing required variable ({var.type}"
                         f"{': ' + var.description if var.description else ''})", name)

    def _builtin(self, name: str) -> Value:
        if name == "send_date":
            raw = self.recipient.variables.get("send_date") or self.send_date
            if raw is None:
                raise self.error("the send date is needed but was not given", name)
            return self._coerce(name, VarType.DATE, raw, "the send date")
        if name == "group":
            return self.recipient.group
        value = str(getattr(self.recipient, name)).strip()
        if not value:
            raise self.error(f"the customer has no {name}", name)
        return value

    def _group_timeline(self, name: str, var: Variable) -> tuple[int, timeline.Stage, date]:
        assert var.timeline is not None
        sent = self.get("send_date")
        assert isinstance(sent, date)
        return self.recipient.group, var.timeline, sent

    def _earliest(self, name: str, var: Variable) -> date:
        group, stage, sent = self._group_timeline(name, var)
        try:
            return timeline.earliest_event(group, stage, sent)
        except timeline.TimelineError as exc:
            raise self.error(str(exc), name) from None

    def _check_timeline(self, name: str, var: Variable, value: date) -> None:
        earliest = self._earliest(name, var)
        if value < earliest:
            group, stage, sent = self._group_timeline(name, var)
            lead = timeline.lead_for(group, stage)
            raise self.error(f"{value:%d.%m.%Y} is too early: group {group} must be warned "
                             f"{lead.describe()} before the {stage}, so a warning sent on "
                             f"{sent:%d.%m.%Y} allows {earliest:%d.%m.%Y} at the earliest (AI-18)", name)
