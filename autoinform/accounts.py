"""The personal account number ("лицевой счёт") as every input takes it: list import, stop list,
and later the hotline keypad. One syntax, so an account one of them accepts the others accept too.

Pure: no I/O.
"""

from __future__ import annotations

import re

ACCOUNT_MAX = 32  # Customer.account, StopEntry.account
# Billing systems write accounts with letters, digits and the separators - / _ . ("12/345",
# "АБ-1002"); the first character is a letter or a digit.
_ACCOUNT = re.compile(rf"[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё/_.-]{{0,{ACCOUNT_MAX - 1}}}")
ACCOUNT_RULE = f"letters, digits, - / _ . up to {ACCOUNT_MAX}"


def parse_account(text: str) -> str:
    """The account written in `text` (surrounding spaces ignored), or ValueError with the reason."""
    account = text.strip()
    if _ACCOUNT.fullmatch(account):
        return account
    raise ValueError("empty" if not account else f"not an account number ({ACCOUNT_RULE})")
