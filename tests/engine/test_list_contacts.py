"""Who is written to (issue 8 item 4, AI-11): a campaign uses its own list row's contacts, in the
row's order; contacts a newer import of the same kind replaced are superseded and never used again;
opt-outs win for every campaign. Through the real importer and the real claim, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from autoinform import campaigns, db, deliveries
from autoinform.calendar import InformingWindow
from autoinform.importing.importer import import_list
from autoinform.models import Channel, ContactList, ContactPoint, Customer, Delivery, ScenarioVersion
from autoinform.runtime import Runtime
from tests.engine.builders import SimpleRenderer, users

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
HEADER = "Лицевой счёт;ФИО;Группа;Телефон;Мобильный;E-mail;Сумма долга"
ACCOUNT = "400001"
A, B = "+79001110001", "+79002220002"
EMAIL_A, EMAIL_B = "a@example.ru", "b@example.ru"
_serial = iter(range(1, 1000))


def _import(rt: Runtime, tmp_path: Path, name: str, lines: list[str], header: str = HEADER) -> int:
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return import_list(rt, path, name).list_id


def _send_to(rt: Runtime, list_id: int, chain: list[Channel]) -> dict[str, str | None]:
    """A new campaign on the list, started and claimed once: where each customer's first attempt
    goes (None: nothing usable, the delivery ended no_consent)."""
    n = next(_serial)
    with db.transaction(rt.sessions) as s:
        sv = ScenarioVersion(name="debt", version=n, sha256=f"s{n}", source="name: debt")
        s.add(sv)
        lst = s.get(ContactList, list_id)
        assert lst is not None
        cid = campaigns.create(s, name=f"c{n}", scenario=sv, contact_list=lst, channels=chain,
                               start_at=MONDAY_NOON, end_at=MONDAY_NOON + timedelta(days=3), actor="spec").id
    with db.transaction(rt.sessions) as s:
        campaigns.approve(s, cid, "boss")
    with db.transaction(rt.sessions) as s:
        campaigns.start(s, cid, "spec", now=MONDAY_NOON)
    with db.transaction(rt.sessions) as s:
        report = deliveries.claim(s, now=MONDAY_NOON, limit=100, worker=f"w{n}", lease_s=600,
                                  window=InformingWindow(), renderer=SimpleRenderer())
        accounts: dict[int, str] = dict(s.execute(select(Customer.id, Customer.account)).all())  # type: ignore[arg-type]
        by_delivery = {w.delivery_id: w.destination for w in report.work if w.campaign_id == cid}
        rows = s.execute(select(Delivery.id, Delivery.customer_id).where(Delivery.campaign_id == cid)).all()
    return {accounts[cust]: by_delivery.get(did) for did, cust in rows}


def _superseded(rt: Runtime) -> dict[str, int | None]:
    with rt.sessions() as s:
        rows = s.execute(select(ContactPoint.value, ContactPoint.superseded_by_list_id)
                         .join(Customer).where(Customer.account == ACCOUNT)).all()
    return {v: by for v, by in rows}


def test_each_campaign_writes_to_its_own_rows_contacts_and_superseded_ones_never(rt: Runtime,
                                                                                 tmp_path: Path) -> None:
    """Issue 8 item 4, AI-11: November gives mobile A and e-mail a, December (same columns) B and b.
    The December campaign writes to B/b only, the November one (before December) to A/a; December
    supersedes A/a, a later list without those kinds does not bring them back, and an opt-out of B
    wins for every campaign."""
    users(rt)
    other = "400002;Петров Пётр;1;;+79003330003;c@example.ru;100"
    november = _import(rt, tmp_path, "november", [f"{ACCOUNT};Иванов Иван;1;;{A};{EMAIL_A};12345", other])
    assert _send_to(rt, november, [Channel.SMS])[ACCOUNT] == A
    assert _send_to(rt, november, [Channel.EMAIL])[ACCOUNT] == EMAIL_A

    december = _import(rt, tmp_path, "december", [f"{ACCOUNT};Иванов Иван;1;;{B};{EMAIL_B};23456", other])
    assert _send_to(rt, december, [Channel.SMS]) == {ACCOUNT: B, "400002": "+79003330003"}
    assert _send_to(rt, december, [Channel.EMAIL])[ACCOUNT] == EMAIL_B
    assert _superseded(rt) == {A: december, EMAIL_A: december, B: None, EMAIL_B: None}
    # Superseded means never again: a campaign still on November's list does not write to A/a.
    assert _send_to(rt, november, [Channel.SMS, Channel.EMAIL])[ACCOUNT] is None

    # A list of another kind (contract phones only) for the customer restates nothing else.
    third = _import(rt, tmp_path, "phones", [f"{ACCOUNT};Иванов Иван;1;+78512000001;5"],
                    header="Лицевой счёт;ФИО;Группа;Телефон;Сумма долга")
    assert _superseded(rt)[A] == december and _superseded(rt)[EMAIL_A] == december
    assert _send_to(rt, third, [Channel.SMS, Channel.EMAIL])[ACCOUNT] is None
    assert _send_to(rt, third, [Channel.PHONE])[ACCOUNT] == "+78512000001"

    # An opt-out of B wins for every campaign that carries it; e-mail b still serves.
    with db.transaction(rt.sessions) as s:
        s.execute(update(ContactPoint).where(ContactPoint.value == B).values(opted_out_at=datetime.now(UTC)))
    assert _send_to(rt, december, [Channel.SMS])[ACCOUNT] is None
    assert _send_to(rt, december, [Channel.SMS, Channel.EMAIL])[ACCOUNT] == EMAIL_B
    # ... and for a later list that carries B again: the opt-out is the contact's, not the list's.
    january = _import(rt, tmp_path, "january", [f"{ACCOUNT};Иванов Иван;1;;{B};{EMAIL_B};1"])
    assert _send_to(rt, january, [Channel.SMS])[ACCOUNT] is None


def test_a_row_uses_its_contacts_in_the_order_it_gave_them(rt: Runtime, tmp_path: Path) -> None:
    """Issue 8 item 4: with two mobiles in one cell, the first written is the one used, even when the
    customer already had the second from an earlier list; an empty cell supersedes nothing."""
    users(rt)
    _import(rt, tmp_path, "first", [f"{ACCOUNT};Иванов Иван;1;;{B};{EMAIL_A};1"])
    second = _import(rt, tmp_path, "second", [f"{ACCOUNT};Иванов Иван;1;;{A}, {B};;1"])
    assert _send_to(rt, second, [Channel.SMS])[ACCOUNT] == A
    assert _superseded(rt) == {A: None, B: None, EMAIL_A: None}  # empty e-mail cell: a kept
    # The second list's row has no e-mail of its own: it does not borrow the first list's.
    assert _send_to(rt, second, [Channel.EMAIL])[ACCOUNT] is None


def test_a_contact_carried_again_is_no_longer_superseded(rt: Runtime, tmp_path: Path) -> None:
    """Issue 8 item 4: when a newer list gives the old mobile again, it is current again."""
    users(rt)
    _import(rt, tmp_path, "n1", [f"{ACCOUNT};Иванов Иван;1;;{A};;1"])
    _import(rt, tmp_path, "n2", [f"{ACCOUNT};Иванов Иван;1;;{B};;1"])
    assert _superseded(rt)[A] is not None
    n3 = _import(rt, tmp_path, "n3", [f"{ACCOUNT};Иванов Иван;1;;{A};;1"])
    assert _superseded(rt) == {A: None, B: n3}
    assert _send_to(rt, n3, [Channel.SMS])[ACCOUNT] == A
