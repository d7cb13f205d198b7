"""Header aliases: Russian or English, case/ё/space/punctuation-insensitive; the rest free variables (AI-4)."""

from __future__ import annotations

import pytest

from autoinform.errors import ImportFileError
from autoinform.importing.headers import Field, header_key, map_headers, match_field, variable_name


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
    (["Л/С", "ФИО", "Телефон"], "missing required column(s): group"),
    (["Л/С", "ФИО", "Группа", "Адрес"], "no contact column"),
    (["Л/С", "ФИО", "Группа", "Телефон", "ТЕЛЕФОН"], "duplicated header"),
    (["Л/С", "ФИО", "Группа", "Телефон", "phone"], "both name the phone"),
    (["Л/С", "ФИО", "Группа", "Телефон", "Примечание", "примечание!"], "duplicated header"),
])
def test_header_errors_are_file_errors(headers: list[str], reason: str) -> None:
    with pytest.raises(ImportFileError) as err:
        map_headers("f.csv", headers)
    assert reason in err.value.reason
