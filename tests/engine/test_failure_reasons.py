"""Failures say why, everywhere (issue 9 item 2; AI-5, AI-14, AI-16), on both backends.

A delivery the scenario cannot render ends with a short reason code reports group by
(`missing_variable`) and the words people read ("missing variable hotline_phone"), shown by the
campaign's results, its report by reason and the account's history; the engine logs one line per
campaign per distinct reason, not one per message.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinform import campaigns, db
from autoinform.channels.base import SendResult
from autoinform.dispatch import Dispatcher
from autoinform.models import Channel, ListRow, Outcome
from autoinform.reasons import attempt_text
from autoinform.rendering import StoredScenarioRenderer
from autoinform.reports import campaign_report
from autoinform.results import account_history
from autoinform.runtime import Runtime
from tests.conftest import ROOT
from tests.engine.builders import Person, campaign
from tests.engine.test_dispatch import Clock, ScriptedChannel, all_done, drive

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)


async def test_render_failures_keep_their_words_and_are_logged_once_per_campaign(
        fast_rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 9 item 2: ten rows fail for want of hotline_phone (the engine has no scenario_constants),
    one for want of its debt. Results, report and history say so in words; the log has one line per
    distinct reason of the campaign, though the work was claimed in several batches."""
    people = [Person(f"60000{i:02d}", email=f"r{i}@example.ru") for i in range(11)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON,
                 scenario_file=ROOT / "scenarios" / "debt_reminder.yaml")
    with db.transaction(fast_rt.sessions) as s:
        row = s.scalars(select(ListRow).where(ListRow.list_id == b.list_id, ListRow.row_number == 11)).one()
        row.variables = {}
    fast_rt.settings.dispatch.batch_size = 3  # several claims: the log must not repeat per claim
    renderer = StoredScenarioRenderer(fast_rt.sessions, AST, constants={}, clock=lambda: MONDAY_NOON)
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, renderer, worker="w1", clock=Clock(MONDAY_NOON))
    with caplog.at_level(logging.INFO, logger="autoinform.dispatch"):
        await drive(d, all_done(fast_rt, b.campaign_id))
    assert email.sent == []

    with fast_rt.sessions() as s:
        results = campaigns.progress(s, b.campaign_id)["results"]
        report = campaign_report(s, b.campaign_id)
        history = account_history(s, "6000000")
    assert sorted((r["reason"], r["text"], r["count"]) for r in results) == [
        ("missing_variable", "missing variable debt", 1), ("missing_variable", "missing variable hotline_phone", 10)]
    assert report["by_reason"] == [{"outcome": "negative", "reason": "missing_variable", "count": 11, "texts": [
        {"text": "missing variable hotline_phone", "count": 10}, {"text": "missing variable debt", "count": 1}]}]
    (attempt,) = history
    assert (attempt["final_reason"], attempt["final_reason_text"]) == ("missing_variable",
                                                                       "missing variable hotline_phone")
    assert (attempt["reason"], attempt["reason_text"]) == ("missing_variable", "missing variable hotline_phone")

    lines = [r.getMessage() for r in caplog.records if "end negative" in r.getMessage()]
    assert len(lines) == 2, lines
    assert all(f"campaign {b.campaign_id}:" in line for line in lines)
    assert any("missing variable hotline_phone (missing_variable)" in line for line in lines)


def test_reasons_without_their_own_words_are_described(fast_rt: Runtime) -> None:
    """Issue 9 item 2: a code the engine sets without words (cancelled, no_consent) still reads as a
    sentence in the results; an attempt shows what its channel said."""
    b = campaign(fast_rt, [Person("610001", email="a@example.ru")], channels=[Channel.EMAIL], start=MONDAY_NOON)
    with db.transaction(fast_rt.sessions) as s:
        campaigns.cancel(s, b.campaign_id, "boss")
    with fast_rt.sessions() as s:
        (r,) = campaigns.progress(s, b.campaign_id)["results"]
    assert (r["reason"], r["text"]) == ("cancelled", "the campaign was cancelled")
    smtp = SendResult(Outcome.NEGATIVE, "invalid_address", disposition="550 5.1.1 user unknown",
                      detail={"stage": "rcpt", "smtp_code": 550})
    assert attempt_text(smtp.reason, smtp.detail, smtp.disposition) == "SMTP 550 5.1.1 user unknown"
    assert attempt_text("undelivered", {"error_code": "30005"}) == ("the carrier could not deliver it "
                                                                    "(provider code 30005)")


def test_a_render_error_is_a_code_and_masked_words() -> None:
    """Issue 9 item 2, AI-19: the words kept with a delivery (and shown by reports, which carry no
    personal data) mask a phone or e-mail the renderer quoted from the row."""
    from autoinform.deliveries import render_failure
    from autoinform.errors import RenderError

    assert render_failure(RenderError("missing required variable (phone)", field="hotline_phone")) == (
        "missing_variable", "missing variable hotline_phone")
    code, text = render_failure(RenderError("bad phone value from the list: 'ivan@mail.ru'", field="hotline_phone"))
    assert code == "render_error" and text.startswith("hotline_phone: bad phone value") and "ivan@" not in text
