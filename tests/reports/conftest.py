"""Report fixtures: a migrated database (both backends) with users and two seeded campaigns."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from autoinform.runtime import Runtime
from tests.reports.seed import CAMPAIGN_A, CAMPAIGN_B, seed, users


@dataclass(frozen=True)
class Seeded:
    rt: Runtime
    a: int
    b: int


@pytest.fixture
def seeded(rt: Runtime) -> Seeded:
    users(rt)
    a = seed(rt, "Долг декабрь", CAMPAIGN_A, first_account=100001, evil_first=True)
    # "$…$" would be TeX to matplotlib, a control character illegal in XLSX: both are just text here.
    b = seed(rt, "Долг неделя 2 $\\bad$", CAMPAIGN_B, first_account=200001, odd_first=True)
    return Seeded(rt, a, b)
