"""Synthetic billing exports for demos, tests and benchmarks: realistic, deterministic, never real.

Names, addresses in Astrakhan oblast localities, all four customer groups and fifteen divisions,
debts, due dates, contract phones (mobiles and +7 8512… landlines), voluntary mobiles and e-mails on
reserved domains (example.com/.net/.org). A share of rows is deliberately bad, and every row knows
what the importer must make of it (`SampleRow.expect`), so tests can check the exact outcome.
Rows are generated one at a time: a million-row file is written without holding it.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from autoinform.divisions import DIVISIONS

HEADERS = ("Лицевой счёт", "ФИО/Наименование", "Группа", "РОС", "Адрес", "Телефон",
           "Мобильный для SMS", "E-mail", "Сумма долга", "Дата оплаты", "Период")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
BASE_DATE = date(2026, 12, 1)

BadKind = Literal["phone_with_other_contact", "phone_only", "amount", "account", "group", "date"]
BAD_KINDS: tuple[BadKind, ...] = ("phone_with_other_contact", "phone_only", "amount", "account", "group",
                                  "date")
PHONE_BAD_KINDS: tuple[BadKind, ...] = ("phone_with_other_contact", "phone_only")
# Invalid by phonenumbers (tests/importing/test_sample.py checks): the +7 930 0… range a naive regex
# accepts, too short, a bare local number, words.
BAD_PHONES = ("+7 930 000 12 34", "8 (930) 001-23-45", "8 (8512) 12-34", "123-45-67", "нет",
              "+7 999 12", "8 (000) 123-45-67")

_MALE = ("Иван", "Пётр", "Сергей", "Алексей", "Николай", "Дмитрий", "Андрей", "Михаил", "Владимир",
         "Рустам", "Артур", "Олег", "Юрий", "Геннадий", "Тимур")
_FEMALE = ("Анна", "Мария", "Елена", "Ольга", "Татьяна", "Наталья", "Светлана", "Ирина", "Гульнара",
           "Людмила", "Галина", "Валентина", "Алия", "Екатерина", "Юлия")
_SURNAMES = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Волков", "Соколов",
             "Лебедев", "Козлов", "Новиков", "Морозов", "Бекмуханов", "Утегенов", "Алиев", "Захаров",
             "Белов", "Ершов", "Фёдоров", "Журавлёв", "Комаров", "Тарасов", "Калинин", "Сорокин")
_PATRONYMS_M = ("Иванович", "Петрович", "Сергеевич", "Алексеевич", "Николаевич", "Рашидович",
                "Владимирович", "Юрьевич")
_PATRONYMS_F = ("Ивановна", "Петровна", "Сергеевна", "Алексеевна", "Николаевна", "Рашидовна",
                "Владимировна", "Юрьевна")
_STREETS = ("ул. Ленина", "ул. Советская", "ул. Молодёжная", "ул. Набережная", "ул. Школьная",
            "ул. Победы", "ул. Садовая", "пер. Рыбацкий", "ул. Мира", "ул. Гагарина", "ул. Кирова")
# Localities served by each division (Table 1 and the districts around them).
_LOCALITIES: dict[str, tuple[str, ...]] = {
    "central": ("г. Астрахань",),
    "harabali": ("г. Харабали", "с. Селитренное", "с. Тамбовка"),
    "krasnyi-yar": ("с. Красный Яр", "с. Сеитовка", "с. Забузан"),
    "volodarsky": ("п. Володарский", "с. Тумак", "с. Козлово"),
    "liman": ("п. Лиман", "с. Олья", "с. Камышово"),
    "kamyzyak": ("г. Камызяк", "с. Каралат", "п. Кировский"),
    "ikryanoe": ("с. Икряное", "с. Житное", "п. Ильинка"),
    "privolzhsky": ("с. Началово", "с. Растопуловка", "п. Пойменный"),
    "narimanov": ("г. Нариманов", "с. Солянка", "п. Трудфронт"),
    "akhtubinsk": ("г. Ахтубинск", "с. Пологое Займище", "п. Верхний Баскунчак"),
    "kapustin-yar": ("с. Капустин Яр", "г. Знаменск"),
    "enotaevka": ("с. Енотаевка", "с. Никольское", "с. Ветлянка"),
    "cherny-yar": ("с. Чёрный Яр", "с. Солодники", "с. Зубовка"),
    "central-point": ("г. Астрахань",),
    "trusovo-point": ("г. Астрахань",),
}
_ORG_NAMES = ("Рассвет", "Волга", "Каспий", "Лотос", "Дельта", "Надежда", "Южный", "Сазан", "Бахча",
              "Берёзка", "Прогресс", "Меридиан")
_MONTHS = ("ноябрь 2026", "октябрь 2026")
_TRANSLIT = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
                           "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
                           "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts",
                           "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e",
                           "ю": "yu", "я": "ya"})


@dataclass(frozen=True)
class SampleSpec:
    rows: int = 1000
    seed: int = 1
    bad_share: float = 0.05
    duplicate_share: float = 0.0  # rows repeating an earlier account (merged on import)
    bad_kinds: tuple[BadKind, ...] = BAD_KINDS


@dataclass(frozen=True)
class SampleRow:
    account: str
    name: str
    group: str
    division: str
    address: str
    phone: str
    sms_phone: str
    email: str
    debt_kopecks: int | None
    debt_text: str
    due: date | None
    due_text: str
    period: str
    expect: Literal["imported", "merged", "rejected"]
    warned: bool = False  # imported, with a field reported as a warning

    def cells(self) -> list[str]:
        return [self.account, self.name, self.group, self.division, self.address, self.phone,
                self.sms_phone, self.email, self.debt_text, self.due_text, self.period]


def _amount_text(kopecks: int, rng: random.Random) -> str:
    rub, kop = divmod(kopecks, 100)
    grouped = f"{rub:,}".replace(",", rng.choice((" ", "\u00a0", "")))
    return f"{grouped},{kop:02d}" if kop or rng.random() < 0.5 else grouped


def _mobile(rng: random.Random) -> str:
    # 9[0-24-9] + 8 digits is mobile in every phonenumbers release; 93x has unassigned ranges.
    return f"9{rng.choice('01245689')}{rng.randrange(10**8):08d}"


def _landline(rng: random.Random) -> str:
    return f"851{rng.randrange(10**7):07d}"  # Astrakhan oblast codes 8512, 8514x…


def _spell(national: str, rng: random.Random) -> str:
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    if national.startswith("851"):  # 4-digit area code
        a, b = national[:4], national[4:6]
    return rng.choice((f"8 ({a}) {b}-{c}-{d}", f"+7 {a} {b} {c} {d}", f"8{national}", f"+7{national}",
                       f"8-{a}-{b}-{c}-{d}", f"7 ({a}) {b}{c}{d}"))


def _person(rng: random.Random) -> tuple[str, str]:
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.5:
        return f"{surname} {rng.choice(_MALE)} {rng.choice(_PATRONYMS_M)}", surname
    return f"{surname}а {rng.choice(_FEMALE)} {rng.choice(_PATRONYMS_F)}", surname + "a"


def _customer_name(group: int, rng: random.Random) -> tuple[str, str]:
    if group == 1:
        return _person(rng)
    org = rng.choice(_ORG_NAMES)
    if group == 2:
        return rng.choice((f"ТСЖ «{org}»", f"ООО УК «{org}»", f"ЖСК «{org}-{rng.randrange(1, 40)}»")), org
    if group == 3:
        if rng.random() < 0.4:
            person, surname = _person(rng)
            return f"ИП {person}", surname
        return rng.choice((f"ООО «{org}»", f"АО «{org}»", f"ООО «Агрофирма {org}»")), org
    return rng.choice((f"МБОУ «СОШ № {rng.randrange(1, 60)}»", f"ГБУЗ АО «{org} ЦРБ»",
                       f"МБДОУ «Детский сад № {rng.randrange(1, 150)}»", f"Администрация МО «{org}»")), org


def generate(spec: SampleSpec) -> Iterator[SampleRow]:
    """The rows of a synthetic export, one at a time, the same for the same spec."""
    rng = random.Random(spec.seed)
    divisions = [(d.code, d.name) for d in DIVISIONS]
    recent: list[str] = []  # a window of earlier accounts to duplicate
    for i in range(spec.rows):
        if recent and rng.random() < spec.duplicate_share:
            yield _duplicate(rng.choice(recent), rng)
            continue
        account = f"30{spec.seed % 100:02d}{i:08d}"
        bad: BadKind | None = rng.choice(spec.bad_kinds) if rng.random() < spec.bad_share else None
        row = _row(account, bad, rng, divisions)
        if row.expect == "imported":  # only an imported account can be merged into
            if len(recent) < 1000:
                recent.append(account)
            else:
                recent[rng.randrange(1000)] = account
        yield row


def _row(account: str, bad: BadKind | None, rng: random.Random,
         divisions: list[tuple[str, str]]) -> SampleRow:
    group = rng.choices((1, 2, 3, 4), weights=(85, 3, 10, 2))[0]
    name, latin = _customer_name(group, rng)
    code, division = rng.choice(divisions)
    locality = rng.choice(_LOCALITIES[code])
    address = f"{locality}, {rng.choice(_STREETS)}, д. {rng.randrange(1, 120)}"
    if group == 1 and rng.random() < 0.4:
        address += f", кв. {rng.randrange(1, 200)}"
    contract = _landline(rng) if (group > 1 and rng.random() < 0.6) or rng.random() < 0.2 else _mobile(rng)
    phone = _spell(contract, rng) if rng.random() < 0.95 else ""
    sms = _spell(_mobile(rng), rng) if rng.random() < 0.4 else ""
    email = ""
    if rng.random() < 0.25:
        email = f"{latin.lower().translate(_TRANSLIT)}{rng.randrange(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
    if not (phone or sms or email):  # good rows always have a way to reach the customer
        phone = _spell(contract, rng)
    kopecks = rng.randrange(10_000, 2_000_000 if group == 1 else 50_000_000)
    debt_text = _amount_text(kopecks, rng)
    due_day = BASE_DATE + timedelta(days=rng.randrange(0, 30))
    due: date | None = due_day
    due_text = due_day.strftime("%d.%m.%Y")
    group_text = str(group) if rng.random() < 0.9 else ("население", "ИКУ", "прочие", "бюджет")[group - 1]
    expect: Literal["imported", "rejected"] = "imported"
    warned = False
    if bad == "phone_with_other_contact":
        phone, email = rng.choice(BAD_PHONES), email or f"client{rng.randrange(10**6)}@example.org"
        warned = True
    elif bad == "phone_only":
        phone, sms, email = rng.choice(BAD_PHONES), "", ""
        expect = "rejected"
    elif bad == "amount":
        debt_text, expect = rng.choice(("12,34,56", "сто рублей", "1.234.56")), "rejected"
    elif bad == "account":
        account, expect = rng.choice(("", "№ 12 34")), "rejected"
    elif bad == "group":
        group_text, expect = rng.choice(("7", "", "физ")), "rejected"
    elif bad == "date":
        due, due_text, expect = None, rng.choice(("31.02.2026", "завтра")), "rejected"
    return SampleRow(account, name, group_text, division, address, phone, sms, email,
                     kopecks if expect == "imported" else None, debt_text, due, due_text,
                     rng.choice(_MONTHS), expect, warned)


def _duplicate(account: str, rng: random.Random) -> SampleRow:
    """The same account again, with one more voluntary contact: merged on import."""
    return SampleRow(account, "Дубликат строки", "1", "", "", "", _spell(_mobile(rng), rng), "",
                     None, "", None, "", "", "merged", warned=True)


def write_csv(path: Path, spec: SampleSpec, *, encoding: str = "cp1251", delimiter: str = ";") -> int:
    """Write a CSV export as billing systems do (CP1251, `;`, Russian headers); returns the rows."""
    n = 0
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator="\r\n")
        w.writerow(HEADERS)
        for row in generate(spec):
            w.writerow(row.cells())
            n += 1
    return n


def write_xlsx(path: Path, spec: SampleSpec) -> int:
    """Write an XLSX export (write-only mode streams rows to disk); debts as numbers, dates as dates."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Должники")
    ws.append(list(HEADERS))
    n = 0
    for row in generate(spec):
        cells: list[object] = list(row.cells())
        if row.debt_kopecks is not None:
            cells[8] = row.debt_kopecks / 100
        if row.due is not None:
            cells[9] = row.due
        ws.append(cells)
        n += 1
    wb.save(path)
    return n


def write_sample(path: Path, spec: SampleSpec, *, fmt: str = "csv", encoding: str = "cp1251") -> int:
    if fmt == "xlsx":
        return write_xlsx(path, spec)
    if fmt == "csv":
        return write_csv(path, spec, encoding=encoding)
    raise ValueError(f"unknown sample format {fmt!r}: csv or xlsx")
