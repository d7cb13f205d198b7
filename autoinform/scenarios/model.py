"""The structure of a scenario file (AI-3), validated by pydantic.

A scenario declares typed variables and per-channel content. Cross-references (placeholders
naming declared variables, `say` steps matching variable types) are checked afterwards by
`references.py`, so that every problem can be reported with its own path and line.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from autoinform.models import Channel
from autoinform.scenarios.template import Template
from autoinform.scenarios.timeline import Stage
from autoinform.scenarios.values import Unit, Value, VarType, coerce

NAME_PATTERN: Final = r"^[a-z][a-z0-9_]*$"
# Namespaced and stable: "debt_reminder/intro"; audio/<id>.wav is built from the text.
PROMPT_PATTERN: Final = r"^[a-z0-9_]+(/[a-z0-9_]+)+$"

# Variables every scenario can use without declaring them: the customer's own fields and the
# date the message goes out (given by the caller; needed by timeline-computed dates, AI-18).
BUILTINS: Final[Mapping[str, VarType]] = MappingProxyType({
    "name": VarType.TEXT,
    "account": VarType.TEXT,
    "group": VarType.INTEGER,
    "division": VarType.TEXT,
    "address": VarType.TEXT,
    "send_date": VarType.DATE,
})


class Kind(enum.StrEnum):
    DEBT_REMINDER = "debt_reminder"
    PAYMENT_DUE = "payment_due"
    TARIFF_CHANGE = "tariff_change"
    SERVICE_CHANGE = "service_change"
    PLANNED_OUTAGE = "planned_outage"
    RESTRICTION_WARNING = "restriction_warning"
    METER_READING = "meter_reading"


class SayKind(enum.StrEnum):
    MONEY = "money"
    DATE = "date"
    TIME = "time"
    NUMBER = "number"
    DIGITS = "digits"
    PHONE = "phone"
    QUANTITY = "quantity"


# Which variable types each `say` kind can speak.
SAY_TYPES: Final[Mapping[SayKind, frozenset[VarType]]] = MappingProxyType({
    SayKind.MONEY: frozenset({VarType.MONEY}),
    SayKind.DATE: frozenset({VarType.DATE}),
    SayKind.TIME: frozenset({VarType.TIME}),
    SayKind.NUMBER: frozenset({VarType.INTEGER}),
    SayKind.DIGITS: frozenset({VarType.TEXT, VarType.INTEGER, VarType.PHONE}),
    SayKind.PHONE: frozenset({VarType.PHONE}),
    SayKind.QUANTITY: frozenset({VarType.QUANTITY}),
})


def _template(value: object) -> Template:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return Template.parse(value)


def _key(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


TemplateText = Annotated[Template, PlainValidator(_template)]

SKIP_OPERATORS: Final = ("<=", ">=", "==", "!=", "<", ">")
_SKIP_RULE = re.compile(r"\s*([a-z][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S(?:.*\S)?)\s*")


@dataclass(frozen=True)
class SkipRule:
    """`debt <= 0`: a variable, a comparison and a value of the variable's type. Whether the
    variable exists and the value parses is checked with the whole scenario (references.py)."""

    var: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.var} {self.op} {self.value}"

    def holds(self, left: Value, right: Value) -> bool:
        match self.op:
            case "==":
                return left == right
            case "!=":
                return left != right
            case "<":
                return left < right  # type: ignore[operator]  # ordered types only (references.py)
            case "<=":
                return left <= right  # type: ignore[operator]
            case ">":
                return left > right  # type: ignore[operator]
            case _:
                return left >= right  # type: ignore[operator]


def _skip_rule(value: object) -> SkipRule:
    if not isinstance(value, str):
        raise ValueError('expected a condition as text, e.g. "debt <= 0"')
    m = _SKIP_RULE.fullmatch(value)
    if m is None:
        raise ValueError(f"not a condition {value!r}: expected `variable operator value` with one of "
                         f"{' '.join(SKIP_OPERATORS)}, e.g. \"debt <= 0\"")
    return SkipRule(*m.groups())


SkipCondition = Annotated[SkipRule, PlainValidator(_skip_rule)]
Key = Annotated[str, BeforeValidator(_key), Field(pattern=r"^[0-9*#]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variable(_Strict):
    type: VarType
    unit: Unit | None = None
    max_length: int | None = Field(None, ge=1)
    # A date computed from send_date and the customer group's timeline when the list omits it,
    # and checked against that timeline when the list gives it (AI-18).
    timeline: Stage | None = None
    required: bool = True
    # The value must be later than (greater than) this other variable's: an outage ending before it
    # starts is a list error, refused rather than sent to every customer on the list.
    after: str | None = None
    description: str = ""
    default: Any = None
    sample: Any = None  # shown by `scenarios check` and used for its renderings

    @field_validator("default", "sample")
    @classmethod
    def _typed(cls, value: object, info: ValidationInfo) -> object:
        vtype = info.data.get("type")
        if value is None or vtype is None:
            return value
        return coerce(vtype, value, max_length=info.data.get("max_length"))

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        if (self.type is VarType.QUANTITY) != (self.unit is not None):
            raise ValueError("`unit` is required for quantity variables and allowed only for them")
        if self.max_length is not None and self.type is not VarType.TEXT:
            raise ValueError("`max_length` is allowed only for text variables")
        if self.timeline is not None and self.type is not VarType.DATE:
            raise ValueError("`timeline` is allowed only for date variables")
        if self.default is not None and self.timeline is not None:
            raise ValueError("a timeline-computed date cannot also have a default")
        if self.required and self.default is not None:
            raise ValueError("a variable with a default is optional: set `required: false`")
        if not self.required and self.default is None and self.timeline is None:
            raise ValueError("an optional variable needs a `default` (rendering never leaves a gap)")
        return self


class StepSpec(_Strict):
    """One phone step: a fixed phrase (prompt + text), a spoken variable (say + var), or a text
    template that only a TTS-capable channel can speak."""

    id: str = Field(pattern=NAME_PATTERN)
    prompt: str | None = Field(None, pattern=PROMPT_PATTERN)
    text: TemplateText | None = None
    say: SayKind | None = None
    var: str | None = None
    required: bool = False  # must be heard for a positive result (AI-14)
    gender: Literal["m", "f", "n"] | None = None  # say: number
    year: bool | None = None  # say: date
    zero_kopecks: bool | None = None  # say: money

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        if self.say is not None:
            if self.var is None:
                raise ValueError("a `say` step needs `var`: the variable to speak")
            if self.prompt is not None or self.text is not None:
                raise ValueError("a `say` step has no `prompt` or `text`: its words come from the value")
        elif self.var is not None:
            raise ValueError("`var` needs `say`: how to speak the variable")
        elif self.prompt is not None:
            if self.text is None:
                raise ValueError("a `prompt` step needs `text`: the words recorded in its audio")
            if self.text.placeholders:
                raise ValueError("a prompt's `text` is fixed audio and cannot hold placeholders; "
                                 "speak variables in `say` steps")
        elif self.text is None:
            raise ValueError("a step needs `prompt` + `text`, `say` + `var`, or a `text` template")
        options = {"gender": SayKind.NUMBER, "year": SayKind.DATE, "zero_kopecks": SayKind.MONEY}
        for option, kind in options.items():
            if getattr(self, option) is not None and self.say is not kind:
                raise ValueError(f"`{option}` applies only to `say: {kind}` steps")
        return self


class PhoneSpec(_Strict):
    steps: list[StepSpec] = Field(min_length=1)
    confirm_key: Key | None = None
    operator_key: Key | None = None  # transfer to a live operator (AI-8)
    repeat_key: Key | None = None

    @model_validator(mode="after")
    def _keys(self) -> PhoneSpec:
        keys = [k for k in (self.confirm_key, self.operator_key, self.repeat_key) if k is not None]
        if len(keys) != len(set(keys)):
            raise ValueError("confirm_key, operator_key and repeat_key must differ")
        if not any(s.required for s in self.steps) and self.confirm_key is None:
            raise ValueError("mark the steps that must be heard with `required: true` or set a "
                             "`confirm_key`: otherwise no call can count as positive (AI-14)")
        return self


class SmsSpec(_Strict):
    text: TemplateText
    # Rendering fails beyond this many parts (AI-17): each part is billed, so an over-long
    # message is an error to fix in the list or scenario, never sent silently.
    max_segments: int | None = Field(None, ge=1, le=10)


class EmailSpec(_Strict):
    subject: TemplateText
    text: TemplateText
    html: TemplateText | None = None


class ScenarioSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    title: str = Field(min_length=1)
    kind: Kind
    description: str = ""
    # Customer groups the scenario may be sent to (clause 3); a stage of a group's timeline that
    # other groups do not have (the group-3 cut-off notice, AI-18) narrows it.
    groups: list[int] = Field(default_factory=lambda: [1, 2, 3, 4], min_length=1)
    variables: dict[str, Variable] = Field(default_factory=dict)
    # Recipients who get no message, by reason: `no_debt: "debt <= 0"` (a zero debt or an
    # overpayment must not be told "please pay"). Their delivery ends negative with the reason.
    skip_when: dict[str, SkipCondition] = Field(default_factory=dict)
    phone: PhoneSpec | None = None
    sms: SmsSpec | None = None
    email: EmailSpec | None = None

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, value: list[int]) -> list[int]:
        if not set(value) <= {1, 2, 3, 4} or len(set(value)) != len(value):
            raise ValueError("groups are distinct customer groups 1-4")
        return sorted(value)

    @model_validator(mode="after")
    def _has_channel(self) -> ScenarioSpec:
        if not self.channels:
            raise ValueError("a scenario needs at least one of `phone`, `sms`, `email`")
        return self

    @property
    def channels(self) -> tuple[Channel, ...]:
        present = {Channel.PHONE: self.phone, Channel.SMS: self.sms, Channel.EMAIL: self.email}
        return tuple(ch for ch, spec in present.items() if spec is not None)

    def var_type(self, name: str) -> VarType | None:
        if name in self.variables:
            return self.variables[name].type
        return BUILTINS.get(name)
