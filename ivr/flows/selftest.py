"""The `/selftest` route: an administrator calls it to check the Asterisk ↔ engine connection.

It answers, plays a greeting, asks for a key (GET DATA), reads the key back and a sample amount in
Russian (AI-10, the project's own prompts), and hangs up. Every step is logged with the call id,
so a failed check shows in the log exactly which step Asterisk did not complete.
"""

from __future__ import annotations

import logging
from typing import Final

from ivr import say
from ivr.prompts import playback_name
from ivr.session import AgiSession

logger = logging.getLogger(__name__)

SAMPLE_KOPECKS: Final = 1_234_56
"""The sample amount read back: "одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"."""
KEY_TIMEOUT_MS: Final = 5000


async def selftest(session: AgiSession) -> None:
    extra = session.log_extra

    await session.answer()
    logger.info("selftest: answered", extra=extra)

    await session.play_sequence(say.phrase("selftest/hello").prompts)
    logger.info("selftest: greeting played", extra=extra)

    read = await session.get_data(playback_name("selftest/press_key", session.prompt_base),
                                  timeout_ms=KEY_TIMEOUT_MS, max_digits=1)
    logger.info("selftest: key %r (timed out: %s)", read.digits, read.timed_out, extra=extra)

    await session.play_sequence(_key_speech(read.digits).prompts)
    logger.info("selftest: key read back", extra=extra)

    amount = say.phrase("selftest/sample_amount") + say.money(SAMPLE_KOPECKS)
    await session.play_sequence(amount.prompts)
    logger.info("selftest: sample amount played: %s", amount.text, extra=extra)

    await session.play_sequence(say.phrase("selftest/goodbye").prompts)
    await session.hangup()
    logger.info("selftest: hung up, check passed", extra=extra)


def _key_speech(digits: str) -> say.Speech:
    """What to say for the key: the digit, or "no key". `*` and letters have no word prompt, and
    `#` ends GET DATA with no digits, so those read back as the phrase alone."""
    if not digits:
        return say.phrase("selftest/no_key")
    spoken = digits if digits.isdigit() else ""
    if not spoken:
        return say.phrase("selftest/you_pressed")
    return say.phrase("selftest/you_pressed") + say.digits(spoken)
