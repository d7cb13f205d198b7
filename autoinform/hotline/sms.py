"""Meter readings by SMS (HL-7): the message format and the answers, without I/O.

Accepted: `123456789012 04567` (one reading) or `123456789012 04567 01234` (day, then night), with
or without the word ПОКАЗАНИЯ in front, in any case, words separated by any spaces or line breaks.
The account follows the one account syntax (autoinform.accounts); readings are digits only (a
comma or point is refused rather than guessed: "4567,5" must not become a day/night pair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from autoinform.accounts import parse_account
from ivr.hotline.backend import ReadingRefusal, Register

KEYWORDS = frozenset({"показания", "показание", "pokazaniya", "pokazania"})
_WORD_SEP = re.compile(r"\s+")
_VALUE = re.compile(r"\d{1,10}")
FORMAT_HELP = ("Формат SMS: ПОКАЗАНИЯ <лицевой счёт> <показание>, для двухтарифного счётчика "
               "<день> <ночь>. Например: ПОКАЗАНИЯ 123456789012 04567")


class SmsFormatError(ValueError):
    """The message is not a reading in the accepted format; the text says what is wrong."""


@dataclass(frozen=True)
class SmsReading:
    account: str
    values: dict[Register, int]


def parse_sms(body: str) -> SmsReading:
    words = [w for w in _WORD_SEP.split(body.strip()) if w]
    if words and words[0].rstrip(":.").casefold().replace("ё", "е") in KEYWORDS:
        words = words[1:]
    if not words:
        raise SmsFormatError("пустое сообщение")
    try:
        account = parse_account(words[0])
    except ValueError:
        raise SmsFormatError(f"не лицевой счёт: {words[0][:20]}") from None
    numbers = words[1:]
    if not numbers:
        raise SmsFormatError("нет показаний после лицевого счёта")
    if len(numbers) > 2:
        raise SmsFormatError("больше двух показаний")
    bad = next((n for n in numbers if not _VALUE.fullmatch(n)), None)
    if bad is not None:
        raise SmsFormatError(f"показание пишется только цифрами: {bad[:20]}")
    values = [int(n) for n in numbers]
    if len(values) == 1:
        return SmsReading(account, {Register.SINGLE: values[0]})
    return SmsReading(account, {Register.DAY: values[0], Register.NIGHT: values[1]})


def _values(values: dict[Register, int]) -> str:
    if Register.SINGLE in values:
        return str(values[Register.SINGLE])
    return f"день {values.get(Register.DAY, 0)}, ночь {values.get(Register.NIGHT, 0)}"


def accepted_text(reading: SmsReading) -> str:
    return f"Показания по л/с {reading.account} приняты: {_values(reading.values)}. Спасибо!"


def refusal_text(reading: SmsReading, refusal: ReadingRefusal, previous: dict[Register, int],
                 max_increase: int) -> str:
    head = f"Показания по л/с {reading.account} не приняты: "
    if refusal is ReadingRefusal.UNKNOWN_ACCOUNT:
        return f"Лицевой счёт {reading.account} не найден. Проверьте номер и отправьте SMS снова."
    if refusal is ReadingRefusal.BELOW_PREVIOUS:
        return head + f"меньше предыдущих ({_values(previous)}). Проверьте и отправьте снова."
    if refusal is ReadingRefusal.IMPLAUSIBLE:
        return head + (f"больше предыдущих ({_values(previous)}) более чем на {max_increase}. "
                       f"Проверьте и отправьте снова или позвоните на горячую линию.")
    if refusal is ReadingRefusal.WRONG_REGISTERS:
        if Register.SINGLE in reading.values:
            return head + "счётчик двухтарифный: отправьте два показания, день и ночь."
        return head + "счётчик однотарифный: отправьте одно показание."
    if refusal is ReadingRefusal.DUPLICATE:
        return f"Эти показания по л/с {reading.account} уже приняты сегодня."
    return head + refusal.value


def unknown_sender_text(account: str) -> str:
    return (f"Показания по л/с {account} не приняты: номер, с которого отправлено SMS, не указан у этого "
            f"лицевого счёта. Передайте показания по телефону горячей линии.")


def malformed_text(reason: str) -> str:
    return f"Не удалось прочитать показания ({reason}). {FORMAT_HELP}"


def twiml_message(text: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'
