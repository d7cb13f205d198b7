"""The scenario template syntax and typed values (AI-3, AI-16)."""

from __future__ import annotations

from datetime import date, time

import pytest

from autoinform.scenarios.template import Placeholder, Template, TemplateSyntaxError
from autoinform.scenarios.values import Unit, VarType, coerce, format_text


def test_placeholders_literals_and_escaped_braces() -> None:
    t = Template.parse("Долг {debt} на {due:long} {{не поле}}")
    assert t.placeholders == (Placeholder("debt"), Placeholder("due", "long"))
    assert t.render(lambda ph: f"<{ph.name}>") == "Долг <debt> на <due> {не поле}"


def test_repeated_placeholders_and_values_with_braces() -> None:
    """A value is asked for once per distinct placeholder and goes in verbatim, braces and all."""
    asked: list[Placeholder] = []

    def value_of(ph: Placeholder) -> str:
        asked.append(ph)
        return "{0} {name}" if ph.fmt is None else "long"

    t = Template.parse("{name}, {name}: {name:long} }}}}")
    assert t.render(value_of) == "{0} {name}, {0} {name}: long }}"
    assert asked == [Placeholder("name"), Placeholder("name", "long")]


@pytest.mark.parametrize(("source", "column"), [
    ("Долг {debt", 6),
    ("Долг debt}", 10),
    ("Долг {Debt}", 6),
    ("Долг {debt:}", 6),
    ("{debt.amount}", 1),
    ("{}", 1),
])
def test_bad_templates_name_the_column(source: str, column: int) -> None:
    with pytest.raises(TemplateSyntaxError) as exc:
        Template.parse(source)
    assert exc.value.column == column


@pytest.mark.parametrize(("raw", "kopecks"), [
    (123456, 123456),  # int: kopecks, as lists store money
    ("1 234,56", 123456),
    ("1\u00a0234.5", 123450),
    ("1234", 123400),
    ("0,01", 1),
    (1234.56, 123456),
])
def test_money_from_lists_and_command_line(raw: object, kopecks: int) -> None:
    assert coerce(VarType.MONEY, raw) == kopecks


@pytest.mark.parametrize("raw", ["12,345", "abc", "1.2.3", -5, "-1,00", True, None, ""])
def test_bad_money_is_an_error(raw: object) -> None:
    with pytest.raises(ValueError):
        coerce(VarType.MONEY, raw)


def test_dates_times_integers_phones_text() -> None:
    assert coerce(VarType.DATE, "2026-12-05") == date(2026, 12, 5)
    assert coerce(VarType.DATE, "05.12.2026") == date(2026, 12, 5)
    assert coerce(VarType.DATE, date(2026, 12, 5)) == date(2026, 12, 5)
    assert coerce(VarType.TIME, "9:30") == time(9, 30)
    assert coerce(VarType.INTEGER, "1 234") == 1234
    assert coerce(VarType.PHONE, "8 (8512) 12-34-56") == "+78512123456"
    assert coerce(VarType.TEXT, 300012345) == "300012345"
    for vtype, raw in [(VarType.DATE, "31.02.2026"), (VarType.DATE, "завтра"), (VarType.TIME, "25:00"),
                       (VarType.INTEGER, "1,5"), (VarType.PHONE, "12"), (VarType.TEXT, "a\x00b")]:
        with pytest.raises(ValueError):
            coerce(vtype, raw)
    with pytest.raises(ValueError, match="max_length"):
        coerce(VarType.TEXT, "слишком длинно", max_length=5)


def test_text_formats() -> None:
    assert format_text(VarType.MONEY, 123456) == "1 234 руб. 56 коп."
    assert format_text(VarType.MONEY, 5) == "0 руб. 05 коп."
    assert format_text(VarType.MONEY, 100000000, "number") == "1 000 000,00"
    assert format_text(VarType.DATE, date(2026, 12, 5)) == "05.12.2026"
    assert format_text(VarType.DATE, date(2026, 12, 5), "long") == "5 декабря 2026 года"
    assert format_text(VarType.TIME, time(9, 0)) == "09:00"
    assert format_text(VarType.QUANTITY, 3, unit=Unit.DAY) == "3 дня"
    assert format_text(VarType.QUANTITY, 11, unit=Unit.DAY) == "11 дней"
    assert format_text(VarType.QUANTITY, 21, unit=Unit.MINUTE) == "21 минута"
    assert format_text(VarType.QUANTITY, 150, unit=Unit.KWH) == "150 кВт·ч"
    assert format_text(VarType.PHONE, "+78512123456") == "8 (851) 212-34-56"
    assert format_text(VarType.PHONE, "+78512123456", "e164") == "+78512123456"
