"""`autoinform say`: how the IVR will speak a value, for scenario authors (AI-10).

Each command prints the Russian text and the prompt ids that will be played (`--json` for both
as one object). Bad input exits with code 2 and says what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from enum import StrEnum

import typer

from autoinform.cli.common import EXIT_USAGE, fail, print_json
from ivr import say
from ivr.say import Speech, SpeechError

app = typer.Typer(help="Russian speech of numbers, money, dates (AI-10).", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print {text, prompts} as JSON.")
# `say money -5`: a leading minus is a negative value, not an unknown option (issue 9 item 4).
# An option that really is unknown (a typo) still fails, as an unexpected extra argument.
SIGNED = {"ignore_unknown_options": True}


class GenderOpt(StrEnum):
    m = "m"
    f = "f"
    n = "n"


_MONEY_RE = re.compile(r"(-?)(\d+)(?:[.,](\d{1,2}))?")


def parse_money(value: str) -> int:
    """Roubles as written by people: "1234,56", "1 234.56", "1234" -> kopecks."""
    compact = re.sub(r"[\s\u00a0\u202f]", "", value)
    match = _MONEY_RE.fullmatch(compact)
    if not match:
        raise ValueError(f"not an amount in roubles: {value!r} (examples: 1234,56  1 234.56  1234)")
    sign, rubles, kopecks = match.groups()
    total = int(rubles) * 100 + int((kopecks or "0").ljust(2, "0"))
    return -total if sign else total


def parse_integer(value: str) -> int:
    compact = re.sub(r"[\s\u00a0\u202f]", "", value)
    if not re.fullmatch(r"-?\d+", compact):
        raise ValueError(f"not a whole number: {value!r}")
    return int(compact)


def parse_date(value: str) -> dt.date:
    """ISO 2026-12-05 or Russian 05.12.2026."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {value!r} (use 2026-12-05 or 05.12.2026)")


def parse_time(value: str) -> dt.time:
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", value.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"not a time of day: {value!r} (use 10:00 or 20:05)")
    return dt.time(int(match[1]), int(match[2]))


def _show(speech: Speech, as_json: bool) -> None:
    if as_json:
        print_json({"text": speech.text, "prompts": list(speech.prompts)})
    else:
        typer.echo(speech.text)
        typer.echo(" ".join(speech.prompts))


def _run(make: Callable[[str], Speech], value: str, as_json: bool) -> None:
    try:
        speech = make(value)
    except (ValueError, SpeechError) as exc:  # SpeechError is a ValueError; named for the reader
        fail(str(exc), EXIT_USAGE)
    _show(speech, as_json)


@app.command(context_settings=SIGNED)
def money(value: str = typer.Argument(..., help="Roubles: 1234,56  1 234.56  1234"),
          zero_kopecks: bool = typer.Option(False, "--zero-kopecks", help="Say 'ноль копеек'."),
          as_json: bool = JsonOpt) -> None:
    """An amount in roubles and kopecks."""
    _run(lambda v: say.money(parse_money(v), zero_kopecks=zero_kopecks), value, as_json)


@app.command(context_settings=SIGNED)
def number(value: str, gender: GenderOpt = typer.Option(GenderOpt.m, "--gender", help="m, f or n"),
           as_json: bool = JsonOpt) -> None:
    """A whole number agreeing with a noun of the given gender."""
    _run(lambda v: say.number(parse_integer(v), gender.value), value, as_json)


@app.command(context_settings=SIGNED)
def kwh(value: str, as_json: bool = JsonOpt) -> None:
    """A quantity of kilowatt-hours."""
    _run(lambda v: say.kwh(parse_integer(v)), value, as_json)


@app.command(context_settings=SIGNED)
def quantity(value: str, unit: str = typer.Option(..., "--unit", help=", ".join(say.UNITS)),
             as_json: bool = JsonOpt) -> None:
    """A number with an agreeing unit."""
    _run(lambda v: say.quantity(parse_integer(v), unit), value, as_json)


@app.command()
def date(value: str = typer.Argument(..., help="2026-12-05 or 05.12.2026"),
         no_year: bool = typer.Option(False, "--no-year", help="Short form: 'пятое декабря'."),
         as_json: bool = JsonOpt) -> None:
    """A date: day, month and year."""
    _run(lambda v: say.date(parse_date(v), year=not no_year), value, as_json)


@app.command("time")
def time_(value: str = typer.Argument(..., help="10:00 or 20:05"),
          no_zero_minutes: bool = typer.Option(False, "--no-zero-minutes",
                                               help="Say 'десять часов' rather than '… ноль минут'."),
          as_json: bool = JsonOpt) -> None:
    """A time of day in hours and minutes."""
    _run(lambda v: say.time_of_day(parse_time(v), zero_minutes=not no_zero_minutes), value, as_json)


@app.command()
def digits(value: str, as_json: bool = JsonOpt) -> None:
    """Digit by digit (account and meter numbers)."""
    _run(say.digits, value, as_json)


@app.command()
def phone(value: str, as_json: bool = JsonOpt) -> None:
    """A phone number read in groups: 8 800 123 45 67."""
    _run(say.phone, value, as_json)
