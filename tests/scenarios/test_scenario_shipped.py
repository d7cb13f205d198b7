"""Every shipped scenario loads and renders on all its channels (AI-1, AI-16, AI-17, AI-18)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from autoinform.content import PhoneContent, Recipient
from autoinform.errors import RenderError
from autoinform.models import Channel
from autoinform.scenarios import (
    Scenario,
    load_all,
    load_scenario,
    render,
    render_email,
    render_phone,
    render_sms,
    samples,
)
from autoinform.scenarios.check import check_scenario
from autoinform.scenarios.model import Kind
from ivr.say import WORD_PROMPTS
from tests.scenarios.builders import MINIMAL, WriteScenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {s.name: s for s in load_all(ROOT / "scenarios")}


def test_ai1_every_required_kind_is_shipped() -> None:
    assert {s.kind for s in SHIPPED.values()} >= {
        Kind.DEBT_REMINDER, Kind.PAYMENT_DUE, Kind.TARIFF_CHANGE, Kind.PLANNED_OUTAGE,
        Kind.RESTRICTION_WARNING, Kind.METER_READING}


@pytest.mark.parametrize("name", sorted(SHIPPED))
@pytest.mark.parametrize("group", [1, 2, 3, 4])
def test_ai9_renders_on_every_channel_for_every_group(name: str, group: int) -> None:
    scenario = SHIPPED[name]
    assert set(scenario.channels) == set(Channel)
    example = samples.sample(scenario.spec, group=group)
    for channel in scenario.channels:
        if group not in scenario.spec.groups:  # e.g. the group-3 cut-off notice (AI-18, 3.3)
            with pytest.raises(RenderError, match=f"groups 3 only, not {group}"):
                render(scenario, channel, example.recipient, send_date=example.send_date)
            continue
        content = render(scenario, channel, example.recipient, send_date=example.send_date)
        assert "{" not in str(content) and "None" not in str(content)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_ai3_check_reports_no_errors_without_audio(name: str) -> None:
    report = check_scenario(SHIPPED[name], audio_dir=None)
    assert report.errors == []
    assert report.sms_sample is not None and report.sms_sample.encoding == "UCS-2"
    assert report.sms_max_segments is not None
    assert report.sms_sample.segments <= report.sms_max_segments


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_ai10_phone_content_plays_prompts_and_offers_operator(name: str) -> None:
    scenario = SHIPPED[name]
    example = samples.sample(scenario.spec, group=scenario.spec.groups[0])
    phone = render_phone(scenario, example.recipient, send_date=example.send_date)
    assert isinstance(phone, PhoneContent)
    assert all(step.prompts for step in phone.steps), "every shipped step must be playable without TTS"
    assert any(step.required for step in phone.steps)
    assert phone.operator_key == "0" and phone.confirm_key == "1"  # the prompts say so (AI-8)
    texts = scenario.prompt_texts()
    assert all(pid.startswith(("common/", f"{name}/")) for pid in texts)
    word_ids = scenario.prompt_ids() - set(texts)
    assert word_ids and word_ids <= set(WORD_PROMPTS)


def test_ai18_cutoff_warning_is_group_3_five_working_days_ahead() -> None:
    """Section 8, 3.3: a group-3 customer under restriction is warned 5 working days before a cut-off."""
    scenario = SHIPPED["cutoff_warning"]
    assert scenario.spec.groups == [3]
    example = samples.sample(scenario.spec, group=3)
    friday = date(2026, 12, 4)
    sms = render(scenario, Channel.SMS, example.recipient, send_date=friday)
    assert "с 11.12.2026" in str(sms)  # Mon 7 … Fri 11 December: five working days
    early = Recipient(account="1", name="x", group=3, variables={**example.recipient.variables,
                                                                  "cutoff_date": "10.12.2026"})
    with pytest.raises(RenderError, match="cutoff_date"):
        render(scenario, Channel.SMS, early, send_date=friday)


def test_ai16_debt_reminder_carries_name_and_amount() -> None:
    scenario = SHIPPED["debt_reminder"]
    row = samples.sample(scenario.spec).recipient
    sms = render_sms(scenario, row)
    assert row.name in sms.text and "1 234 руб. 56 коп." in sms.text
    email = render_email(scenario, row)
    assert row.name in email.text and "1 234 руб. 56 коп." in email.text
    phone = render_phone(scenario, row)
    debt = next(s for s in phone.steps if s.id == "debt")
    assert debt.required and debt.text == "одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"


@pytest.mark.parametrize(("group", "date_text", "spoken"), [
    (1, "04.12.2026", "четвёртое декабря"),
    (3, "02.12.2026", "второе декабря"),
])
def test_ai18_restriction_warning_date_follows_the_group(group: int, date_text: str, spoken: str) -> None:
    scenario = SHIPPED["restriction_warning"]
    row = samples.sample(scenario.spec, group=group)
    assert date_text in render_sms(scenario, row.recipient, send_date=row.send_date).text
    phone = render_phone(scenario, row.recipient, send_date=row.send_date)
    step = next(s for s in phone.steps if s.id == "restriction_date")
    assert step.required and step.text.startswith(spoken)


def test_shipped_scenarios_have_no_hotline_number_of_their_own() -> None:
    for scenario in SHIPPED.values():
        assert "hotline_phone" in scenario.spec.variables
        var = scenario.spec.variables["hotline_phone"]
        assert var.required and var.default is None and var.sample is None


def test_check_reports_a_prompt_id_taken_by_the_engine(write_scenario: WriteScenario) -> None:
    text = MINIMAL.format(name="clash").replace("prompt: test/intro", "prompt: hotline/welcome")
    report = check_scenario(load_scenario(write_scenario(text, name="clash")))
    assert any("'hotline/welcome' is defined twice" in e for e in report.errors)


def test_all_scenarios_render_with_the_default_sample(minimal: Scenario) -> None:
    # The minimal test scenario goes through the same sample path as the shipped ones.
    example = samples.sample(minimal.spec)
    assert render_sms(minimal, example.recipient).text.startswith(example.recipient.name)
