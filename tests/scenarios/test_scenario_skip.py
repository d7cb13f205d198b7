"""`skip_when`: a scenario's own rule for recipients who get no message (issue 9 item 3, AI-3, AI-16).

A debt scenario is not sent to a zero debt or an overpayment: the delivery ends negative with
reason `no_debt` and nothing goes out, on both backends.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from autoinform import db, deliveries
from autoinform.calendar import InformingWindow
from autoinform.errors import ScenarioError, SkipDelivery
from autoinform.models import Attempt, Channel, Delivery, Outcome
from autoinform.rendering import StoredScenarioRenderer
from autoinform.runtime import Runtime
from autoinform.scenarios import load_scenario, render
from autoinform.scenarios.loader import ScenarioErrors
from tests.engine.builders import Person, campaign, users
from tests.scenarios.builders import MINIMAL, WriteScenario, customer

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"
AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
HOTLINE = {"hotline_phone": "8 800 000-00-00"}
SKIPPING = MINIMAL.format(name="test_scenario").replace(
    "phone:\n", 'skip_when:\n  no_debt: "debt <= 0"\nphone:\n', 1)


def _errors(path: Path) -> list[ScenarioError]:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    return exc.value.errors if isinstance(exc.value, ScenarioErrors) else [exc.value]


@pytest.mark.parametrize("debt", [0, -1500, "0,00", "-12,50"])
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.PHONE])
def test_a_zero_or_negative_debt_is_skipped_with_its_reason(write_scenario: WriteScenario, debt: object,
                                                            channel: Channel) -> None:
    """Issue 9 item 3, AI-16: `debt <= 0` holds on every channel: SkipDelivery('no_debt'), no content."""
    scenario = load_scenario(write_scenario(SKIPPING))
    with pytest.raises(SkipDelivery) as exc:
        render(scenario, channel, customer(debt=debt))
    assert exc.value.reason == "no_debt"
    assert "debt <= 0" in str(exc.value) and "руб." in str(exc.value)


def test_a_positive_debt_renders_and_no_rule_means_no_skip(write_scenario: WriteScenario) -> None:
    """Issue 9 item 3: the rule holds only where it says; a scenario without one renders a zero."""
    scenario = load_scenario(write_scenario(SKIPPING))
    assert "долг 0 руб. 01 коп." in render(scenario, Channel.SMS, customer(debt=1)).text  # type: ignore[union-attr]
    plain = load_scenario(write_scenario(MINIMAL.format(name="plain"), name="plain"))
    assert "долг 0 руб." in render(plain, Channel.SMS, customer(debt=0)).text  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["debt_reminder", "cutoff_warning", "restriction_warning"])
def test_shipped_debt_scenarios_skip_a_zero_debt(name: str) -> None:
    """Issue 9 item 3, AI-16: every shipped scenario that speaks a debt skips `debt <= 0` as no_debt."""
    scenario = load_scenario(SHIPPED / f"{name}.yaml")
    recipient = dataclasses.replace(customer(debt="0,00"), group=3)  # cutoff_warning: group 3 only
    with pytest.raises(SkipDelivery) as exc:
        render(scenario, Channel.SMS, recipient, send_date=MONDAY_NOON.date(), constants=HOTLINE)
    assert exc.value.reason == "no_debt"


@pytest.mark.parametrize(("rule", "message"), [
    ('"dept <= 0"', "unknown variable 'dept'"),
    ('"debt <= ноль"', "is not a money value for 'debt'"),
    ('"debt about 0"', "not a condition"),
    ('"account < 5"', "compares ordered values"),
    ("5", "expected a condition as text"),
])
def test_a_bad_skip_rule_is_a_load_error_with_file_line_and_field(write_scenario: WriteScenario, rule: str,
                                                                  message: str) -> None:
    """Issue 9 item 3, AI-3: a broken `skip_when` names the file, the line and the field."""
    text = SKIPPING.replace('"debt <= 0"', rule, 1)
    path = write_scenario(text)
    errors = _errors(path)
    line = text.splitlines().index(f"  no_debt: {rule}") + 1
    assert [(e.file, e.line, e.field) for e in errors] == [(str(path), line, "skip_when.no_debt")]
    assert message in errors[0].detail


def test_a_bad_skip_reason_is_a_load_error(write_scenario: WriteScenario) -> None:
    """Issue 9 item 3, AI-3: the reason becomes Delivery.reason: a stable lower-case name."""
    path = write_scenario(SKIPPING.replace("no_debt:", "Нет долга:", 1))
    (error,) = _errors(path)
    assert error.field == "skip_when.Нет долга" and "bad reason" in error.detail


def test_a_zero_debt_delivery_ends_no_debt_and_nothing_is_sent(rt: Runtime) -> None:
    """Issue 9 item 3, AI-14/AI-16 (both backends): a claim over the shipped debt_reminder ends the
    zero and negative debts negative with reason no_debt and no attempt; the positive one is sent."""
    users(rt)
    people = [Person("300001", email="a@example.ru", debt=0), Person("300002", email="b@example.ru", debt=-500),
              Person("300003", email="c@example.ru", debt=123456)]
    built = campaign(rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON,
                     scenario_file=SHIPPED / "debt_reminder.yaml")
    renderer = StoredScenarioRenderer(rt.sessions, AST, constants=HOTLINE, clock=lambda: MONDAY_NOON)
    with db.transaction(rt.sessions) as s:
        report = deliveries.claim(s, now=MONDAY_NOON, limit=10, worker="w1", lease_s=60,
                                  window=InformingWindow(), renderer=renderer)
    assert report.finalized == {"no_debt": 2}
    assert [w.destination for w in report.work] == ["c@example.ru"]
    with rt.sessions() as s:
        ended = list(s.scalars(select(Delivery.reason).where(Delivery.campaign_id == built.campaign_id,
                                                             Delivery.outcome == Outcome.NEGATIVE)))
        attempts = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.destination != "c@example.ru"))
    assert ended == ["no_debt", "no_debt"]
    assert attempts == 0


def test_check_reports_samples_that_a_skip_rule_skips(write_scenario: WriteScenario) -> None:
    """Issue 9 item 3, AI-3: `scenarios check` names a sample the skip rule skips, not a traceback."""
    from autoinform.scenarios.check import check_scenario

    text = SKIPPING.replace("    description: Сумма долга\n", '    description: Сумма долга\n    sample: "0"\n', 1)
    report = check_scenario(load_scenario(write_scenario(text)))
    assert report.errors and all("skipped by skip_when no_debt" in e for e in report.errors)
