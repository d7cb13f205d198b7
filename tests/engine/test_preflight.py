"""The campaign preflight (issue 9 item 1; AI-3, AI-7, AI-11, AI-13, AI-15, AI-16), on both backends.

Each error and warning the issue names is produced here from a list built through the models and the
shipped debt_reminder scenario: nobody reachable, a channel not configured, a variable missing
everywhere (errors: the step is refused); rows lacking values, a zero debt asked to be paid, a start
outside the window or in the past (warnings: kept with the campaign).
"""

from __future__ import annotations

import itertools
import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinform import campaigns, db
from autoinform.config import Settings, TwilioSettings
from autoinform.models import (
    AuditEntry,
    Campaign,
    Channel,
    ContactList,
    ContactPoint,
    ContactSource,
    Customer,
    LineType,
    ListRow,
    ScenarioVersion,
    utcnow,
)
from autoinform.preflight import Preflight, PreflightError, preflight, probe_channels, usable_sql
from autoinform.routing import Contact, usable
from autoinform.runtime import Runtime
from tests.conftest import ROOT
from tests.engine.builders import Built, Person, campaign
from tests.fakes.smtp_sink import SmtpSink

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)  # an open window
BEFORE = MONDAY_NOON - timedelta(days=3)  # "now" for most checks: the start is ahead
DEBT = ROOT / "scenarios" / "debt_reminder.yaml"
HOTLINE = {"hotline_phone": "+78512000000"}


def configured(rt: Runtime, *, constants: dict[str, str] | None = None, twilio: bool = True) -> Settings:
    """The runtime's settings with Twilio (or not) and the given scenario constants."""
    update: dict[str, object] = {"scenario_constants": HOTLINE if constants is None else constants}
    if twilio:
        update["twilio"] = TwilioSettings(account_sid="AC" + "0" * 32, auth_token="t",  # type: ignore[arg-type]
                                          from_number="+78512000001")
    return rt.settings.model_copy(update=update)


def draft(rt: Runtime, people: list[Person], channels: list[Channel], *, start: datetime = MONDAY_NOON,
          end: datetime | None = None, name: str = "pf") -> Built:
    return campaign(rt, people, channels=channels, start=start, end=end, approve=False, launch=False,
                    name=name, scenario_file=DEBT)


def check(rt: Runtime, built: Built, settings: Settings, *, now: datetime = BEFORE,
          step: str = "check") -> Preflight:
    with rt.sessions() as s:
        c = s.get(Campaign, built.campaign_id)
        assert c is not None
        return preflight(s, c, settings, step=step, now=now)


def codes(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.code for f in findings]


MIXED = [
    Person("100001", email="a@example.ru", mobile="+79170000001"),
    Person("100002", email="b@example.ru"),
    Person("100003", mobile="+79170000003"),
    Person("100004", mobile="+79170000004", sms_consent=False),  # no consent: SMS may not be used
    Person("100005", phone="+78512000005"),  # contract phone only: calls, not SMS
]


def test_reach_per_channel_follows_the_routing_rule(fast_rt: Runtime) -> None:
    """Issue 9 item 1, AI-11: per channel, the rows with a usable contact (consent, source, line type);
    rows reachable on no channel of the chain are a warning naming them."""
    b = draft(fast_rt, MIXED, [Channel.EMAIL, Channel.SMS])
    pf = check(fast_rt, b, configured(fast_rt))
    assert pf.ok, pf.errors
    assert (pf.rows, pf.reachable, pf.reachable_any) == (5, {"email": 2, "sms": 2}, 3)
    (unreached,) = [w for w in pf.warnings if w.code == "rows_unreachable"]
    assert (unreached.count, unreached.rows) == (2, (4, 5)) and "no_consent" in unreached.message
    assert pf.first_send_at == MONDAY_NOON


def test_sms_only_on_a_list_without_sms_contacts_is_refused_at_create(fast_rt: Runtime) -> None:
    """Issue 9 item 1: nobody reachable on any channel of the chain is an error; `campaigns.create`
    with the settings refuses to form the campaign and says why."""
    people = [Person("200001", email="a@example.ru"), Person("200002", phone="+78512000002")]
    b = draft(fast_rt, people, [Channel.SMS])
    pf = check(fast_rt, b, configured(fast_rt))
    assert codes(pf.errors) == ["no_reachable_customer"] and pf.reachable == {"sms": 0}
    with db.transaction(fast_rt.sessions) as s:
        lst = s.get(ContactList, b.list_id)
        sv = s.scalars(select(ScenarioVersion)).first()
        assert lst is not None and sv is not None
        with pytest.raises(PreflightError, match="no customer of the list can be reached") as err:
            campaigns.create(s, name="sms only", scenario=sv, contact_list=lst, channels=[Channel.SMS],
                             start_at=MONDAY_NOON, end_at=MONDAY_NOON + timedelta(days=2), actor="spec",
                             settings=configured(fast_rt), now=BEFORE)
        assert err.value.result.step == "create"


def test_a_channel_not_configured_is_an_error(fast_rt: Runtime) -> None:
    """Issue 9 item 1 (and issue 8 item 3): SMS without Twilio settings, and the phone channel while
    the engine cannot call, refuse the campaign naming what is missing."""
    b = draft(fast_rt, MIXED, [Channel.SMS, Channel.PHONE])
    pf = check(fast_rt, b, configured(fast_rt, twilio=False))
    assert codes(pf.errors) == ["channel_not_configured", "channel_not_configured"]
    assert [e.channel for e in pf.errors] == ["sms", "phone"]
    assert "twilio.auth_token" in pf.errors[0].message


def test_a_required_variable_missing_everywhere_is_an_error(fast_rt: Runtime) -> None:
    """Issue 9 item 1, AI-16: hotline_phone neither in the list nor in scenario_constants would fail
    every message; with the constant set, nothing is missing."""
    b = draft(fast_rt, MIXED, [Channel.EMAIL])
    pf = check(fast_rt, b, configured(fast_rt, constants={}))
    (err,) = pf.errors
    assert (err.code, err.variable, err.count) == ("variable_missing_everywhere", "hotline_phone", 5)
    assert "scenario_constants.hotline_phone" in err.message and pf.missing["hotline_phone"] == 5
    assert check(fast_rt, b, configured(fast_rt)).errors == []


def test_a_constant_of_the_wrong_type_is_an_error(fast_rt: Runtime) -> None:
    b = draft(fast_rt, MIXED, [Channel.EMAIL])
    pf = check(fast_rt, b, configured(fast_rt, constants={"hotline_phone": "звоните нам"}))
    assert codes(pf.errors) == ["bad_constant"] and pf.errors[0].variable == "hotline_phone"


def test_rows_lacking_a_value_are_a_warning_naming_them(fast_rt: Runtime) -> None:
    """Issue 9 item 1: rows without a debt fail alone; the warning counts them and names the first."""
    people = [Person(f"30000{i}", email=f"r{i}@example.ru") for i in range(1, 5)]
    b = draft(fast_rt, people, [Channel.EMAIL])
    with db.transaction(fast_rt.sessions) as s:
        for row in s.scalars(select(ListRow).where(ListRow.list_id == b.list_id, ListRow.row_number.in_([2, 4]))):
            row.variables = {"debt": ""} if row.row_number == 2 else {}
    pf = check(fast_rt, b, configured(fast_rt))
    assert pf.ok
    (w,) = [w for w in pf.warnings if w.code == "rows_missing_values"]
    assert (w.variable, w.count, w.rows) == ("debt", 2, (2, 4)) and pf.missing["debt"] == 2


def test_zero_and_negative_debts_are_a_warning_for_a_scenario_asking_to_pay(fast_rt: Runtime) -> None:
    """Issue 9 item 1: a debt of 0,00 (or an overpayment) under "please pay"."""
    people = [Person("400001", email="a@example.ru", debt=0), Person("400002", email="b@example.ru"),
              Person("400003", email="c@example.ru", debt=-5000)]
    b = draft(fast_rt, people, [Channel.EMAIL])
    pf = check(fast_rt, b, configured(fast_rt))
    (w,) = [w for w in pf.warnings if w.code == "zero_debt"]
    assert (w.count, w.rows, w.variable) == (2, (1, 3), "debt")


def test_a_start_outside_the_window_says_when_the_first_message_leaves(fast_rt: Runtime) -> None:
    """Issue 9 item 1, AI-13: a Sunday start waits for Monday 10:00, and the warning says so."""
    sunday_evening = datetime(2026, 12, 6, 21, 0, tzinfo=AST)
    b = draft(fast_rt, MIXED, [Channel.EMAIL], start=sunday_evening)
    pf = check(fast_rt, b, configured(fast_rt))
    assert pf.ok and pf.first_send_at == datetime(2026, 12, 7, 10, 0, tzinfo=AST)
    (w,) = [w for w in pf.warnings if w.code == "start_outside_window"]
    assert "2026-12-07 10:00" in w.message


def test_a_start_in_the_past_is_a_warning(fast_rt: Runtime) -> None:
    b = draft(fast_rt, MIXED, [Channel.EMAIL])
    pf = check(fast_rt, b, configured(fast_rt), now=MONDAY_NOON + timedelta(hours=1))
    assert "start_in_past" in codes(pf.warnings) and pf.ok
    assert pf.first_send_at == MONDAY_NOON + timedelta(hours=1)


def test_no_window_before_the_end_is_an_error(fast_rt: Runtime) -> None:
    """Nothing could ever leave: from Saturday 20:30 to Sunday 23:00 the window never opens."""
    saturday = datetime(2026, 12, 5, 20, 30, tzinfo=AST)
    b = draft(fast_rt, MIXED, [Channel.EMAIL], start=saturday, end=saturday + timedelta(hours=26))
    pf = check(fast_rt, b, configured(fast_rt))
    assert codes(pf.errors) == ["no_window_before_end"] and pf.first_send_at is None


def test_kept_with_the_campaign_and_in_the_approval_audit(fast_rt: Runtime) -> None:
    """Issue 9 item 1, AI-15: approve reruns the preflight, keeps its warnings on the campaign and in
    the audit entry of the approval; an error found at approve refuses it."""
    people = [*MIXED, Person("500006", email="z@example.ru", debt=0)]
    b = draft(fast_rt, people, [Channel.EMAIL, Channel.SMS])
    with db.transaction(fast_rt.sessions) as s, pytest.raises(PreflightError, match="sms not configured"):
        campaigns.approve(s, b.campaign_id, "boss", settings=configured(fast_rt, twilio=False), now=BEFORE)
    with db.transaction(fast_rt.sessions) as s:
        campaigns.approve(s, b.campaign_id, "boss", settings=configured(fast_rt), now=BEFORE)
    with fast_rt.sessions() as s:
        c = s.get(Campaign, b.campaign_id)
        assert c is not None and c.preflight is not None and c.approved_by == "boss"
        stored = Preflight.from_json(c.preflight)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.approve")).one()
        progress = campaigns.progress(s, b.campaign_id)
    assert stored.step == "approve" and codes(stored.warnings) == ["rows_unreachable", "zero_debt"]
    assert entry.detail["warnings"] == ["rows_unreachable", "zero_debt"]
    assert progress["preflight"] == c.preflight


def test_start_refuses_and_creates_no_delivery(fast_rt: Runtime) -> None:
    b = draft(fast_rt, MIXED, [Channel.SMS])
    with db.transaction(fast_rt.sessions) as s:
        campaigns.approve(s, b.campaign_id, "boss")
    with db.transaction(fast_rt.sessions) as s, pytest.raises(PreflightError, match="cannot start"):
        campaigns.start(s, b.campaign_id, "spec", now=BEFORE, settings=configured(fast_rt, constants={}))
    with fast_rt.sessions() as s:
        assert campaigns.progress(s, b.campaign_id)["total"] == 0


def test_the_sql_rule_is_routing_usable_for_every_kind_of_contact(fast_rt: Runtime) -> None:
    """usable_sql must count exactly what routing.usable (the claim's rule) would use, for every
    combination of channel, line type, source, consent and opt-out; superseded contacts never."""
    combos = list(itertools.product(Channel, LineType, ContactSource, (True, False), (True, False), (True, False)))
    now = utcnow()
    with db.transaction(fast_rt.sessions) as s:
        customer = Customer(account="900001", name="Проверка", group=1)
        s.add(customer)
        s.flush()
        for i, (ch, lt, src, consent, opted, superseded) in enumerate(combos):
            s.add(ContactPoint(customer_id=customer.id, channel=ch, value=f"v{i}", line_type=lt, source=src,
                               consent=consent, opted_out_at=now if opted else None,
                               superseded_at=now if superseded else None))
    with fast_rt.sessions() as s:
        points = list(s.scalars(select(ContactPoint).order_by(ContactPoint.id)))
        for ch in Channel:
            in_sql = set(s.scalars(select(ContactPoint.id).where(usable_sql(ch))))
            in_python = {p.id for p in points if p.superseded_at is None and usable(
                Contact(p.channel, p.value, p.line_type, p.source, p.consent, p.opted_out_at is not None), ch)}
            assert in_sql == in_python and in_python, ch


def test_the_smtp_relay_is_asked_whether_it_answers(sqlite_rt: Runtime) -> None:
    """Issue 9 item 1: at start the relay is probed (a short connection and its greeting); one that
    does not answer is named, one that does is not."""
    with SmtpSink() as sink:
        up = sqlite_rt.settings.model_copy(update={"smtp": sqlite_rt.settings.smtp.model_copy(
            update={"port": sink.port, "timeout": 5.0})})
        assert probe_channels(up, [Channel.EMAIL]) == {}
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        down = sqlite_rt.settings.model_copy(update={"smtp": sqlite_rt.settings.smtp.model_copy(
            update={"port": port})})
        problems = probe_channels(down, [Channel.EMAIL, Channel.SMS])
    assert list(problems) == [Channel.EMAIL] and f"127.0.0.1:{port} does not answer" in problems[Channel.EMAIL]
    assert probe_channels(down, [Channel.SMS]) == {}


def test_rows_that_cannot_be_rendered_show_in_a_sample(fast_rt: Runtime) -> None:
    """Issue 9 item 1: what no count foresees (a debt that is not an amount) shows when the first
    rows are rendered on each channel of the chain, with the renderer's words."""
    people = [Person("700001", email="a@example.ru"), Person("700002", email="b@example.ru")]
    b = draft(fast_rt, people, [Channel.EMAIL])
    with db.transaction(fast_rt.sessions) as s:
        row = s.scalars(select(ListRow).where(ListRow.list_id == b.list_id, ListRow.row_number == 2)).one()
        row.variables = {"debt": "много"}
    pf = check(fast_rt, b, configured(fast_rt))
    (w,) = [w for w in pf.warnings if w.code == "sample_render_failed"]
    assert (w.channel, w.count) == ("email", 1) and "debt: bad money value" in w.message and pf.ok
