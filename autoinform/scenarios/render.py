"""Strict rendering of a scenario for one recipient into channel content (AI-9, AI-16, AI-17).

Every declared variable is resolved first, whatever the channel: a list row missing a required
value is a RenderError for every channel, never a message with a gap. HTML e-mail escapes every
value; subjects refuse line breaks (a header cannot be split by data).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import date

from autoinform.content import (
    Content,
    EmailContent,
    PhoneContent,
    PhoneStep,
    Recipient,
    SmsContent,
)
from autoinform.errors import RenderError, SkipDelivery
from autoinform.models import Channel
from autoinform.scenarios.model import StepSpec
from autoinform.scenarios.resolve import Resolver
from autoinform.scenarios.scenario import Scenario
from autoinform.scenarios.sms import encode_info
from autoinform.scenarios.speech import speak
from autoinform.scenarios.template import Template
from autoinform.scenarios.values import coerce, format_text
from ivr import say


def _resolver(scenario: Scenario, recipient: Recipient, send_date: date | None,
              constants: Mapping[str, object] | None) -> Resolver:
    if recipient.group not in scenario.spec.groups:
        raise RenderError(f"scenario {scenario.name!r} is for customer groups "
                          f"{', '.join(map(str, scenario.spec.groups))} only, not {recipient.group}",
                          file=scenario.file, field="groups")
    resolver = Resolver(scenario.spec, recipient, send_date=send_date, constants=constants,
                        file=scenario.file)
    _skip(scenario, resolver)  # first: a negative debt is skipped, not a render error
    resolver.all()
    return resolver


def _skip(scenario: Scenario, resolver: Resolver) -> None:
    """SkipDelivery when a `skip_when` rule holds for this recipient (every channel alike)."""
    spec = scenario.spec
    for reason, rule in spec.skip_when.items():
        vtype = spec.var_type(rule.var)
        assert vtype is not None  # checked at load time (references.py)
        value = resolver.comparable(rule.var)
        try:
            limit = coerce(vtype, rule.value, signed=True)
        except ValueError as exc:  # checked at load time; a stored old version may still differ
            raise RenderError(f"skip rule {str(rule)!r}: {exc}", file=scenario.file,
                              field=f"skip_when.{reason}") from None
        if rule.holds(value, limit):
            shown = format_text(vtype, abs(value)) if isinstance(value, int) else format_text(vtype, value)
            sign = "-" if isinstance(value, int) and value < 0 else ""
            raise SkipDelivery(reason, f"{rule} ({rule.var} = {sign}{shown})")


def fill(template: Template, resolver: Resolver, escape: Callable[[str], str] | None = None) -> str:
    """The template with each placeholder replaced by its formatted (and escaped) value."""
    pattern, keys = template.pattern
    text = resolver.text
    if escape is None:
        return pattern.format(*[text(name, fmt) for name, fmt in keys])
    return pattern.format(*[escape(text(name, fmt)) for name, fmt in keys])


def _missing_channel(scenario: Scenario, channel: Channel) -> RenderError:
    return RenderError(f"scenario {scenario.name!r} has no {channel} content", file=scenario.file,
                       field=str(channel))


def render_sms(scenario: Scenario, recipient: Recipient, *, send_date: date | None = None,
               constants: Mapping[str, object] | None = None) -> SmsContent:
    spec = scenario.spec.sms
    if spec is None:
        raise _missing_channel(scenario, Channel.SMS)
    text = fill(spec.text, _resolver(scenario, recipient, send_date, constants)).strip()
    if not text:
        raise RenderError("the SMS text is empty", file=scenario.file, field="sms.text")
    info = encode_info(text)
    if spec.max_segments is not None and info.segments > spec.max_segments:
        raise RenderError(f"{info.segments} {info.encoding} parts ({info.length_units} units), more than "
                          f"max_segments {spec.max_segments} (AI-17)", file=scenario.file, field="sms.text")
    return SmsContent(text=text, encoding=info.encoding, segments=info.segments)


def render_email(scenario: Scenario, recipient: Recipient, *, send_date: date | None = None,
                 constants: Mapping[str, object] | None = None) -> EmailContent:
    spec = scenario.spec.email
    if spec is None:
        raise _missing_channel(scenario, Channel.EMAIL)
    resolver = _resolver(scenario, recipient, send_date, constants)
    subject = fill(spec.subject, resolver).strip()
    if "\n" in subject or "\r" in subject:
        raise RenderError("the subject would contain a line break", file=scenario.file, field="email.subject")
    if not subject:
        raise RenderError("the subject is empty", file=scenario.file, field="email.subject")
    body = fill(spec.text, resolver)
    markup = fill(spec.html, resolver, html.escape) if spec.html is not None else None
    return EmailContent(subject=subject, text=body, html=markup)


def render_phone(scenario: Scenario, recipient: Recipient, *, send_date: date | None = None,
                 constants: Mapping[str, object] | None = None) -> PhoneContent:
    spec = scenario.spec.phone
    if spec is None:
        raise _missing_channel(scenario, Channel.PHONE)
    resolver = _resolver(scenario, recipient, send_date, constants)
    steps = tuple(_step(scenario, step, resolver) for step in spec.steps)
    return PhoneContent(steps=steps, confirm_key=spec.confirm_key, operator_key=spec.operator_key,
                        repeat_key=spec.repeat_key)


def _step(scenario: Scenario, step: StepSpec, resolver: Resolver) -> PhoneStep:
    if step.say is not None and step.var is not None:
        var = scenario.spec.variables.get(step.var)
        try:
            speech = speak(step, resolver.get(step.var), var.unit if var else None)
        except say.SpeechError as exc:
            raise RenderError(f"step {step.id!r} cannot be spoken: {exc.reason}", file=scenario.file,
                              field=step.var) from None
        return PhoneStep(id=step.id, prompts=speech.prompts, text=speech.text, required=step.required)
    assert step.text is not None  # StepSpec guarantees prompt+text, say+var or text
    prompts = (step.prompt,) if step.prompt is not None else ()  # no prompt: spoken by TTS
    return PhoneStep(id=step.id, prompts=prompts, text=fill(step.text, resolver), required=step.required)


_RENDERERS: dict[Channel, Callable[..., Content]] = {
    Channel.SMS: render_sms,
    Channel.EMAIL: render_email,
    Channel.PHONE: render_phone,
}


def render(scenario: Scenario, channel: Channel | str, recipient: Recipient, *,
           send_date: date | None = None, constants: Mapping[str, object] | None = None) -> Content:
    """The content of `channel` for one recipient; RenderError if it cannot be rendered strictly."""
    try:
        ch = Channel(channel)
    except ValueError:
        raise RenderError(f"unknown channel {channel!r}", file=scenario.file, field="channel") from None
    return _RENDERERS[ch](scenario, recipient, send_date=send_date, constants=constants)
