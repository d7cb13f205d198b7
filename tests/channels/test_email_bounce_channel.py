"""The e-mail channel in relay mode (issue 8 item 8, AI-9/AI-14/AI-19): a relay's 250 leaves the
attempt awaiting under a signed token carried by the Message-ID and the VERP return path; poll()
after the quiet period reads the bounce mailbox first and only then says "no bounce"."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autoinform.channels.base import ProviderStatus
from autoinform.channels.email import EmailChannel
from autoinform.channels.email_mime import TokenSigner
from autoinform.config import SmtpSettings, load_settings
from autoinform.errors import ConfigError
from autoinform.models import Outcome
from tests.channels.test_bounces import FIXTURES, SECRET
from tests.channels.test_email_channel import item
from tests.fakes.smtp_sink import SmtpSink


def relay_settings(sink: SmtpSink, **kw: object) -> SmtpSettings:
    base: dict[str, object] = {"port": sink.port, "timeout": 5.0, "pool_size": 2,
                               "sender": "info@energo.example.ru", "bounce_address": "bounces@energo.example.ru",
                               "bounce_secret": SECRET, "quiet_period_s": 3600}
    return SmtpSettings.model_validate(base | kw)


def maildir(root: Path) -> Path:
    for d in ("new", "cur", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def drop_bounce(box: Path, token: str, name: str = "postfix") -> None:
    """A real-format bounce (the fixture's shape) for the message with this token."""
    fixture_token = {"postfix": b"ai4243.4b58da28a2a448f6", "exim": b"ai4244.12c3466b1f4dd665"}[name]
    data = (FIXTURES / f"{name}.eml").read_bytes().replace(fixture_token, token.encode())
    (box / "new" / f"1764572533.{token}.mx").write_bytes(data)


class Sink:
    def __init__(self) -> None:
        self.statuses: list[ProviderStatus] = []

    async def __call__(self, status: ProviderStatus) -> None:
        self.statuses.append(status)


@pytest.fixture
async def channel(sink: SmtpSink, tmp_path: Path) -> AsyncIterator[tuple[EmailChannel, Sink, Path]]:
    box = maildir(tmp_path / "bounces")
    statuses = Sink()
    ch = EmailChannel(relay_settings(sink, bounce_maildir=box), local_hostname="autoinform.test",
                      status_sink=statuses)
    await ch.start()
    yield ch, statuses, box
    await ch.close()


async def test_relay_250_awaits_under_a_signed_token_in_message_id_and_verp(
        sink: SmtpSink, channel: tuple[EmailChannel, Sink, Path]) -> None:
    """Issue 8 item 8, AI-14: 250 from the relay is "pending", not positive; the provider id is the
    attempt's token, which the Message-ID and the envelope sender (VERP) both carry."""
    ch, _, _ = channel
    result = await ch.send(item("ivan.petrov@example.ru"))
    assert (result.outcome, result.reason) == (None, "pending") and result.disposition.startswith("250")
    token = result.provider_id
    assert token is not None and TokenSigner(SECRET).verify(token) == 101
    [received] = sink.messages
    assert received.mail_from == f"bounces+{token}@energo.example.ru"
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert msg["Message-ID"] == f"<{token}@energo.example.ru>"
    assert ch.status_timeout_s == 3600


async def test_direct_mode_keeps_250_as_accepted(sink: SmtpSink) -> None:
    """Issue 8 item 8: delivery_mode direct (we talk to the recipient's MX) keeps today's rule."""
    ch = EmailChannel(relay_settings(sink, delivery_mode="direct"), local_hostname="autoinform.test")
    await ch.start()
    try:
        result = await ch.send(item("a@example.ru"))
        assert (result.outcome, result.reason) == (Outcome.POSITIVE, "accepted")
        assert result.provider_id == TokenSigner(SECRET).token(101)
        assert await ch.poll(result.provider_id) is None
    finally:
        await ch.close()


async def test_poll_hands_over_a_bounce_found_in_the_mailbox_before_saying_no_bounce(
        sink: SmtpSink, channel: tuple[EmailChannel, Sink, Path]) -> None:
    """Issue 8 item 8, AI-14: at the end of the quiet period poll() reads the mailbox first, so the
    bounce that came in time reaches the sink before the "no bounce" answer (which the dispatcher
    then ignores for an attempt that already has its outcome)."""
    ch, statuses, box = channel
    bounced = await ch.send(item("sidorov@mail.example.com", n=1))
    quiet = await ch.send(item("ok@example.ru", n=2))
    assert bounced.provider_id and quiet.provider_id
    drop_bounce(box, bounced.provider_id)

    answer = await ch.poll(bounced.provider_id)
    assert [(s.provider_id, s.outcome, s.reason, s.status) for s in statuses.statuses] == [
        (bounced.provider_id, Outcome.NEGATIVE, "invalid_address", "5.1.1")]
    assert answer is not None and (answer.outcome, answer.reason) == (Outcome.POSITIVE, "delivered_no_bounce")
    no_bounce = await ch.poll(quiet.provider_id)
    assert no_bounce == ProviderStatus(no_bounce.channel, quiet.provider_id, "no_bounce", Outcome.POSITIVE,
                                       "delivered_no_bounce")
    assert len(statuses.statuses) == 1  # the bounce was read once


async def test_polls_at_one_moment_share_scans(channel: tuple[EmailChannel, Sink, Path]) -> None:
    """Issue 8 item 8: many attempts reaching their deadline together cost one or two mailbox
    reads, not one each (polls may run concurrently)."""
    ch, _, _ = channel
    assert ch.bounces is not None
    before = ch.bounces.counters.scans
    answers = await asyncio.gather(*(ch.poll(TokenSigner(SECRET).token(i)) for i in range(50)))
    assert all(a is not None and a.reason == "delivered_no_bounce" for a in answers)
    assert 1 <= ch.bounces.counters.scans - before <= 2


async def test_unreadable_mailbox_means_no_answer_yet(channel: tuple[EmailChannel, Sink, Path]) -> None:
    """Issue 8 item 8: without having read the mailbox the channel cannot claim "no bounce": poll()
    answers None (the dispatcher waits and asks again), and the scan does not raise."""
    ch, _, box = channel
    shutil.rmtree(box)
    assert await ch.poll(TokenSigner(SECRET).token(7)) is None
    assert not await ch.scan_bounces()
    assert ch.bounces is not None and ch.bounces.counters.failed_scans >= 1


async def test_relay_without_mailbox_warns_at_start_and_ends_positive(sink: SmtpSink,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Issue 8 item 8: relay mode without a bounce mailbox is allowed but said at start-up."""
    ch = EmailChannel(relay_settings(sink, bounce_secret=""), local_hostname="autoinform.test")
    with caplog.at_level(logging.WARNING):
        await ch.start()
    try:
        assert "no bounce mailbox" in caplog.text
        assert ch.bounce_scan_s is None
        status = await ch.poll("ai1.0123456789abcdef")
        assert status is not None and status.reason == "delivered_no_bounce"
    finally:
        await ch.close()


@pytest.mark.parametrize(("env", "message"), [
    ({"AUTOINFORM_SMTP__BOUNCE_MAILDIR": "/var/mail/b"}, "bounce_secret of at least 16"),
    ({"AUTOINFORM_SMTP__BOUNCE_MAILDIR": "/var/mail/b", "AUTOINFORM_SMTP__BOUNCE_SECRET": "x" * 20,
      "AUTOINFORM_SMTP__BOUNCE_IMAP": '{"host": "imap.example.ru", "username": "b", "password": "p"}'},
     "mutually exclusive"),
    ({"AUTOINFORM_SMTP__BOUNCE_ADDRESS": "bounces+x@example.ru"}, "without '\\+'"),
    ({"AUTOINFORM_SMTP__BOUNCE_ADDRESS": "not an address"}, "plain address"),
    ({"AUTOINFORM_SMTP__DELIVERY_MODE": "smarthost"}, "smtp.delivery_mode"),
    ({"AUTOINFORM_SMTP__QUIET_PERIOD_S": "0"}, "smtp.quiet_period_s"),
    ({"AUTOINFORM_SMTP__BOUNCE_SECRET": "x" * 20,
      "AUTOINFORM_SMTP__BOUNCE_IMAP": '{"host": "imap.example.ru", "username": "b", "password": "p", "tls": "none"}'},
     "only on loopback"),
])
def test_bounce_settings_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 env: dict[str, str], message: str) -> None:
    """Issue 8 item 8, AI-19: bounce settings that cannot work are refused with a clear message."""
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_bounce_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """AI-19: the token key and the IMAP password stay hidden in repr and redacted settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINFORM_SMTP__BOUNCE_SECRET", "token-key-0123456789")
    monkeypatch.setenv("AUTOINFORM_SMTP__BOUNCE_IMAP",
                       '{"host": "imap.example.ru", "username": "b", "password": "imap-pa55"}')
    s = load_settings()
    assert s.smtp.bounce_imap is not None and s.smtp.bounce_imap.password.get_secret_value() == "imap-pa55"
    shown = repr(s) + str(s.redacted())
    assert "token-key-0123456789" not in shown and "imap-pa55" not in shown
