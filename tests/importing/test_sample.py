"""The synthetic export generator: deterministic, realistic, and honest about its bad rows."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest

from autoinform.divisions import DIVISIONS
from autoinform.importing.phones import PhoneError, normalise
from autoinform.importing.values import parse_group
from autoinform.sample import BAD_PHONES, EMAIL_DOMAINS, SampleSpec, generate, write_csv


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    spec = SampleSpec(rows=200, seed=42)
    write_csv(tmp_path / "a.csv", spec)
    write_csv(tmp_path / "b.csv", spec)
    write_csv(tmp_path / "c.csv", SampleSpec(rows=200, seed=43))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_every_group_and_division_appears() -> None:
    rows = [r for r in generate(SampleSpec(rows=3000, seed=1, bad_share=0.0)) if r.expect == "imported"]
    assert {parse_group(r.group) for r in rows} == {1, 2, 3, 4}
    assert {r.division for r in rows} == {d.name for d in DIVISIONS}


def test_good_phones_valid_bad_phones_invalid_by_phonenumbers() -> None:
    for raw in BAD_PHONES:
        with pytest.raises(PhoneError):
            normalise(raw)
    landlines = 0
    for r in generate(SampleSpec(rows=1000, seed=2, bad_share=0.0)):
        for raw in filter(None, (r.phone, r.sms_phone)):
            number = phonenumbers.parse(raw, "RU")
            assert phonenumbers.is_valid_number(number), raw
            landlines += normalise(raw).line_type == "landline"
        if r.sms_phone:
            assert normalise(r.sms_phone).is_mobile
    assert landlines > 50  # +7 8512… contract landlines are in the mix


def test_emails_use_reserved_domains_only() -> None:
    emails = [r.email for r in generate(SampleSpec(rows=2000, seed=3)) if r.email]
    assert emails and all(e.rsplit("@", 1)[1] in EMAIL_DOMAINS for e in emails)


def test_bad_share_is_respected() -> None:
    rows = list(generate(SampleSpec(rows=5000, seed=4, bad_share=0.1)))
    bad = sum(r.expect == "rejected" or r.warned for r in rows)
    assert 350 < bad < 650
