"""Billing exports for the template tests: a header and rows of account, name, group, e-mail, debt."""

from __future__ import annotations

from pathlib import Path

HEADER = "Лицевой счёт;ФИО;Группа;E-mail;Сумма долга\r\n"


def rows(accounts: range, debt: str = "1234,56") -> str:
    return "".join(f"{900000 + a};Клиент {a};1;c{a}@example.ru;{debt}\r\n" for a in accounts)


BAD_ROW = ";Без счёта;1;nobody@example.ru;10,00\r\n"  # no account: rejected


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path
