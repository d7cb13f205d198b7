"""Strict rendering (AI-16, AI-17, AI-18): a missing value is an error, never an empty string."""

from __future__ import annotations

from datetime import date

import pytest

from autoinform.content import EmailContent, PhoneContent, SmsContent
from autoinform.errors import RenderError, ScenarioError
from autoinform.models import Channel
from autoinform.scenarios import Scenario, load_scenario, render, render_email, render_phone, render_sms, samples
from tests.scenarios.builders import MINIMAL, WriteScenario, customer

SEND = date(2026, 12, 1)  # Tuesday

RESTRICTION = """\
name: warn
title: Предупреждение
kind: restriction_warning
variables:
  restriction_date:
    type: date
    timeline: restriction
    required: false
  hotline_phone:
    type: phone
sms:
  max_segments: 1
  text: "С {restriction_date} ограничение. Тел. {hotline_phone}"
"""


@pytest.fixture
def warn(write_scenario: WriteScenario) -> Scenario:
    return load_scenario(write_scenario(RESTRICTION, name="warn"))


@pytest.mark.parametrize("channel", list(Channel))
def test_ai16_missing_required_variable_fails_every_channel(minimal: Scenario, channel: Channel) -> None:
    with pytest.raises(RenderError) as exc:
        render(minimal, channel, customer())
    assert exc.value.field == "debt"
    assert "missing required variable (money: Сумма долга)" in str(exc.value)
    assert exc.value.file == minimal.file


def test_ai16_name_and_debt_in_sms_and_email(minimal: Scenario) -> None:
    sms = render_sms(minimal, customer(debt=123456))
    assert sms == SmsContent("Петров Пётр Петрович, долг 1 234 руб. 56 коп. до 10.12.2026", "UCS-2", 1)
    email = render_email(minimal, customer(debt="1 234,56"))
    assert email.subject == "Долг по л/с 300012345"
    assert email.text == "Петров Пётр Петрович, долг 1 234 руб. 56 коп."


def test_list_value_overrides_default_and_is_coerced(minimal: Scenario) -> None:
    sms = render_sms(minimal, customer(debt=100, due="2026-12-20"))
    assert sms.text.endswith("1 руб. 00 коп. до 20.12.2026")
    with pytest.raises(RenderError, match="bad date value from the list: not a date") as exc:
        render_sms(minimal, customer(debt=100, due="20/12/2026"))
    assert exc.value.field == "due"


def test_empty_list_value_is_missing_not_blank(minimal: Scenario) -> None:
    with pytest.raises(RenderError, match="missing required variable"):
        render_sms(minimal, customer(debt=""))


def test_customer_without_name_is_an_error_when_the_text_needs_it(minimal: Scenario) -> None:
    nameless = customer(debt=100)
    nameless = type(nameless)(account=nameless.account, name="  ", group=1, variables=nameless.variables)
    with pytest.raises(RenderError, match="the customer has no name"):
        render_sms(minimal, nameless)
    assert render_phone(minimal, nameless).steps[1].text == "один рубль"


def test_html_email_escapes_values_but_text_does_not(minimal: Scenario) -> None:
    evil = customer(debt=100)
    evil = type(evil)(account="1", name='<script>alert("x")</script> & Co', group=3, variables=evil.variables)
    email = render_email(minimal, evil)
    assert email.text.startswith('<script>alert("x")</script> & Co')
    assert email.html == ("<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co, долг "
                          "<b>1 руб. 00 коп.</b></p>")


def test_subject_cannot_be_split_by_a_value(write_scenario: WriteScenario) -> None:
    text = MINIMAL.format(name="subj").replace('"Долг по л/с {account}"', '"Долг: {note}"').replace(
        "  due:\n", "  note:\n    type: text\n  due:\n")
    scenario = load_scenario(write_scenario(text, name="subj"))
    # Text values may hold line breaks (addresses, notes), but never into a header.
    with pytest.raises(RenderError, match="line break") as exc:
        render_email(scenario, customer(debt=1, note="a\nBcc: x@example.org"))
    assert exc.value.field == "email.subject"
    with pytest.raises(RenderError, match="control characters"):
        render_email(scenario, customer(debt=1, note="a\r\nBcc: x@example.org"))


def test_phone_steps_prompts_required_and_keys(minimal: Scenario) -> None:
    phone = render_phone(minimal, customer(debt=200))
    assert isinstance(phone, PhoneContent)
    assert [(s.id, s.prompts, s.text, s.required) for s in phone.steps] == [
        ("intro", ("test/intro",), "Здравствуйте!", False),
        ("debt", ("num/2", "unit/ruble_2"), "два рубля", True),
    ]
    assert (phone.confirm_key, phone.operator_key, phone.repeat_key) == ("1", "0", None)


def test_text_step_has_no_prompts_and_is_left_to_tts(write_scenario: WriteScenario) -> None:
    text = MINIMAL.format(name="tts").replace(
        '    - id: intro\n      prompt: test/intro\n      text: "Здравствуйте!"',
        '    - id: intro\n      text: "Здравствуйте, {name}!"')
    phone = render_phone(load_scenario(write_scenario(text, name="tts")), customer(debt=1))
    assert (phone.steps[0].prompts, phone.steps[0].text) == ((), "Здравствуйте, Петров Пётр Петрович!")


def test_constants_fill_what_the_list_lacks_and_the_list_wins(warn: Scenario) -> None:
    sms = render_sms(warn, customer(), send_date=SEND, constants={"hotline_phone": "88005550000"})
    assert sms.text.endswith("Тел. 8 (800) 555-00-00")
    sms = render_sms(warn, customer(hotline_phone="+78512000001"), send_date=SEND,
                     constants={"hotline_phone": "88005550000"})
    assert sms.text.endswith("Тел. 8 (851) 200-00-01")


@pytest.mark.parametrize(("group", "expected"), [(1, "04.12.2026"), (2, "04.12.2026"), (3, "02.12.2026"),
                                                 (4, "04.12.2026")])
def test_ai18_restriction_date_computed_from_group_timeline(warn: Scenario, group: int, expected: str) -> None:
    recipient = customer(hotline_phone="88005550000")
    recipient = type(recipient)(account="1", name="x", group=group, variables=recipient.variables)
    assert render_sms(warn, recipient, send_date=SEND).text.startswith(f"С {expected} ограничение")


def test_ai18_given_restriction_date_is_checked_against_the_timeline(warn: Scenario) -> None:
    ok = customer(hotline_phone="88005550000", restriction_date="2026-12-04")
    assert "04.12.2026" in render_sms(warn, ok, send_date=SEND).text
    early = customer(hotline_phone="88005550000", restriction_date="2026-12-03")
    with pytest.raises(RenderError) as exc:
        render_sms(warn, early, send_date=SEND)
    assert exc.value.field == "restriction_date"
    assert "too early" in exc.value.detail and "04.12.2026" in exc.value.detail


def test_ai18_send_date_from_the_list_row(warn: Scenario) -> None:
    row = customer(hotline_phone="88005550000", send_date="2026-12-07")
    assert render_sms(warn, row).text.startswith("С 10.12.2026")


def test_ai18_without_a_send_date_the_date_cannot_be_computed(warn: Scenario) -> None:
    with pytest.raises(RenderError, match="send date is needed") as exc:
        render_sms(warn, customer(hotline_phone="88005550000"))
    assert exc.value.field == "send_date"


def test_ai18_unknown_group_is_a_render_error(warn: Scenario) -> None:
    row = customer(hotline_phone="88005550000")
    row = type(row)(account="1", name="x", group=7, variables=row.variables)
    with pytest.raises(RenderError, match="groups 1, 2, 3, 4 only, not 7"):
        render_sms(warn, row, send_date=SEND)


def test_ai17_max_segments_exceeded_is_an_error(write_scenario: WriteScenario) -> None:
    text = RESTRICTION.replace("  hotline_phone:\n    type: phone\n",
                               "  hotline_phone:\n    type: phone\n  note:\n    type: text\n").replace(
        "ограничение. Тел.", "ограничение. {note} Тел.")
    scenario = load_scenario(write_scenario(text, name="warn"))
    fits = customer(hotline_phone="88005550000", note="ж" * 10)
    assert render_sms(scenario, fits, send_date=SEND).segments == 1
    too_long = customer(hotline_phone="88005550000", note="ж" * 40)
    with pytest.raises(RenderError, match=r"2 UCS-2 parts .* more than max_segments 1") as exc:
        render_sms(scenario, too_long, send_date=SEND)
    assert exc.value.field == "sms.text"


def test_channel_errors(warn: Scenario) -> None:
    with pytest.raises(RenderError, match="has no email content"):
        render(warn, Channel.EMAIL, customer(), send_date=SEND)
    with pytest.raises(RenderError, match="unknown channel 'fax'"):
        render(warn, "fax", customer(), send_date=SEND)
    content = render(warn, "sms", customer(hotline_phone="88005550000"), send_date=SEND)
    assert isinstance(content, SmsContent)
    assert not isinstance(content, EmailContent)


OUTAGE = """\
name: outage
title: Отключение
kind: planned_outage
variables:
  outage_date:
    type: date
  start_time:
    type: time
  end_time:
    type: time
    after: start_time
sms:
  text: "{outage_date} с {start_time} до {end_time} отключение по адресу {address}"
"""


@pytest.fixture
def outage(write_scenario: WriteScenario) -> Scenario:
    return load_scenario(write_scenario(OUTAGE, name="outage"))


def test_end_after_start_renders(outage: Scenario) -> None:
    sms = render_sms(outage, customer(outage_date="08.12.2026", start_time="09:00", end_time="17:00"), send_date=SEND)
    assert sms.text.startswith("08.12.2026 с 09:00 до 17:00 отключение")


@pytest.mark.parametrize("end", ["09:00", "08:30"])
def test_end_not_after_start_is_a_render_error(outage: Scenario, end: str) -> None:
    """AI-16: swapped or equal times are a list error, refused for this row rather than sent."""
    with pytest.raises(RenderError) as exc:
        render_sms(outage, customer(outage_date="08.12.2026", start_time="09:00", end_time=end), send_date=SEND)
    assert exc.value.field == "end_time"
    assert f"{end} is not after start_time 09:00" in str(exc.value)


def test_after_cycle_is_refused_at_load(write_scenario: WriteScenario) -> None:
    text = OUTAGE.replace("  start_time:\n    type: time\n", "  start_time:\n    type: time\n    after: end_time\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(write_scenario(text, name="outage"))
    assert "back to itself" in str(exc.value)


def test_worst_case_sample_keeps_after_ordered(outage: Scenario) -> None:
    """`scenarios check` renders the worst case; equal worst times must not fail the `after` rule."""
    sms = render_sms(outage, samples.worst(outage.spec).recipient, send_date=SEND)
    assert "с 23:58 до 23:59" in sms.text
