"""A specialist forms a campaign on the web (AI-7, AI-15): the same checks as the command line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autoinform import campaigns
from autoinform.models import Campaign, CampaignState, Channel, utcnow
from tests.engine.builders import Person, campaign
from tests.web.pages_fixtures import DEBT, USERS, Web, draft

FORMERS = {"spec", "root"}


def local(web: Web, hours: float) -> str:
    """A datetime-local field's value, `hours` from now in the configured time zone."""
    return (utcnow() + timedelta(hours=hours)).astimezone(web.rt.settings.tz).strftime("%Y-%m-%dT%H:%M")


def form(web: Web, list_id: int, **over: str) -> dict[str, str]:
    return {"name": "Декабрьские долги", "scenario": "debt_reminder", "list_id": str(list_id),
            "channel1": "email", "channel2": "", "channel3": "", "start": local(web, 1), "end": local(web, 49)} | over


@pytest.mark.parametrize("who", sorted(USERS))
def test_only_a_specialist_forms_campaigns(web: Web, who: str) -> None:
    built = draft(web.rt)
    assert web.get("/campaigns/new", who).status_code == (200 if who in FORMERS else 403)
    sent = form(web, built.list_id)
    r = web.post("/campaigns", who, data=sent)
    if who in FORMERS:
        assert r.status_code == 303, r.text[-1500:]
        cid = int(r.headers["location"].rsplit("/", 1)[1])
        with web.rt.sessions() as s:
            c = campaigns.get(s, cid)
            assert (c.state, c.created_by, c.channels, c.name) == (CampaignState.DRAFT, who, ["email"],
                                                                    "Декабрьские долги")
            assert c.preflight is not None and c.preflight["step"] == "create"
            assert c.start_at.astimezone(web.rt.settings.tz).strftime("%Y-%m-%dT%H:%M") == sent["start"]
    else:
        assert r.status_code == 403
        with web.rt.sessions() as s:
            assert s.query(Campaign).count() == 1


def test_the_start_is_read_in_the_configured_time_zone(web: Web) -> None:
    built = draft(web.rt)
    r = web.post("/campaigns", "spec", data=form(web, built.list_id, start="2031-03-03T09:30", end="2031-03-05T18:00"))
    assert r.status_code == 303
    with web.rt.sessions() as s:
        c = campaigns.get(s, int(r.headers["location"].rsplit("/", 1)[1]))
    assert c.start_at.astimezone(web.rt.settings.tz).isoformat() == "2031-03-03T09:30:00+04:00"


@pytest.mark.parametrize(("over", "says"), [
    ({"end": "2020-01-01T10:00"}, "must start before it ends"),
    ({"channel1": "fax"}, "a channel is one of"),
    ({"channel2": "email"}, "appears twice"),
    ({"scenario": "../etc/passwd"}, "no scenario named"),
    ({"start": "tomorrow"}, "not a date and time"),
])
def test_a_bad_form_is_refused_with_why_and_keeps_its_values(web: Web, over: dict[str, str], says: str) -> None:
    built = draft(web.rt)
    r = web.post("/campaigns", "spec", data=form(web, built.list_id, **over))
    assert r.status_code == 400 and says in r.text
    assert 'value="Декабрьские долги"' in r.text
    with web.rt.sessions() as s:
        assert s.query(Campaign).count() == 1


def test_a_campaign_that_cannot_work_is_refused_with_the_preflight_errors(web: Web) -> None:
    built = campaign(web.rt, [Person("790001"), Person("790002")], channels=[Channel.EMAIL],
                     start=utcnow(), approve=False, launch=False, name="nobody", scenario_file=DEBT)
    r = web.post("/campaigns", "spec", data=form(web, built.list_id))
    assert r.status_code == 400 and "✗" in r.text
    with web.rt.sessions() as s:
        assert s.query(Campaign).count() == 1
