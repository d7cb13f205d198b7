"""AI-15 and AI-7: who may do what to a campaign, and which transitions exist."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from autoinform import campaigns, db
from autoinform.errors import AutoinformError, CampaignStateError, PermissionDenied
from autoinform.models import CampaignState, Channel, Delivery, Role
from autoinform.runtime import Runtime
from autoinform.users import add_user
from tests.engine.builders import Person, campaign, users

AST = ZoneInfo("Europe/Astrakhan")
START = datetime(2026, 12, 7, 12, 0, tzinfo=AST)


@pytest.fixture
def with_users(rt: Runtime) -> Runtime:
    users(rt)
    with db.transaction(rt.sessions) as s:
        add_user(s, "boss2", Role.SPECIALIST)
        add_user(s, "chief", Role.MANAGER)
    return rt


def test_author_cannot_approve_own_campaign(with_users: Runtime) -> None:
    rt = with_users
    b = campaign(rt, [Person("1", email="a@example.ru")], channels=[Channel.EMAIL], start=START,
                 approve=False, launch=False)
    with pytest.raises(PermissionDenied, match="specialist"), db.transaction(rt.sessions) as s:
        campaigns.approve(s, b.campaign_id, "boss2")  # a specialist may not approve
    with pytest.raises(PermissionDenied, match="specialist"), db.transaction(rt.sessions) as s:
        campaigns.approve(s, b.campaign_id, "spec")  # the author is a specialist
    with db.transaction(rt.sessions) as s:
        campaigns.get(s, b.campaign_id).created_by = "chief"
    with pytest.raises(PermissionDenied, match="author"), db.transaction(rt.sessions) as s:
        campaigns.approve(s, b.campaign_id, "chief")  # a manager who authored it
    with db.transaction(rt.sessions) as s:
        assert campaigns.approve(s, b.campaign_id, "boss").state is CampaignState.APPROVED


def test_unapproved_campaign_cannot_start(with_users: Runtime) -> None:
    b = campaign(with_users, [Person("2", email="a@example.ru")], channels=[Channel.EMAIL], start=START,
                 approve=False, launch=False)
    with pytest.raises(CampaignStateError, match="cannot schedule while draft"), \
            db.transaction(with_users.sessions) as s:
        campaigns.start(s, b.campaign_id, "spec", now=START)


def test_future_campaign_is_scheduled_then_begins(with_users: Runtime) -> None:
    b = campaign(with_users, [Person("3", email="a@example.ru"), Person("4", email="b@example.ru")],
                 channels=[Channel.EMAIL], start=START, launch=False)
    with db.transaction(with_users.sessions) as s:
        assert campaigns.start(s, b.campaign_id, "spec", now=START - timedelta(hours=2)) == 2
        assert campaigns.get(s, b.campaign_id).state is CampaignState.SCHEDULED
        assert s.scalar(select(func.count()).select_from(Delivery)) == 2
    with db.transaction(with_users.sessions) as s:
        assert campaigns.begin_due(s, START - timedelta(minutes=1)) == []
        assert campaigns.begin_due(s, START) == [b.campaign_id]


def test_invalid_definitions_refused(with_users: Runtime) -> None:
    with pytest.raises(AutoinformError, match="start before it ends"):
        campaign(with_users, [Person("5", email="a@example.ru")], channels=[Channel.EMAIL], start=START,
                 end=START - timedelta(hours=1), approve=False, launch=False)
    with pytest.raises(AutoinformError, match="twice"):
        campaign(with_users, [Person("6", email="a@example.ru")], channels=[Channel.EMAIL, Channel.EMAIL],
                 start=START, approve=False, launch=False, name="dup")


def test_transition_table_has_no_exit_from_final_states() -> None:
    for action, moves in campaigns.TRANSITIONS.items():
        for final in campaigns.FINAL:
            assert final not in moves, (action, final)


def test_list_outside_the_scenarios_groups_is_refused(with_users: Runtime) -> None:
    """AI-18: the group-3 cut-off notice cannot be formed for a list of households."""
    with pytest.raises(AutoinformError, match="groups 3 only; 1 rows"):
        b = campaign(with_users, [Person("7", email="a@example.ru")], channels=[Channel.EMAIL], start=START,
                     approve=False, launch=False, name="g")
        with db.transaction(with_users.sessions) as s:
            c = campaigns.get(s, b.campaign_id)
            campaigns.create(s, name="again", scenario=c.scenario, contact_list=c.contact_list,
                             channels=[Channel.EMAIL], start_at=START, end_at=START + timedelta(days=1),
                             actor="spec", groups=[3])
