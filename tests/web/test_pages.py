"""The campaign, list and stop-list pages by role (issue 12 item 1; AI-6, AI-15, AI-19).

Each page and action is asked for by every role: allowed ones answer and change what they should;
refused ones answer 403 and change nothing. Users come from the test middleware (pages_fixtures).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from autoinform import campaigns, db
from autoinform.config import SmtpSettings
from autoinform.models import (
    AuditEntry,
    Campaign,
    CampaignState,
    Channel,
    ContactList,
    ListRejection,
    Outcome,
    ScenarioVersion,
    StopEntry,
)
from autoinform.runtime import Runtime
from autoinform.users import PERSONAL_DATA_ROLES
from tests.conftest import ROOT
from tests.engine.builders import Built
from tests.fakes.smtp_sink import SmtpSink
from tests.web.pages_fixtures import CSRF, USERS, Web, draft, finish

CORPUS = ROOT / "tests" / "fixtures" / "lists"
VIEW_PAGES = ["/", "/campaigns/{cid}", "/lists", "/lists/{lid}", "/stoplist"]
DECIDERS = {"boss", "boss2", "root"}  # managers and the admin
FORMERS = {"spec", "root"}
STOPPERS = {"spec", "boss", "boss2", "root"}


def state_of(rt: Runtime, cid: int) -> CampaignState:
    with rt.sessions() as s:
        return campaigns.get(s, cid).state


@pytest.fixture
def smtp(page_rt: Runtime) -> Iterator[SmtpSink]:
    """A relay that answers, so the start's preflight finds e-mail sendable."""
    with SmtpSink() as sink:
        page_rt.settings.smtp = SmtpSettings(port=sink.port)
        yield sink


class Forms(HTMLParser):
    """Every POST form of a page with the csrf_token it carries (None: none)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.forms.append({"action": a.get("action"), "csrf": None})
        elif tag == "input" and a.get("name") == "csrf_token" and self.forms:
            self.forms[-1]["csrf"] = a.get("value")


def post_forms(html: str) -> list[dict[str, str | None]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


@pytest.mark.parametrize("who", sorted(USERS))
def test_every_role_sees_every_page(web: Web, who: str) -> None:
    built = draft(web.rt)
    for page in VIEW_PAGES:
        r = web.get(page.format(cid=built.campaign_id, lid=built.list_id), who)
        assert r.status_code == 200, (page, r.text[:500])
        assert f"{who} ({USERS[who].value})" in r.text


def refused_anonymous(r: Any) -> bool:
    """No user: 401, or (once log-in exists) a redirect to it; never the page."""
    return r.status_code == 401 or (r.status_code in (302, 303) and "/login" in r.headers["location"])


def test_pages_refuse_an_anonymous_request(web: Web) -> None:
    built = draft(web.rt)
    for page in [*VIEW_PAGES, "/campaigns/new", "/live/campaigns", "/live/campaigns/{cid}"]:
        r = web.client.get(page.format(cid=built.campaign_id, lid=built.list_id), follow_redirects=False)
        assert refused_anonymous(r), (page, r.status_code)
    r = web.post(f"/campaigns/{built.campaign_id}/decision", None, data={"decision": "approve"})
    assert refused_anonymous(r) or r.status_code == 403
    assert state_of(web.rt, built.campaign_id) is CampaignState.DRAFT


def test_a_missing_campaign_or_list_is_404(web: Web) -> None:
    assert web.get("/campaigns/999", "view").status_code == 404
    assert web.get("/lists/999", "view").status_code == 404
    assert web.get("/live/campaigns/999", "view").status_code == 404


@pytest.mark.parametrize("who", sorted(USERS))
def test_only_a_manager_decides(web: Web, who: str) -> None:
    built = draft(web.rt)
    r = web.post(f"/campaigns/{built.campaign_id}/decision", who, data={"decision": "approve", "comment": "ok"})
    if who in DECIDERS:
        assert r.status_code == 303, r.text[-800:]
        assert state_of(web.rt, built.campaign_id) is CampaignState.APPROVED
    else:
        assert r.status_code == 403
        assert state_of(web.rt, built.campaign_id) is CampaignState.DRAFT


@pytest.mark.parametrize("who", sorted(USERS))
def test_only_a_manager_starts_pauses_resumes_cancels(web: Web, smtp: SmtpSink, who: str) -> None:
    built = draft(web.rt)
    assert web.post(f"/campaigns/{built.campaign_id}/decision", "boss", data={"decision": "approve"}).status_code == 303
    steps = [("start", CampaignState.RUNNING), ("pause", CampaignState.PAUSED), ("resume", CampaignState.RUNNING),
             ("cancel", CampaignState.CANCELLED)]
    for action, after in steps:
        before = state_of(web.rt, built.campaign_id)
        r = web.post(f"/campaigns/{built.campaign_id}/{action}", who)
        if who in DECIDERS:
            assert r.status_code == 303, (action, r.text[-800:])
            assert state_of(web.rt, built.campaign_id) is after
        else:
            assert r.status_code == 403
            assert state_of(web.rt, built.campaign_id) is before
    if who in DECIDERS:
        with web.rt.sessions() as s:  # cancel ended every customer, once
            assert campaigns.progress(s, built.campaign_id)["deliveries"] == {"done": 3}


def test_approval_and_rejection_keep_their_comment(web: Web) -> None:
    a, b = draft(web.rt, name="a", prefix="71"), draft(web.rt, name="b", prefix="72")
    assert web.post(f"/campaigns/{a.campaign_id}/decision", "boss",
                    data={"decision": "approve", "comment": "Суммы сверены"}).status_code == 303
    r = web.post(f"/campaigns/{b.campaign_id}/decision", "boss", data={"decision": "reject", "comment": " "})
    assert r.status_code == 400 and "needs a comment" in r.text
    assert state_of(web.rt, b.campaign_id) is CampaignState.DRAFT
    assert web.post(f"/campaigns/{b.campaign_id}/decision", "boss",
                    data={"decision": "reject", "comment": "Не та группа"}).status_code == 303
    assert state_of(web.rt, b.campaign_id) is CampaignState.CANCELLED
    page_a = web.get(f"/campaigns/{a.campaign_id}", "view").text
    page_b = web.get(f"/campaigns/{b.campaign_id}", "view").text
    assert "boss: утвердил" in page_a and "Суммы сверены" in page_a
    assert "boss: отклонил" in page_b and "Не та группа" in page_b
    with web.rt.sessions() as s:
        details = {e.action: e.detail for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("campaign.approve", "campaign.reject"))))}
    assert details["campaign.approve"]["comment"] == "Суммы сверены"
    assert details["campaign.reject"]["comment"] == "Не та группа"
    # A decided campaign is decided: the second decision is refused with the domain's words.
    r = web.post(f"/campaigns/{a.campaign_id}/decision", "boss2", data={"decision": "reject", "comment": "нет"})
    assert r.status_code == 409 and "approved" in r.text


def test_the_author_cannot_approve_and_is_shown_why(web: Web) -> None:
    """AI-15: the domain refuses self-approval; the page shows its words and no approve button."""
    built = draft(web.rt)
    with db.transaction(web.rt.sessions) as s:  # the admin may form campaigns, and is then their author
        first = campaigns.get(s, built.campaign_id)
        own = campaigns.create(s, name="own", scenario=s.get(ScenarioVersion, first.scenario_id),
                               contact_list=s.get(ContactList, first.list_id), channels=[Channel.EMAIL],  # type: ignore[arg-type]
                               start_at=first.start_at, end_at=first.end_at, actor="root")
        cid = own.id
    page = web.get(f"/campaigns/{cid}", "root").text
    assert 'id="approve"' not in page and "Вы автор этой кампании" in page
    r = web.post(f"/campaigns/{cid}/decision", "root", data={"decision": "approve"})
    assert r.status_code == 403 and "the author of a campaign cannot approve it (AI-15)" in r.text
    assert state_of(web.rt, cid) is CampaignState.DRAFT
    assert 'id="approve"' in web.get(f"/campaigns/{cid}", "boss").text


def test_a_preflight_refusal_lists_its_errors(web: Web) -> None:
    """A campaign that cannot work is not approved; the page says what the preflight found."""
    from tests.engine.builders import Person, campaign
    from tests.web.pages_fixtures import DEBT

    with web.rt.sessions() as s:
        start = campaigns.get(s, draft(web.rt, name="ok").campaign_id).start_at
    built = campaign(web.rt, [Person("790001"), Person("790002")], channels=[Channel.EMAIL],
                     start=start, approve=False, launch=False, name="nobody", scenario_file=DEBT)
    r = web.post(f"/campaigns/{built.campaign_id}/decision", "boss", data={"decision": "approve"})
    assert r.status_code == 400
    assert "✗" in r.text and "reach" in r.text.lower()
    assert state_of(web.rt, built.campaign_id) is CampaignState.DRAFT


def test_unknown_action_is_404(web: Web) -> None:
    built = draft(web.rt)
    assert web.post(f"/campaigns/{built.campaign_id}/explode", "boss").status_code == 404
    assert web.post(f"/campaigns/{built.campaign_id}/decision", "boss",
                    data={"decision": "maybe"}).status_code == 400


def started(web: Web, n: int = 4) -> Built:
    built = draft(web.rt, n)
    with db.transaction(web.rt.sessions) as s:
        campaigns.approve(s, built.campaign_id, "boss")
    with db.transaction(web.rt.sessions) as s:
        campaigns.start(s, built.campaign_id, "boss")
    return built


def cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [[html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody", 1)[1], re.S)]


def test_progress_feed_and_reasons(web: Web) -> None:
    built = started(web, 4)
    assert finish(web.rt, 2, Outcome.POSITIVE, "accepted") == 2
    assert finish(web.rt, 1, Outcome.NEGATIVE, "bounced") == 1
    page = web.get(f"/campaigns/{built.campaign_id}", "spec").text
    assert re.search(r'id="count-positive">2<', page) and re.search(r'id="count-negative">1<', page)
    assert re.search(r'id="count-pending">1<', page)
    assert 'data-seg="positive" style="width: 50.00%"' in page
    feed = cells(page, "feed")
    assert len(feed) == 3 and {row[7] for row in feed} == {"positive", "negative"}
    assert {row[8] for row in feed} == {"accepted by the recipient's server", "the mail server returned it"}
    results = {(r[0], r[1]): int(r[3]) for r in cells(page, "results")}
    assert results == {("positive", "accepted"): 2, ("negative", "bounced"): 1}
    assert cells(page, "channels") == [["email", "0", "2", "1", ""]]
    channel_bar = page.split('data-bar="email"', 1)[1]
    assert re.match(r'[^<]*>\s*<span class="seg-positive" data-seg="positive" style="width: 66.67%"', channel_bar)
    # Three ended just now: a rate per minute, and the one left takes a finite time.
    overview = web.get("/", "view").text
    rate = re.search(r'data-field="counts.rate_per_min">([\d.]+)<', overview)
    assert rate and float(rate.group(1)) > 0


def test_personal_data_masked_for_roles_that_do_not_need_it(web: Web) -> None:
    """AI-19: the specialist, manager and admin see names and addresses; operator and viewer masked."""
    built = started(web, 2)
    finish(web.rt, 2)
    for who in USERS:
        page = web.get(f"/campaigns/{built.campaign_id}", who).text
        clear = USERS[who] in PERSONAL_DATA_ROLES
        assert ("client700001@example.ru" in page) is clear, who
        assert ("Клиент 700001" in page) is clear, who
        if not clear:
            assert "c***@e***.ru" in page and "К*** 7***" in page


def test_every_form_carries_the_csrf_token(web: Web, smtp: SmtpSink) -> None:
    built = draft(web.rt)
    pages = {"boss": [f"/campaigns/{built.campaign_id}", "/stoplist"], "spec": ["/lists", "/stoplist"],
             "root": [f"/campaigns/{built.campaign_id}", "/lists", "/stoplist", "/"]}
    seen = 0
    for who, urls in pages.items():
        for url in urls:
            for form in post_forms(web.get(url, who).text):
                assert form["csrf"] == CSRF, (who, url, form)
                seen += 1
    assert seen >= 10  # log-out on each page, decision, cancel, two uploads ...


def test_list_upload_shows_the_accounting_and_the_reject_report(web: Web) -> None:
    data = (CORPUS / "utf8_bom.csv").read_bytes()
    for who in sorted(set(USERS) - FORMERS):
        r = web.post("/lists", who, data={"name": "dec"}, files={"file": ("dec.csv", data, "text/csv")})
        assert r.status_code == 403, who
    r = web.post("/lists", "spec", data={"name": "dec"}, files={"file": ("dec.csv", data, "text/csv")})
    assert r.status_code == 200, r.text[-1000:]
    with web.rt.sessions() as s:
        lst = s.scalars(select(ContactList).where(ContactList.name == "dec")).one()
        rejected = s.scalar(select(func.count(func.distinct(ListRejection.row_number))).where(
            ListRejection.list_id == lst.id, ListRejection.kind == "rejected"))
    assert (lst.rows_read, lst.rows_imported, lst.rows_merged, lst.rows_rejected) == (8, 4, 1, 3)
    assert rejected == 3
    page = r.text
    for field, value in (("rows-read", 8), ("rows-imported", 4), ("rows-merged", 1), ("rows-rejected", 3)):
        assert f'id="{field}">{value}<' in page
    assert "8 = 4 +" in page and "✓" in page
    rows = cells(page, "rejections")
    assert {r[0] for r in rows if r[2] == "отклонена"} == {"5", "6", "8"}  # 100004..100006
    # The reject report as CSV: personal data, so the former's export, in the audit log (AI-19).
    assert web.get(f"/lists/{lst.id}/rejections.csv", "view").status_code == 403
    csv = web.get(f"/lists/{lst.id}/rejections.csv", "spec")
    assert csv.status_code == 200 and "100004" in csv.text
    with web.rt.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "list.export_rejections")).one()
    assert entry.actor == "spec" and entry.detail["rows"] >= 3
    # The viewer sees the accounting but not the rows as the file had them.
    viewer = web.get(f"/lists/{lst.id}", "view").text
    assert "Сидоров" not in viewer and "Сидоров" in web.get(f"/lists/{lst.id}", "spec").text


@pytest.mark.parametrize("name", ["empty.csv", "binary_junk.bin", "missing_required_column.csv"])
def test_an_unreadable_list_is_refused_whole(web: Web, name: str) -> None:
    r = web.post("/lists", "spec", data={"name": "bad"},
                 files={"file": (name, (CORPUS / name).read_bytes(), "text/csv")})
    assert r.status_code == 400 and 'id="error"' in r.text
    with web.rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ContactList).where(ContactList.complete)) == 0


def test_stop_list_upload_reports_what_it_did_not_add(web: Web, tmp_path: Path) -> None:
    built = draft(web.rt, 2)
    body = b"700001\n999999\nnot an account!\n700001\n"
    for who in sorted(set(USERS) - STOPPERS):
        assert web.post("/stoplist", who, files={"file": ("paid.txt", body)}).status_code == 403, who
    r = web.post("/stoplist", "boss", data={"reason": "paid"}, files={"file": ("paid.txt", body)})
    assert r.status_code == 200, r.text[-800:]
    assert "Добавлено 1" in r.text and "999999" in r.text and "строка 3" in r.text
    with web.rt.sessions() as s:
        assert [e.account for e in s.scalars(select(StopEntry))] == ["700001"]
    assert built.accounts[0] == "700001"
    r = web.post("/stoplist", "boss", data={"reason": "Paid Today"}, files={"file": ("paid.txt", body)})
    assert r.status_code == 400 and "stop reason" in r.text


def test_metrics_show_the_live_pages(web: Web) -> None:
    live = web.get("/api/metrics", "root").json()["live"]
    assert live == {"pages": 0, "changes": 0, "computed": 0, "sent": 0, "watch_errors": 0}


def test_an_xlsx_list_uploads_too(web: Web) -> None:
    r = web.post("/lists", "spec", data={"name": "xlsx"},
                 files={"file": ("sample.xlsx", (CORPUS / "sample.xlsx").read_bytes(),
                                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert r.status_code == 200, r.text[-800:]
    assert 'id="rows-imported">2<' in r.text and 'id="rows-rejected">1<' in r.text
    assert "Формат xlsx" in r.text
    with web.rt.sessions() as s:
        lst = s.scalars(select(ContactList).where(ContactList.name == "xlsx")).one()
    assert (lst.rows_imported, lst.rows_rejected, lst.complete, lst.created_by) == (2, 1, True, "spec")
    assert lst.id in {int(x) for x in re.findall(r'href="/lists/(\d+)"', web.get("/lists", "view").text)}


def test_the_campaigns_page_counts_a_long_ended_campaign_once(web: Web) -> None:
    """Recomputed on every change while open, the campaigns page does not recount campaigns that
    ended over five minutes ago: their counts cannot change any more."""
    from datetime import timedelta

    from sqlalchemy import event, update

    from autoinform.models import utcnow
    from autoinform.web.pages import data

    old, live = started(web, 3), draft(web.rt, 2, name="live", prefix="73")
    finish(web.rt, 2)
    with db.transaction(web.rt.sessions) as s:
        campaigns.cancel(s, old.campaign_id, "boss")
        s.execute(update(Campaign).where(Campaign.id == old.campaign_id)
                  .values(finished_at=utcnow() - timedelta(minutes=10)))
    counted: list[list[int]] = []

    def grouped(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "GROUP BY deliveries.campaign_id, deliveries.state" in statement:
            counted.append(sorted(v for v in (params if isinstance(params, tuple) else params.values())
                                  if isinstance(v, int)))

    event.listen(web.rt.engine, "before_cursor_execute", grouped)
    try:
        with web.rt.sessions() as s:
            first, second = data.overview(s), data.overview(s)
    finally:
        event.remove(web.rt.engine, "before_cursor_execute", grouped)
    assert counted == [sorted([live.campaign_id, old.campaign_id]), [live.campaign_id]]
    assert first == second
    ended = next(c for c in second["campaigns"] if c["id"] == old.campaign_id)["counts"]
    assert (ended["positive"], ended["negative"], ended["total"]) == (2, 1, 3)


def test_data_is_escaped_on_every_page(web: Web) -> None:
    built = draft(web.rt, name="<script>alert(1)</script>")
    for url in ("/", f"/campaigns/{built.campaign_id}", "/lists", f"/lists/{built.list_id}"):
        page = web.get(url, "spec").text
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page, url


def test_the_page_says_when_the_informing_window_is_closed(web: Web) -> None:
    """AI-13 on the page: a running campaign that does not move says why and until when."""
    from datetime import time

    from autoinform.config import WindowSettings

    built = started(web, 1)
    page = web.get(f"/campaigns/{built.campaign_id}", "view").text
    assert re.search(r'<p id="window-closed" class="error" hidden>', page)
    web.rt.settings.window = WindowSettings(start=time(0), end=time(0, 0, 1), calendar="any")
    page = web.get(f"/campaigns/{built.campaign_id}", "view").text
    assert re.search(r'<p id="window-closed" class="error">', page)
    opens = re.search(r'data-field="window.opens_at">([^<]+)<', page)
    assert opens and opens.group(1).endswith("T00:00+04:00")  # tomorrow's midnight in Astrakhan
