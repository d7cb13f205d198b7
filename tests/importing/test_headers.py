"""Header aliases: Russian or English, case/ё/space/punctuation-insensitive; the rest free variables (AI-4)."""

from __future__ import annotations

import pytest

from autoinform.errors import ImportFileError
from autoinform.importing.headers import Field, header_key, header_notes, map_headers, match_field, variable_name


@pytest.mark.parametrize(("header", "field"), [
    ("Лицевой счёт", Field.ACCOUNT), ("ЛИЦЕВОЙ СЧЕТ", Field.ACCOUNT), ("л/с", Field.ACCOUNT),
    ("Л.С.", Field.ACCOUNT), ("Account", Field.ACCOUNT), ("ФИО", Field.NAME), ("Наименование", Field.NAME),
    ("ФИО / Наименование", Field.NAME), ("name", Field.NAME), ("Группа", Field.GROUP),
    ("РОС", Field.DIVISION), ("Подразделение", Field.DIVISION), ("Адрес", Field.ADDRESS),
    ("Телефон", Field.PHONE), ("phone", Field.PHONE), ("Мобильный", Field.SMS_PHONE),
    ("Телефон для SMS", Field.SMS_PHONE), ("sms_phone", Field.SMS_PHONE), ("E-mail", Field.EMAIL),
    ("Электронная почта", Field.EMAIL), ("email", Field.EMAIL), ("Сумма долга", Field.DEBT),
    ("Задолженность", Field.DEBT), ("debt", Field.DEBT), ("Дата оплаты", Field.DUE_DATE),
    ("due_date", Field.DUE_DATE), ("  сумма   долга ", Field.DEBT),
])
def test_aliases(header: str, field: Field) -> None:
    assert match_field(header) is field


def test_key_ignores_case_yo_spaces_punctuation() -> None:
    assert header_key("Лицевой  счёт.") == header_key("лицевой счет") == "лицевойсчет"


def test_unknown_columns_become_free_variables_named_by_header() -> None:
    m = map_headers("f.csv", ["Л/С", "ФИО", "Группа", "Телефон", "Период (месяц)", "Дата отключения", "",
                              "debt2"])
    assert m.fields == {Field.ACCOUNT: 0, Field.NAME: 1, Field.GROUP: 2, Field.PHONE: 3}
    assert m.variables == {"период_месяц": 4, "outage_date": 5, "debt2": 7}
    assert m.ignored == [6]
    assert variable_name("Показания, кВт·ч") == "показания_квт_ч"


@pytest.mark.parametrize(("headers", "reason"), [
    (["ФИО", "Группа", "Телефон"], "missing required column"),
    (["Л/С", "ФИО", "Телефон"], "missing required column(s): 'Группа' (or: группа потребителей"),
    (["Л/С", "ФИО", "Группа", "Адрес"], "no contact column"),
    (["Л/С", "ФИО", "Группа", "Телефон", "ТЕЛЕФОН"], "duplicated header"),
    (["Л/С", "ФИО", "Группа", "Телефон", "phone"], "both name the column 'Телефон'"),
    (["Л/С", "ФИО", "Группа", "Телефон", "Примечание", "примечание!"], "duplicated header"),
])
def test_header_errors_are_file_errors(headers: list[str], reason: str) -> None:
    with pytest.raises(ImportFileError) as err:
        map_headers("f.csv", headers)
    assert reason in err.value.reason


@pytest.mark.parametrize(("header", "field"), [
    ("Лиц. счёт", Field.ACCOUNT), ("Номер ЛС", Field.ACCOUNT), ("Ф.И.О.", Field.NAME),
    ("Наименование абонента", Field.NAME), ("Категория потребителя", Field.GROUP), ("Тел.", Field.PHONE),
    ("Номер телефона", Field.PHONE), ("Сотовый", Field.SMS_PHONE), ("Номер для СМС", Field.SMS_PHONE),
    ("E-mail", Field.EMAIL), ("Долг, руб.", Field.DEBT), ("Срок оплаты", Field.DUE_DATE),
])
def test_header_aliases_of_billing_exports(header: str, field: Field) -> None:
    """Issue 9 item 3, AI-4: the aliases docs/lists.md lists name their fields."""
    assert match_field(header) is field


def test_missing_group_is_named_in_the_files_words() -> None:
    """Issue 9 item 3: a missing required column is named `Группа`, not `group`, with its aliases."""
    with pytest.raises(ImportFileError) as err:
        map_headers("f.csv", ["Лицевой счёт", "ФИО", "Телефон"])
    assert "'Группа'" in err.value.reason and "group," not in err.value.reason
    assert "docs/lists.md" in err.value.reason


def test_a_plain_phone_column_is_the_contract_phone_and_says_so() -> None:
    """Issue 9 item 3, AI-11: `Телефон` without a mobile column: a note that no SMS contacts exist."""
    notes = header_notes(map_headers("f.csv", ["Л/С", "ФИО", "Группа", "Телефон"]))
    assert [c for c, _ in notes] == ["Телефон"]
    assert "телефон по договору" in notes[0][1] and "SMS-контактов в этом списке нет" in notes[0][1]
    assert header_notes(map_headers("f.csv", ["Л/С", "ФИО", "Группа", "Телефон", "Мобильный"])) == []
