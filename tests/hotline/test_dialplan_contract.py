"""The production dialplan's operator hand-off (docs/asterisk/extensions.conf; HL-4, HL-5, HL-11):
the caller waits at most the 40 s target, the queue lets the caller back for the survey when the
operator hangs up first (`c`), and the flow gets the queue's status. The real-Asterisk tests run
these contexts with a shorter wait, so the production value is pinned here."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DIALPLAN = (ROOT / "docs" / "asterisk" / "extensions.conf").read_text(encoding="utf-8")


def _context(name: str) -> str:
    return DIALPLAN.split(f"[{name}]", 1)[1].split("\n[", 1)[0]


def test_operator_wait_is_the_40_s_target() -> None:
    assert re.search(r"^AUTOINFORM_OPERATOR_WAIT = 40\b", DIALPLAN, re.M)


def test_the_queue_waits_that_long_continues_and_returns_to_the_flow() -> None:
    operator = _context("autoinform-operator")
    assert "Queue(${AUTOINFORM_OPERATORS},tc,,,${AUTOINFORM_OPERATOR_WAIT})" in operator
    assert "AGI(${AUTOINFORM_AGI}/hotline?after=operator&queue=${QUEUESTATUS})" in operator
    hotline = _context("autoinform-hotline")
    assert '$["${AUTOINFORM_NEXT}" = "operator"]?autoinform-operator,s,1' in hotline
