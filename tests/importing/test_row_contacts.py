"""What each list row links to (issue 8 item 4, AI-11): its own contacts in file order, merged rows'
after, across import batches; superseding by kind, only when the list completes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from autoinform.importing.importer import import_list
from autoinform.models import ContactPoint, Customer, ListRow, ListRowContact
from autoinform.runtime import Runtime

HEADER = "Лицевой счёт;ФИО;Группа;Телефон;Мобильный;E-mail"


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _row(rt: Runtime, list_id: int, account: str) -> tuple[list[str], int]:
    """The row's linked contact values in order, and its contact_kinds bits."""
    with rt.sessions() as s:
        row = s.execute(select(ListRow.id, ListRow.contact_kinds).join(Customer)
                        .where(ListRow.list_id == list_id, Customer.account == account)).one()
        values = s.scalars(select(ContactPoint.value)
                           .join(ListRowContact, ListRowContact.contact_point_id == ContactPoint.id)
                           .where(ListRowContact.list_row_id == row.id).order_by(ListRowContact.position)).all()
    return list(values), row.contact_kinds


def test_merged_rows_in_later_batches_add_their_contacts_after_the_first_rows(rt: Runtime,
                                                                             tmp_path: Path) -> None:
    """Issue 8 item 4: a repeated account (even two batches later) adds its new contacts after the
    first row's, once each, and restates the kinds it has cells for."""
    path = _write(tmp_path, "merged", [
        "1;Иванов;1;;+79001110001, +79001110002;",
        "2;Петров;1;;+79002220001;",
        "3;Сидоров;1;;+79003330001;",
        "1;Иванов;1;;+79001110002;a@example.ru",
        "4;Смирнов;1;;+79004440001;",
        "1;Иванов;1;+78512000001;+79001110001;",
    ])
    report = import_list(rt, path, "merged", batch_size=2)
    assert (report.imported, report.merged) == (4, 2)
    assert _row(rt, report.list_id, "1") == (
        ["+79001110001", "+79001110002", "a@example.ru", "+78512000001"], 1 | 2 | 4)
    assert _row(rt, report.list_id, "2") == (["+79002220001"], 2)


def test_a_newer_list_supersedes_by_kind_and_only_what_it_restates(rt: Runtime, tmp_path: Path) -> None:
    """Issue 8 item 4: a new mobile supersedes the old mobiles only; the e-mail cell left empty
    keeps the e-mail; another customer of the older list, absent from the newer one, keeps all."""
    old = import_list(rt, _write(tmp_path, "old", ["1;Иванов;1;;+79001110001;a@example.ru",
                                                   "2;Петров;1;;+79002220001;b@example.ru"]), "old")
    new = import_list(rt, _write(tmp_path, "new", ["1;Иванов;1;;+79001119999;"]), "new")
    assert new.superseded == 1 and old.superseded == 0
    with rt.sessions() as s:
        state = dict(s.execute(select(ContactPoint.value, ContactPoint.superseded_by_list_id)).all())
    assert state == {"+79001110001": new.list_id, "a@example.ru": None, "+79001119999": None,
                     "+79002220001": None, "b@example.ru": None}
