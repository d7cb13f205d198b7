"""Cell values of billing exports: amounts in kopecks, dates, customer groups, e-mails (AI-4)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoinform.importing.values import parse_date, parse_email, parse_group, parse_kopecks


@pytest.mark.parametrize(("text", "kopecks"), [
    ("1 234,56", 123456), ("1234.56", 123456), ("1 234", 123400), ("1\u00a0234,5", 123450),
    ("0,01", 1), ("-15,00", -1500), ("1.234,56", 123456), ("1,234.56", 123456), ("  7 ", 700),
    ("1\u202f000\u202f000", 100_000_000),
])
def test_amounts_become_integer_kopecks(text: str, kopecks: int) -> None:
    assert parse_kopecks(text) == kopecks


@pytest.mark.parametrize("text", ["", "-", "—", "  "])
def test_an_empty_amount_is_none(text: str) -> None:
    assert parse_kopecks(text) is None


@pytest.mark.parametrize("text", ["12,34,56", "сто", "1.234.56", "1,234", "12,345", "=1+1", "1e5",
                                  "89271234567000000"])
def test_bad_amounts_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="сумм"):  # Russian reasons (issue 9 item 3)
        parse_kopecks(text)


@given(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from([" ", "\u00a0", "", "\u202f"]),
       st.sampled_from([",", "."]), st.booleans())
def test_amount_round_trip_property(kopecks: int, thousands: str, decimal: str, whole: bool) -> None:
    rub, kop = divmod(abs(kopecks), 100)
    if whole:
        kop = 0
    text = ("-" if kopecks < 0 else "") + f"{rub:,}".replace(",", thousands)
    if not whole:
        text += f"{decimal}{kop:02d}"
    expected = rub * 100 + kop
    assert parse_kopecks(text) == (-expected if kopecks < 0 else expected)


@pytest.mark.parametrize(("text", "day"), [
    ("05.12.2026", date(2026, 12, 5)), ("5.1.2027", date(2027, 1, 5)), ("2026-12-05", date(2026, 12, 5)),
    ("05/12/2026", date(2026, 12, 5)), ("05.12.2026 0:00:00", date(2026, 12, 5)),
    ("2026-12-05T00:00:00", date(2026, 12, 5)),
])
def test_dates_day_first_or_iso(text: str, day: date) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["31.02.2026", "завтра", "12/31/2026", "2026.12.05"])
def test_bad_dates_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="дат"):
        parse_date(text)


@pytest.mark.parametrize(("text", "group"), [
    ("1", 1), ("4", 4), ("1.0", 1), ("население", 1), ("Население", 1), ("ИКУ", 2), ("ТСЖ", 2),
    ("прочие", 3), ("бюджет", 4), ("группа 3", 3), ("Group 2", 2),
])
def test_customer_groups_by_number_or_name(text: str, group: int) -> None:
    assert parse_group(text) == group


@pytest.mark.parametrize(("text", "group"), [
    ("Физическое лицо", 1), ("физ. лицо", 1), ("ФИЗ.ЛИЦО", 1), ("физлица", 1), ("население", 1),
    ("граждане-потребители", 1), ("1 группа", 1), ("1-я группа", 1), ("гр. 1", 1), ("I", 1),
    ("Исполнитель коммунальных услуг", 2), ("управляющая компания", 2), ("УК", 2), ("II группа", 2),
    ("Юр. лицо", 3), ("юридическое лицо", 3), ("ЮЛ", 3), ("индивидуальный предприниматель", 3), ("ИП", 3),
    ("бюджет", 4), ("Бюджетная организация", 4), ("бюджетное учреждение", 4), ("4.0", 4), ("IV", 4),
])
def test_group_wordings_billing_systems_use(text: str, group: int) -> None:
    """Issue 9 item 3, AI-4: the names and abbreviations of the 4 groups of clause 3 are accepted."""
    assert parse_group(text) == group


@pytest.mark.parametrize("text", ["0", "5", "", "физ", "1,5", "40", "10", "группа", "лицо"])
def test_bad_groups_raise(text: str) -> None:
    with pytest.raises(ValueError, match="групп"):  # the reason in Russian, naming the groups
        parse_group(text)


@pytest.mark.parametrize(("text", "email"), [
    ("Ivan.Petrov@Example.COM", "Ivan.Petrov@example.com"), (" a+b@mail.example.org ", "a+b@mail.example.org"),
    ("mailto:x@example.net", "x@example.net"), ("почта@пример.рф", None),
])
def test_emails_validated_domain_lower_cased(text: str, email: str | None) -> None:
    if email is None:  # non-ASCII local parts are not accepted by most SMTP servers here
        with pytest.raises(ValueError):
            parse_email(text)
    else:
        assert parse_email(text) == email


@pytest.mark.parametrize("text", ["ivanov", "ivanov@", "@example.com", "a@b", "a@@example.com",
                                  "a b@example.com", "a@example..com", "a@-example.com", "a@example.c0m",
                                  "x" * 65 + "@example.com", "a@" + "b" * 260 + ".com"])
def test_bad_emails_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_email(text)
