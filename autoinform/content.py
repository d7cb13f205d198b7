"""Rendered content handed from scenarios to channels: one type per channel, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SmsContent:
    text: str
    encoding: str  # "GSM-7" or "UCS-2" (AI-17)
    segments: int


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class PhoneStep:
    """One step of a call: prompt ids to play in order, and the same words as text."""

    id: str
    prompts: tuple[str, ...]
    text: str
    required: bool = False  # must be heard for a positive result (AI-14)


@dataclass(frozen=True)
class PhoneContent:
    steps: tuple[PhoneStep, ...]
    confirm_key: str | None = None
    operator_key: str | None = None  # transfer to a live operator (AI-8)
    repeat_key: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.steps)


Content = SmsContent | EmailContent | PhoneContent


@dataclass(frozen=True)
class Recipient:
    """Who a message is for: customer fields plus the list row's variables."""

    account: str
    name: str
    group: int
    division: str = ""
    address: str = ""
    variables: dict[str, object] = field(default_factory=dict)
