"""Fixtures for list import tests: the committed corpus and the big cases generated into tmp."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from autoinform.sample import HEADERS, PHONE_BAD_KINDS, SampleRow, SampleSpec, generate

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "lists"
BIG_FIELD = 10 * 1024 * 1024
BAD_PHONES_SPEC = SampleSpec(rows=100_000, seed=5, bad_share=0.05, bad_kinds=PHONE_BAD_KINDS)


@pytest.fixture
def corpus() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def big_field_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three good rows around one with a 10 MB address cell (one physical line)."""
    path = tmp_path_factory.mktemp("big") / "big_field.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("Лицевой счёт;ФИО;Группа;Адрес;Телефон\r\n")
        f.write("1;Иванов Иван;1;г. Астрахань;89271112233\r\n")
        f.write("2;Петров Пётр;1;")
        chunk = "А" * (1024 * 1024)
        for _ in range(BIG_FIELD // len(chunk)):
            f.write(chunk)
        f.write(";89271112234\r\n")
        f.write("3;Сидоров Сидор;1;г. Астрахань;89271112235\r\n")
        f.write('4;"Кузнецов ' + "Б" * 200_000 + '";1;г. Астрахань;89271112236\r\n')  # a long quoted cell
        f.write("5;Смирнов;1;г. Астрахань;89271112237\r\n")
    return path


@pytest.fixture(scope="session")
def bad_phones_100k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleRow]]:
    """100,000 generated rows, 5% with bad phones, and what the importer must make of each."""
    path = tmp_path_factory.mktemp("bad_phones") / "bad_phones_100k.csv"
    rows = list(generate(BAD_PHONES_SPEC))
    with path.open("w", encoding="cp1251", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\r\n")
        w.writerow(HEADERS)
        w.writerows(r.cells() for r in rows)
    return path, rows
