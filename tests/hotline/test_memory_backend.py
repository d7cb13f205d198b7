"""The memory backend's reception hours (HL-2): the clock decides the branch the flow takes."""

from __future__ import annotations

from datetime import datetime

from tests.hotline.memory_backend import AST, MemoryBackend


def test_reception_by_the_clock(backend: MemoryBackend) -> None:
    wed = datetime(2026, 12, 2, 19, 59, tzinfo=AST)
    assert backend.reception(wed).open
    assert backend.reception(wed).closes_at == datetime(2026, 12, 2, 20, 0, tzinfo=AST)
    late = backend.reception(datetime(2026, 12, 2, 20, 1, tzinfo=AST))
    assert not late.open and late.opens_at == datetime(2026, 12, 3, 8, 0, tzinfo=AST)
    sunday = backend.reception(datetime(2026, 12, 6, 12, 0, tzinfo=AST))
    assert not sunday.open and sunday.opens_at == datetime(2026, 12, 7, 8, 0, tzinfo=AST)
    # 4 November (Unity Day) 2026 is a Wednesday: closed, opens the next morning
    holiday = backend.reception(datetime(2026, 11, 4, 12, 0, tzinfo=AST))
    assert not holiday.open and holiday.opens_at == datetime(2026, 11, 5, 8, 0, tzinfo=AST)
    # New Year holidays: closed from 1 to 8 January 2027 (9 and 10 are Saturday and Sunday; Saturday open)
    assert backend.reception(datetime(2027, 1, 4, 12, 0, tzinfo=AST)).opens_at == datetime(2027, 1, 9, 8, 0, tzinfo=AST)
