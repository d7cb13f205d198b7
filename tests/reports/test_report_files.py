"""Report files opened and checked (issue 12 item 4; AI-5, AI-19, 6.2.4): row counts equal the
database's, no spreadsheet cell starts a formula from data, the PDF has its charts, a period
report spans campaigns, every export is in the audit log. On SQLite and PostgreSQL."""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from autoinform import db
from autoinform.models import AuditEntry, HotlineQueueEvent, HotlineTask
from autoinform.report_files.csv_file import RESULTS_TITLE
from autoinform.report_files.render import render_report
from autoinform.report_files.scope import ReportSpec, ReportSpecError
from autoinform.report_files.xlsx_file import RESULTS_SHEET
from autoinform.reports import RESULT_COLUMNS, build_summary
from tests.reports.conftest import Seeded
from tests.reports.seed import CAMPAIGN_A, EVIL

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
AFTER = datetime(2026, 12, 20, tzinfo=UTC)  # "now" for deadlines: after every seeded one


def render(seeded: Seeded, fmt: str, **spec: Any) -> bytes:
    spec.setdefault("actor", "boss")
    with db.transaction(seeded.rt.sessions) as s:
        data, name, media = render_report(s, ReportSpec(**spec), fmt)
    assert name.endswith("." + fmt) and media
    return data


def sql(seeded: Seeded, query: str, **params: Any) -> list[tuple[Any, ...]]:
    """The database's own answer, in plain SQL: what the files are checked against."""
    with seeded.rt.sessions() as s:
        return [tuple(r) for r in s.execute(text(query), params)]


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """Section title → its rows (header first)."""
    assert data.startswith(codecs.BOM_UTF8)
    lines = list(csv.reader(io.StringIO(data[len(codecs.BOM_UTF8):].decode("utf-8"), newline=""), delimiter=";"))
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for cells in lines[2:]:  # the report's title and a blank line
        if not cells:
            current = None
        elif current is None:
            current = sections.setdefault(cells[0], [])
        else:
            current.append(cells)
    return sections


def test_campaign_csv_rows_and_roll_ups_equal_the_database(seeded: Seeded) -> None:
    data = render(seeded, "csv", campaign_id=seeded.a)
    sections = csv_sections(data)
    results = sections[RESULTS_TITLE]
    assert tuple(results[0]) == RESULT_COLUMNS
    [(n,)] = sql(seeded, "SELECT count(*) FROM deliveries WHERE campaign_id = :c", c=seeded.a)
    assert len(results) - 1 == n == len(CAMPAIGN_A)
    assert Counter(r[7] for r in results[1:]) == {"завершено": 10, "ожидает": 2}  # in progress ones too
    # Attempts per customer as the attempts table counts them.
    want = sorted(sql(seeded, "SELECT c.account, count(a.id) FROM deliveries d "
                              "JOIN customers c ON c.id = d.customer_id LEFT JOIN attempts a ON a.delivery_id = d.id "
                              "WHERE d.campaign_id = :c "
                              "GROUP BY c.account", c=seeded.a))
    assert sorted((r[1], int(r[11])) for r in results[1:]) == want
    # Outcomes by channel: finished, positive, negative per channel.
    by_channel = {r[0]: r for r in sections["Результаты по каналам"][1:]}
    labels = {"phone": "телефон", "sms": "SMS", "email": "e-mail"}
    for channel, outcome, count in sql(seeded, "SELECT channel, outcome, count(*) FROM deliveries WHERE "
                                               "campaign_id = :c AND state = 'done' GROUP BY channel, outcome",
                                       c=seeded.a):
        assert int(by_channel[labels[channel]][4 if outcome == "positive" else 5]) == count
    # Roll-up by division (6.2.4): every finished delivery counted once, under its division.
    divisions = sections["По подразделениям (6.2.4)"][1:]
    want_div = dict(sql(seeded, "SELECT coalesce(v.name, 'не указано'), count(*) FROM deliveries d "
                                "JOIN customers c ON c.id = d.customer_id "
                                "LEFT JOIN divisions v ON v.id = c.division_id "
                                "WHERE d.campaign_id = :c AND d.state = 'done' GROUP BY v.name", c=seeded.a))
    assert {r[0]: int(r[2]) for r in divisions} == want_div
    groups = {int(r[0]): int(r[2]) for r in sections["По группам потребителей"][1:]}
    assert groups == dict(sql(seeded, 'SELECT c."group", count(*) FROM deliveries d JOIN customers c ON '
                                      "c.id = d.customer_id WHERE d.campaign_id = :c AND d.state = 'done' "
                                      'GROUP BY c."group"', c=seeded.a))
    cross = sections["По подразделениям и группам"][1:]
    assert sum(int(r[2]) for r in cross) == sum(want_div.values()) == 10
    # Hours of day in local time (Astrakhan, UTC+4): the seed's first attempts are at 06:00 UTC.
    hours = {int(r[0]): int(r[1]) for r in sections["Попытки по часам суток"][1:]}
    [(attempts,)] = sql(seeded, "SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id "
                                "WHERE d.campaign_id = :c", c=seeded.a)
    assert sum(hours.values()) == attempts and min(hours) == 10
    days = {r[0]: r for r in sections["Доля положительных по дням"][1:]}
    assert sorted(days) == ["2026-12-07", "2026-12-08"]
    assert days["2026-12-07"][1:5] == ["6", "3", "3", "50,0%"]
    overview = dict((r[0], r[1]) for r in sections["Сводка"][1:])
    assert (overview["Клиентов"], overview["Завершено"], overview["В работе"]) == ("12", "10", "2")
    assert overview["Доля положительных"] == "60,0%"


def test_no_csv_cell_starts_a_formula_and_contacts_are_masked_for_the_masked_reader(seeded: Seeded) -> None:
    for personal in (False, True):
        data = render(seeded, "csv", campaign_id=seeded.a, personal=personal)
        body = data[len(codecs.BOM_UTF8):].decode("utf-8")
        cells = [c for row in csv.reader(io.StringIO(body, newline=""), delimiter=";") for c in row]
        assert not [c for c in cells if c.startswith(FORMULA_START)]
        results = csv_sections(data)[RESULTS_TITLE][1:]
        evil = next(r for r in results if r[1] == "000000100001")
        if personal:
            assert evil[2] == "'" + EVIL and evil[6] == "'+79271230001"  # text, not a sum
        else:
            assert evil[2] == "'=***" and evil[6] == "'+*********01"
            assert "+79271230001" not in body and "mail.example.ru" not in body and "Иванов" not in body


def test_xlsx_has_a_sheet_per_table_and_no_formula_from_data(seeded: Seeded) -> None:
    data = render(seeded, "xlsx", campaign_id=seeded.a, personal=True)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Сводка", "Каналы", "Подразделения", "Группы", "Подразделения и группы", "Часы",
                             "Дни", "Причины", "Показатели качества", RESULTS_SHEET]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_START), (ws.title, cell.coordinate, cell.value)
    results = list(wb[RESULTS_SHEET].iter_rows(values_only=True))
    [(n,)] = sql(seeded, "SELECT count(*) FROM deliveries WHERE campaign_id = :c", c=seeded.a)
    assert results[0] == RESULT_COLUMNS and len(results) - 1 == n
    assert ("'" + EVIL) in [r[2] for r in results]
    # Numbers stay numbers, shares are percentages Excel can compute with.
    overview = {r[0]: r[1] for r in wb["Сводка"].iter_rows(min_row=3, values_only=True)}
    assert overview["Клиентов"] == 12 and overview["Доля положительных"] == pytest.approx(0.6)
    share = next(r[1] for r in wb["Сводка"].iter_rows(min_row=3) if r[0].value == "Доля положительных")
    assert share.number_format == "0.0%"


def test_pdf_has_its_four_charts_and_renders_cyrillic(seeded: Seeded) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph ("Glyph … missing from font") fails here
        data = render(seeded, "pdf", campaign_id=seeded.a)
    assert data.startswith(b"%PDF-")
    images = re.findall(rb"/Subtype\s*/Image", data)
    assert len(images) == 4  # outcomes by channel, by division, by hour, positive share by day
    pages = re.findall(rb"/Type\s*/Page[^s]", data)
    assert len(pages) >= 5  # the summary page, then a page per chart
    assert b"DejaVuSans" in data  # the font with Cyrillic is the one embedded
    assert b"000000100001" not in data  # the PDF holds no customer's line


def test_period_report_spans_campaigns_and_keeps_to_the_period(seeded: Seeded) -> None:
    data = render(seeded, "csv", since=date(2026, 12, 7), until=date(2026, 12, 16))
    sections = csv_sections(data)
    campaigns = {int(r[0]): int(r[3]) for r in sections["По кампаниям"][1:]}
    assert campaigns == {seeded.a: 10, seeded.b: 3}
    assert len(sections[RESULTS_TITLE]) - 1 == 13  # finished results only: pending ones have none yet
    # Only the second week: campaign A's results lie outside it.
    week2 = csv_sections(render(seeded, "csv", since=date(2026, 12, 14), until=date(2026, 12, 20)))
    assert {int(r[0]) for r in week2["По кампаниям"][1:]} == {seeded.b}
    [(n,)] = sql(seeded, "SELECT count(*) FROM deliveries WHERE state = 'done' AND campaign_id = :c", c=seeded.b)
    assert len(week2[RESULTS_TITLE]) - 1 == n
    # The period's last day counts whole, in local time: 15 December 02:00 local is in "to 15th".
    xlsx = load_workbook(io.BytesIO(render(seeded, "xlsx", since=date(2026, 12, 14), until=date(2026, 12, 15))))
    assert len(list(xlsx[RESULTS_SHEET].iter_rows())) - 1 == 3


def test_text_that_is_markup_or_illegal_elsewhere_stays_plain_text(seeded: Seeded) -> None:
    """A campaign named with "$…$" (TeX to matplotlib) and a customer name with a control character
    (which XLSX forbids): the period's PDF and XLSX are made, and show them as text."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pdf = render(seeded, "pdf", since=date(2026, 12, 7), until=date(2026, 12, 16))
    assert len(re.findall(rb"/Subtype\s*/Image", pdf)) == 4
    wb = load_workbook(io.BytesIO(render(seeded, "xlsx", since=date(2026, 12, 7), until=date(2026, 12, 16),
                                         personal=True)))
    assert "Сидоров Семён" in [r[2] for r in wb[RESULTS_SHEET].iter_rows(values_only=True)]
    assert "Долг неделя 2 $\\bad$" in [r[1] for r in wb["Кампании"].iter_rows(values_only=True)]


def test_hotline_indicators_say_no_data_yet_without_tasks_or_queued_calls(seeded: Seeded) -> None:
    spec = ReportSpec(since=date(2026, 12, 7), until=date(2026, 12, 16), actor="boss")
    with seeded.rt.sessions() as s:
        rows = {r[0]: r for r in build_summary(s, spec).table("indicators").rows}
    assert rows["positive_share"][3] == pytest.approx(8 / 13)
    assert rows["within_window"][3] == pytest.approx(12 / 13)
    for code in ("callbacks_on_time", "feedback_on_time", "answer_breaches"):
        assert rows[code][3] is None and rows[code][4].startswith("no data yet"), rows[code]
    # A campaign's report carries the notice indicators only.
    with seeded.rt.sessions() as s:
        camp = build_summary(s, ReportSpec(campaign_id=seeded.a, actor="boss")).table("indicators")
    assert [r[0] for r in camp.rows] == ["positive_share", "within_window"]


def test_hotline_indicators_computed_from_tasks_and_queue_events(seeded: Seeded) -> None:
    """Callbacks and complaints by their deadline (QI-2, QI-3); waits over the 40 s target (HL-5)."""
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    def task(kind: str, deadline: str, done: str | None) -> HotlineTask:
        return HotlineTask(kind=kind, caller="+79990000000", call_id=f"c{deadline}{kind}{done}",
                           deadline=at(deadline), done_at=at(done) if done else None)

    def event(kind: str, hold: float | None, when: str) -> HotlineQueueEvent:
        return HotlineQueueEvent(call_id=f"q{when}", queue="operators", kind=kind, hold_s=hold, at=at(when))

    with db.transaction(seeded.rt.sessions) as s:
        s.add_all([task("callback", "2026-12-08 10:00", "2026-12-08 09:00"),
                   task("callback", "2026-12-08 10:00", "2026-12-08 11:00"),
                   task("callback", "2026-12-08 10:00", None), task("complaint", "2026-12-09 10:00", None),
                   task("callback", "2027-01-08 10:00", None)])
        s.add_all([event("connect", 12, "2026-12-08 08:00"), event("connect", 55, "2026-12-08 08:05"),
                   event("abandon", 41, "2026-12-08 08:10"), event("timeout", 40, "2026-12-08 08:20"),
                   event("join", None, "2026-12-08 08:00")])
    spec = ReportSpec(since=date(2026, 12, 7), until=date(2026, 12, 16), actor="boss")
    with seeded.rt.sessions() as s:
        rows = {r[0]: r for r in build_summary(s, spec, now=AFTER).table("indicators").rows}
    assert rows["callbacks_on_time"][3] == pytest.approx(1 / 3)  # one on time, one late, one open past due
    assert rows["feedback_on_time"][3] == 0
    assert rows["answer_breaches"][3] == 3  # waited 55 s, gave up after 41 s, timed out


def test_every_export_is_in_the_audit_log(seeded: Seeded) -> None:
    render(seeded, "xlsx", campaign_id=seeded.a, actor="boss", personal=True)
    render(seeded, "pdf", since=date(2026, 12, 7), until=date(2026, 12, 16), actor="spec")
    with seeded.rt.sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "report.export")
                            .order_by(AuditEntry.id)).all()
    assert [(e.actor, e.entity, e.entity_id, e.detail) for e in entries] == [
        ("boss", "campaign", str(seeded.a), {"format": "xlsx", "rows": 12, "personal": True}),
        ("spec", "period", "2026-12-07..2026-12-16", {"format": "pdf", "rows": 0, "personal": False})]


def test_bad_specs_are_refused_clearly(seeded: Seeded) -> None:
    with pytest.raises(ReportSpecError, match="campaign or a period"):
        ReportSpec(actor="boss")
    with pytest.raises(ReportSpecError, match="after it ends"):
        ReportSpec(since=date(2026, 12, 9), until=date(2026, 12, 7))
    with db.transaction(seeded.rt.sessions) as s, pytest.raises(ReportSpecError, match="format"):
        render_report(s, ReportSpec(campaign_id=seeded.a, actor="boss"), "docx")
    with seeded.rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "report.export")) == 0
