"""Meter readings (HL-7) and feedback (HL-9) by SMS: the message formats and the answers, without I/O.

Accepted: `123456789012 04567` (one reading) or `123456789012 04567 01234` (day, then night), with
or without the word ПОКАЗАНИЯ in front, in any case, words separated by any spaces or line breaks.
A message that starts with ОТЗЫВ, ЖАЛОБА or ПРЕДЛОЖЕНИЕ is feedback, a complaint or a suggestion
(HL-9, clause 7.3): its text becomes a task with the standard's deadline, answered on the channel it
came by (7.6).

The account follows the one account syntax (autoinform.accounts); readings are digits only (a
comma or point is refused rather than guessed: "4567,5" must not become a day/night pair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from autoinform.accounts import parse_account
from ivr.hotline.backend import ReadingRefusal, Register, TaskKind

KEYWORDS = frozenset({"показания", "показание", "pokazaniya", "pokazania"})
_WORD_SEP = re.compile(r"\s+")
_VALUE = re.compile(r"\d{1,10}")
FORMAT_HELP = ("Формат SMS: ПОКАЗАНИЯ <лицевой счёт> <показание>, для двухтарифного счётчика "
               "<день> <ночь>. Например: ПОКАЗАНИЯ 123456789012 04567. Отзыв, жалоба, предложение: "
               "ОТЗЫВ, ЖАЛОБА или ПРЕДЛОЖЕНИЕ и текст")


FEEDBACK_WORDS = {"отзыв": TaskKind.FEEDBACK, "жалоба": TaskKind.COMPLAINT, "предложение": TaskKind.SUGGESTION}
FEEDBACK_MAX = 500  # HotlineTask.note


@dataclass(frozen=True)
class SmsFeedback:
    kind: TaskKind
    text: str


def feedback_of(body: str) -> SmsFeedback | None:
    """Feedback if the first word names its kind ("Жалоба: нет света третий день"), else None."""
    words = body.strip().split(maxsplit=1)
    if not words:
        return None
    kind = FEEDBACK_WORDS.get(words[0].rstrip(":.,!").casefold().replace("ё", "е"))
    if kind is None:
        return None
    text = words[1].strip() if len(words) > 1 else ""
    if not text:
        raise SmsFormatError("после слова " + words[0].rstrip(":.,!").upper() + " нет текста")
    return SmsFeedback(kind, text[:FEEDBACK_MAX])


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


_REGISTERED = {TaskKind.FEEDBACK: "Отзыв зарегистрирован", TaskKind.COMPLAINT: "Жалоба зарегистрирована",
               TaskKind.SUGGESTION: "Предложение зарегистрировано"}


def feedback_text(kind: TaskKind, task_id: int, due: str) -> str:
    return f"{_REGISTERED.get(kind, 'Обращение зарегистрировано')} под номером {task_id}. Ответим до {due}."


def malformed_text(reason: str) -> str:
    return f"Не удалось прочитать показания ({reason}). {FORMAT_HELP}"


def twiml_message(text: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'
