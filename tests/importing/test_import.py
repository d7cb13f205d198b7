"""import_list on both backends: counts, merging, consent of contact points, rejections (AI-4, AI-11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from autoinform.errors import ImportFileError
from autoinform.importing.importer import ImportReport, ListExistsError, import_list
from autoinform.models import (
    AuditEntry,
    ContactList,
    ContactPoint,
    Customer,
    Division,
    ListRejection,
    ListRow,
)
from autoinform.runtime import Runtime
from autoinform.sample import SampleSpec, generate, write_csv, write_xlsx

CORPUS_IMPORTED = {"100001", "100002", "100003", "100007"}


def _accounts(rt: Runtime, list_id: int) -> set[str]:
    with rt.sessions() as s:
        return set(s.scalars(select(Customer.account).join(ListRow, ListRow.customer_id == Customer.id)
                             .where(ListRow.list_id == list_id)))


def _contacts(rt: Runtime, account: str) -> set[tuple[str, str, str, str]]:
    with rt.sessions() as s:
        rows = s.execute(select(ContactPoint.channel, ContactPoint.value, ContactPoint.line_type,
                                ContactPoint.source).join(Customer).where(Customer.account == account))
        return {(str(c), v, str(t), str(src)) for c, v, t, src in rows}


def _report_entries(rt: Runtime, list_id: int) -> list[tuple[int, str, str, str]]:
    with rt.sessions() as s:
        rows = s.execute(select(ListRejection.row_number, ListRejection.kind, ListRejection.column,
                                ListRejection.reason).where(ListRejection.list_id == list_id)
                         .order_by(ListRejection.row_number, ListRejection.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _check_stored_counts(rt: Runtime, report: ImportReport) -> None:
    assert report.balanced and report.complete
    with rt.sessions() as s:
        lst = s.get(ContactList, report.list_id)
        assert lst is not None and lst.complete
        assert (lst.rows_read, lst.rows_imported, lst.rows_merged, lst.rows_rejected) == (
            report.rows_read, report.imported, report.merged, report.rejected)
        assert s.scalar(select(func.count()).select_from(ListRow).where(ListRow.list_id == lst.id)) \
            == report.imported
        rejected_rows = s.scalar(select(func.count(func.distinct(ListRejection.row_number)))
                                 .where(ListRejection.list_id == lst.id, ListRejection.kind == "rejected"))
        assert rejected_rows == report.rejected


@pytest.mark.parametrize("name", ["cp1251.csv", "utf8_bom.csv", "comma_utf8.csv", "tab_utf8.tsv"])
def test_corpus_rows_imported_merged_rejected_exactly_ai4(rt: Runtime, corpus: Path, name: str) -> None:
    report = import_list(rt, corpus / name, "corpus", created_by="specialist1")
    assert (report.rows_read, report.imported, report.merged, report.rejected) == (8, 4, 1, 3)
    assert _accounts(rt, report.list_id) == CORPUS_IMPORTED
    _check_stored_counts(rt, report)
    entries = _report_entries(rt, report.list_id)
    rejected = {(n, col) for n, kind, col, _ in entries if kind == "rejected"}
    assert rejected == {(5, "Телефон"), (5, "Телефон, Мобильный, E-mail"), (6, "Сумма долга"), (6, "РОС"),
                        (6, "Мобильный"), (8, "Сумма долга")}
    warnings = {(n, col) for n, kind, col, _ in entries if kind == "warning"}
    assert warnings == {(4, "Телефон"), (7, "Лицевой счёт"), (9, "Мобильный")}


def test_contact_points_follow_consent_rules_ai11(rt: Runtime, corpus: Path) -> None:
    import_list(rt, corpus / "cp1251.csv", "consent")
    # Contract phone → calls; voluntary mobile → SMS; e-mail voluntary; the duplicate row's mobile joins.
    assert _contacts(rt, "100001") == {
        ("phone", "+79271112233", "mobile", "contract"),
        ("sms", "+79271112234", "mobile", "voluntary"),
        ("sms", "+79065554433", "mobile", "voluntary"),
        ("email", "ivanov@example.com", "email", "voluntary"),
    }
    assert _contacts(rt, "100002") == {("phone", "+78512445566", "landline", "contract")}
    # A bad phone beside a good e-mail: imported on e-mail only, domain lower-cased.
    assert _contacts(rt, "100003") == {("email", "lotos@example.org", "email", "voluntary")}
    # A landline given for SMS is not an SMS contact.
    assert _contacts(rt, "100007") == {("phone", "+79270000001", "mobile", "contract")}
    with rt.sessions() as s:
        refs = set(s.scalars(select(ContactPoint.source_ref).join(Customer).where(Customer.account == "100001")))
    assert refs == {"cp1251.csv:row 2", "cp1251.csv:row 7"}


def test_customer_fields_variables_and_division(rt: Runtime, corpus: Path) -> None:
    report = import_list(rt, corpus / "cp1251.csv", "vars")
    with rt.sessions() as s:
        rows = {a: (c, v) for a, c, v in s.execute(
            select(Customer.account, Customer, ListRow.variables).join(ListRow, ListRow.customer_id == Customer.id)
            .where(ListRow.list_id == report.list_id))}
        first, vars1 = rows["100001"]
        assert (first.name, first.group, first.address) == (
            "Иванов Иван Иванович", 1, "г. Харабали, ул. Ленина, д. 1")  # the duplicate row changed nothing
        division = s.get(Division, first.division_id)
        assert division is not None and division.code == "harabali"
        assert vars1 == {"debt": 123456, "due_date": "2026-12-05", "примечание": "первая"}
        second, vars2 = rows["100002"]
        assert second.group == 1 and vars2 == {}  # "-" is no debt; empty cells are not variables
        assert s.get(Division, second.division_id).code == "trusovo-point"  # type: ignore[union-attr]
        assert rows["100003"][1]["due_date"] == "2026-12-10" and rows["100003"][1]["debt"] == 1_200_000
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "list.import")).one()
        assert audit.entity_id == str(report.list_id) and audit.detail["read"] == 8


def test_existing_customers_are_updated_and_contacts_unioned_ai4(rt: Runtime, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("Лицевой счёт;ФИО;Группа;Телефон\n500;Иванов;1;89271112233\n", encoding="utf-8")
    second = tmp_path / "b.csv"
    second.write_text("Лицевой счёт;ФИО;Группа;Телефон;E-mail\n500;Иванов Иван;3;89271112233;i@example.com\n"
                      "501;Петров;1;89271112299;\n", encoding="utf-8")
    a = import_list(rt, first, "a")
    b = import_list(rt, second, "b")
    assert (a.customers_created, b.customers_created, b.customers_updated) == (1, 1, 1)
    assert _accounts(rt, a.list_id) == {"500"} and _accounts(rt, b.list_id) == {"500", "501"}
    with rt.sessions() as s:
        c = s.scalars(select(Customer).where(Customer.account == "500")).one()
        assert (c.name, c.group) == ("Иванов Иван", 3)
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
    assert _contacts(rt, "500") == {("phone", "+79271112233", "mobile", "contract"),
                                    ("email", "i@example.com", "email", "voluntary")}


def test_duplicates_across_batches_merge_into_the_first_row_ai4(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    lines = ["Лицевой счёт;ФИО;Группа;Телефон;Мобильный"]
    lines += [f"{700 + i};Клиент {i};1;8927111{i:04d};" for i in range(10)]
    lines += ["700;Повтор;1;;8 906 000-00-01", "709;Повтор;2;89271110009;8 906 000-00-09"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_list(rt, path, "dups", batch_size=3)  # the repeats land in later batches
    assert (report.rows_read, report.imported, report.merged, report.rejected) == (12, 10, 2, 0)
    _check_stored_counts(rt, report)
    assert ("sms", "+79060000001", "mobile", "voluntary") in _contacts(rt, "700")
    assert len(_contacts(rt, "709")) == 2  # the repeated contract phone is stored once
    with rt.sessions() as s:
        assert s.scalars(select(Customer.group).where(Customer.account == "709")).one() == 1


def test_complete_list_is_never_replaced(rt: Runtime, corpus: Path) -> None:
    import_list(rt, corpus / "cp1251.csv", "monthly")
    with pytest.raises(ListExistsError, match="monthly"):
        import_list(rt, corpus / "cp1251.csv", "monthly")


def test_interrupted_import_leaves_an_incomplete_list_that_reimport_replaces(rt: Runtime,
                                                                             tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_csv(path, SampleSpec(rows=40, seed=2, bad_share=0.0))

    def crash(n: int) -> None:
        if n >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_list(rt, path, "crashy", progress=crash, batch_size=10)
    with rt.sessions() as s:
        lst = s.scalars(select(ContactList).where(ContactList.name == "crashy")).one()
        assert not lst.complete and lst.rows_read == 20
        assert s.scalar(select(func.count()).select_from(ListRow).where(ListRow.list_id == lst.id)) == 20
    report = import_list(rt, path, "crashy", batch_size=10)
    assert report.replaced_incomplete and report.imported == 40
    assert report.customers_updated == 20  # the first attempt's customers are found, not duplicated
    _check_stored_counts(rt, report)
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ContactList)) == 1


@pytest.mark.parametrize(("name", "reason"), [
    ("missing_required_column.csv", "missing required column"),
    ("duplicated_headers.csv", "duplicated header"),
    ("alias_clash.csv", "both name the column .Телефон."),
    ("no_contact_column.csv", "no contact column"),
    ("header_only.csv", "header only"),
    ("empty.csv", "empty file"),
])
def test_unreadable_files_store_nothing(rt: Runtime, corpus: Path, name: str, reason: str) -> None:
    with pytest.raises(ImportFileError, match=reason):
        import_list(rt, corpus / name, "bad")
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ContactList)) == 0
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_xlsx_import_ai4(rt: Runtime, corpus: Path) -> None:
    report = import_list(rt, corpus / "sample.xlsx", "xlsx")
    assert (report.rows_read, report.imported, report.merged, report.rejected) == (3, 2, 0, 1)
    assert _accounts(rt, report.list_id) == {"200001", "200002"}
    with rt.sessions() as s:
        variables = s.scalars(select(ListRow.variables).join(Customer)
                              .where(Customer.account == "200001")).one()
    assert variables == {"debt": 123456, "due_date": "2026-12-05"}


def test_generated_list_on_both_backends_exact_accounts_ai4(rt: Runtime, tmp_path: Path) -> None:
    spec = SampleSpec(rows=3000, seed=9, bad_share=0.08, duplicate_share=0.02)
    path = tmp_path / "gen.csv"
    write_csv(path, spec, encoding="utf-8")
    expected = list(generate(spec))
    report = import_list(rt, path, "gen", batch_size=700)
    assert report.rows_read == len(expected)
    assert report.imported == sum(r.expect == "imported" for r in expected)
    assert report.merged == sum(r.expect == "merged" for r in expected)
    assert report.rejected == sum(r.expect == "rejected" for r in expected)
    assert _accounts(rt, report.list_id) == {r.account for r in expected if r.expect == "imported"}
    _check_stored_counts(rt, report)


def test_generated_xlsx_imports_like_csv(sqlite_rt: Runtime, tmp_path: Path) -> None:
    spec = SampleSpec(rows=300, seed=4, bad_share=0.1)
    write_xlsx(tmp_path / "g.xlsx", spec)
    report = import_list(sqlite_rt, tmp_path / "g.xlsx", "gx")
    expected = list(generate(spec))
    assert report.imported == sum(r.expect == "imported" for r in expected)
    assert _accounts(sqlite_rt, report.list_id) == {r.account for r in expected if r.expect == "imported"}


def test_ten_megabyte_field_rejects_its_row_only(sqlite_rt: Runtime, big_field_csv: Path) -> None:
    report = import_list(sqlite_rt, big_field_csv, "big")
    assert (report.rows_read, report.imported, report.rejected) == (5, 3, 2)
    assert _accounts(sqlite_rt, report.list_id) == {"1", "3", "5"}
    entries = _report_entries(sqlite_rt, report.list_id)
    assert {n for n, kind, _, _ in entries if kind == "rejected"} == {3, 5}
    with sqlite_rt.sessions() as s:
        longest = s.scalar(select(func.max(func.length(ListRejection.raw))))
    assert longest is not None and longest <= 600


def test_100k_rows_with_5_percent_bad_phones_lose_no_valid_row_ai4(
        sqlite_rt: Runtime, bad_phones_100k: tuple[Path, list]) -> None:
    path, expected = bad_phones_100k
    report = import_list(sqlite_rt, path, "bad phones")
    want_imported = {r.account for r in expected if r.expect == "imported"}
    want_rejected = sum(r.expect == "rejected" for r in expected)
    assert report.rows_read == 100_000
    assert report.imported == len(want_imported) and report.rejected == want_rejected
    assert 2000 < want_rejected < 3000  # about half the 5% have no other contact
    assert _accounts(sqlite_rt, report.list_id) == want_imported
    _check_stored_counts(sqlite_rt, report)
    with sqlite_rt.sessions() as s:
        phone_warnings = s.scalar(select(func.count()).where(
            ListRejection.list_id == report.list_id, ListRejection.kind == "warning",
            ListRejection.column == "Телефон"))
    assert phone_warnings == sum(r.warned for r in expected)


def test_incomplete_list_a_campaign_uses_is_not_replaced(rt: Runtime, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from autoinform.importing.importer import ListInUseError
    from autoinform.models import Campaign, ScenarioVersion

    path = tmp_path / "s.csv"
    write_csv(path, SampleSpec(rows=20, seed=2, bad_share=0.0))

    def crash(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_list(rt, path, "used", progress=crash, batch_size=10)
    with rt.sessions() as s, s.begin():
        lst = s.scalars(select(ContactList).where(ContactList.name == "used")).one()
        sv = ScenarioVersion(name="debt_reminder", version=1, sha256="0" * 64, source="")
        now = datetime.now(UTC)
        s.add(sv)
        s.flush()
        s.add(Campaign(name="c", scenario_id=sv.id, list_id=lst.id, channels=["phone"], start_at=now,
                       end_at=now, created_by="t"))
    with pytest.raises(ListInUseError, match="used by a campaign"):
        import_list(rt, path, "used")
    with rt.sessions() as s:
        assert s.scalars(select(ContactList.rows_read).where(ContactList.name == "used")).one() == 10


def test_nul_and_undecodable_bytes_late_in_the_file_reject_their_rows(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    head = "Лицевой счёт;ФИО;Группа;Телефон\r\n".encode() + b"".join(
        f"{i};Клиент {i};1;8927111{i:04d}\r\n".encode() for i in range(1, 2000))  # past the 64 KB sample
    path.write_bytes(head + b"5000;Nul\x00name;1;89270005000\r\n5001;\xff\xfe;1;89270005001\r\n"
                     + "5002;Пётр;1;89270005002\r\n".encode())
    report = import_list(rt, path, "late")
    assert (report.rows_read, report.imported, report.rejected) == (2002, 2000, 2)
    assert {"5000", "5001"}.isdisjoint(_accounts(rt, report.list_id))
    reasons = {reason for n, kind, _, reason in _report_entries(rt, report.list_id) if kind == "rejected"}
    assert reasons == {"символ NUL", "байты, недопустимые в кодировке utf-8"}


def test_long_names_fit_the_columns_on_every_backend(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / ("billing_export_" * 16 + ".csv")  # a 244-character file name
    path.write_text("Лицевой счёт;ФИО;Группа;Телефон\n1;Иванов;1;89271112233\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="name of 1 to 200"):
        import_list(rt, path, "x" * 201)
    report = import_list(rt, path, "x" * 200)
    with rt.sessions() as s:
        ref = s.scalars(select(ContactPoint.source_ref)).one()
    assert len(ref) <= 200 and ref.endswith(":row 2") and report.imported == 1
