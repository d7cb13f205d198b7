"""E-mail channel against a real aiosmtpd server on 127.0.0.1 (AI-9, AI-14, AI-19)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import re
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from autoinform.channels.base import Outgoing, SendResult
from autoinform.channels.email import EmailChannel, classify_reply
from autoinform.config import SmtpSettings
from autoinform.content import EmailContent, SmsContent
from autoinform.errors import ChannelError
from autoinform.models import Channel, Outcome
from tests.channels.conftest import CertFiles
from tests.fakes.smtp_sink import Action, SmtpSink

SUBJECT = "Задолженность за электроэнергию по лицевому счёту 3012345678 на 1 декабря 2026 года"
TEXT = "Уважаемый Иван Петрович!\nВаша задолженность: 1 234 рубля 56 копеек.\nОплатите до 10 декабря."
HTML = "<p>Уважаемый Иван Петрович!</p><p>Задолженность: <b>1 234,56 ₽</b></p>"


def item(destination: str, *, n: int = 1, name: str = "Иванов Иван Петрович",
         content: EmailContent | None = None) -> Outgoing:
    return Outgoing(delivery_id=n, attempt_id=100 + n, channel=Channel.EMAIL, destination=destination,
                    content=content or EmailContent(SUBJECT, TEXT, HTML), recipient_name=name)


def handed_over(result: SendResult) -> bool:
    """The relay took the message (250): the attempt awaits a bounce or the quiet period's end."""
    return (result.outcome, result.reason) == (None, "pending") and bool(result.provider_id)


def settings_for(sink: SmtpSink, **kw: object) -> SmtpSettings:
    base: dict[str, object] = {"host": "127.0.0.1", "port": sink.port, "timeout": 5.0, "pool_size": 2,
                               "sender": "info@energo.example.ru", "sender_name": "Энергосбыт"}
    base.update(kw)
    return SmtpSettings.model_validate(base)


@pytest.fixture
async def channel(sink: SmtpSink) -> AsyncIterator[EmailChannel]:
    ch = EmailChannel(settings_for(sink), local_hostname="autoinform.test")
    await ch.start()
    yield ch
    await ch.close()


async def test_accepted_message_is_positive_and_parses_back(sink: SmtpSink, channel: EmailChannel) -> None:
    """AI-9/AI-14: 250 after DATA is a positive "accepted"; the MIME reads back intact."""
    result = await channel.send(item("ivan.petrov@example.ru"))

    assert (result.outcome, result.reason, result.retry) == (None, "pending", False)  # relayed: awaits
    assert result.disposition.startswith("250")
    [received] = sink.messages
    assert received.mail_from == "info@energo.example.ru"
    assert received.rcpt_tos == ("ivan.petrov@example.ru",)
    assert b"\r\n" in received.data and b"\n" not in received.data.replace(b"\r\n", b"")
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert msg["Subject"] == SUBJECT
    assert result.provider_id is not None and re.fullmatch(r"ai101\.[0-9a-f]{16}", result.provider_id)
    assert msg["Message-ID"] == f"<{result.provider_id}@energo.example.ru>"
    assert msg["From"].addresses[0].display_name == "Энергосбыт"
    assert msg["From"].addresses[0].addr_spec == "info@energo.example.ru"
    assert msg["To"].addresses[0].display_name == "Иванов Иван Петрович"
    assert msg["To"].addresses[0].addr_spec == "ivan.petrov@example.ru"
    assert email.utils.parsedate_to_datetime(msg["Date"]).utcoffset() is not None
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content() == HTML


async def test_text_only_message_is_a_single_part(sink: SmtpSink, channel: EmailChannel) -> None:
    result = await channel.send(item("a@example.ru", content=EmailContent("Показания", "Передайте показания.")))
    assert handed_over(result)
    msg = email.message_from_bytes(sink.messages[0].data, policy=email.policy.default)
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == "Передайте показания."
    assert msg["Subject"] == "Показания"


async def test_idn_domain_goes_out_as_punycode(sink: SmtpSink, channel: EmailChannel) -> None:
    result = await channel.send(item("abonent@пример.рф"))
    assert handed_over(result)
    assert sink.messages[0].rcpt_tos == ("abonent@xn--e1afmkfd.xn--p1ai",)


async def test_4xx_is_retryable_and_the_connection_is_reused(sink: SmtpSink, channel: EmailChannel) -> None:
    """Issue 3 item 5: 4xx -> retry."""
    sink.set_rule("full@example.ru", Action.TEMPFAIL)
    refused = await channel.send(item("full@example.ru"))
    assert (refused.outcome, refused.reason, refused.retry) == (Outcome.NEGATIVE, "temporary_failure", True)
    assert refused.disposition.startswith("451")
    assert refused.detail["stage"] == "rcpt"

    ok = await channel.send(item("ok@example.ru", n=2))
    assert handed_over(ok)
    assert [m.rcpt_tos for m in sink.messages] == [("ok@example.ru",)]


async def test_unknown_user_is_permanent_invalid_address(sink: SmtpSink, channel: EmailChannel) -> None:
    """Issue 3 item 5: 5xx -> negative, permanent; 5.1.1 names a bad mailbox."""
    sink.set_rule("nobody@example.ru", Action.REJECT)
    result = await channel.send(item("nobody@example.ru"))
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "invalid_address", False)
    assert result.disposition.startswith("550 5.1.1")
    assert sink.messages == []


async def test_content_refused_after_data_is_permanent_rejected(sink: SmtpSink, channel: EmailChannel) -> None:
    sink.set_rule("strict@example.ru", Action.REJECT_DATA)
    result = await channel.send(item("strict@example.ru"))
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "rejected", False)
    assert result.detail["stage"] == "data"
    assert handed_over(await channel.send(item("next@example.ru", n=2)))


async def test_drop_mid_message_is_retryable_and_pool_recovers(sink: SmtpSink, channel: EmailChannel) -> None:
    """A connection lost after the body was sent: unknown fate, so retry; the slot reconnects."""
    sink.set_rule("flaky@example.ru", Action.DROP, times=1)
    results = await asyncio.gather(*(channel.send(item("flaky@example.ru" if i == 0 else f"u{i}@example.ru", n=i))
                                     for i in range(6)))
    assert (results[0].outcome, results[0].reason, results[0].retry) == (
        Outcome.NEGATIVE, "temporary_failure", True)
    assert results[0].detail["stage"] == "data"
    assert all(handed_over(r) for r in results[1:])
    assert len(sink.dropped) == 1

    retried = await channel.send(item("flaky@example.ru", n=7))
    assert handed_over(retried)
    assert len(sink.messages) == 6


async def test_connections_are_pooled_and_reused(sink: SmtpSink) -> None:
    ch = EmailChannel(settings_for(sink, pool_size=3), local_hostname="autoinform.test")
    await ch.start()
    try:
        results = await asyncio.gather(*(ch.send(item(f"c{i}@example.ru", n=i)) for i in range(30)))
    finally:
        await ch.close()
    assert all(handed_over(r) for r in results)
    assert len(sink.messages) == 30
    assert 1 <= len({m.peer for m in sink.messages}) <= 3


async def test_connection_closed_while_idle_is_replaced(sink: SmtpSink, channel: EmailChannel) -> None:
    assert handed_over(await channel.send(item("a@example.ru", n=1)))
    sink.drop_connections()
    await asyncio.sleep(0.05)  # the client's loop sees the reset before the next send
    result = await channel.send(item("b@example.ru", n=2))
    assert handed_over(result)
    assert len({m.peer for m in sink.messages}) == 2


async def test_stale_pooled_connection_is_redone_on_a_fresh_one(sink: SmtpSink) -> None:
    """The server closed the connection but this loop has not run since: MAIL meets a dead socket,
    nothing was transmitted, so the channel retries at once instead of reporting a failure."""
    channel = EmailChannel(settings_for(sink, pool_size=1), local_hostname="autoinform.test")
    await channel.start()
    assert handed_over(await channel.send(item("a@example.ru", n=1)))
    sink.drop_connections()  # blocks until the server side is closed; our loop has not run
    result = await channel.send(item("b@example.ru", n=2))
    await channel.close()
    assert handed_over(result)
    assert len({m.peer for m in sink.messages}) == 2


@pytest.mark.parametrize("address", ["no-at-sign", "a@@example.ru", "a b@example.ru", "a@example",
                                     "a@-bad-.ru", "a@example.ru\r\nRCPT TO:<x@y.ru>", "иван@example.ru",
                                     ".a@example.ru", "a@example.123", ""])
async def test_bad_address_syntax_is_invalid_and_never_sent(sink: SmtpSink, channel: EmailChannel,
                                                            address: str) -> None:
    result = await channel.send(item(address))
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "invalid_address", False)
    assert sink.messages == [] and sink.dropped == []


@pytest.mark.parametrize("subject, name", [
    ("Долг\r\nBcc: victim@example.ru", "Иван"),
    ("Долг", "Иван\nBcc: victim@example.ru"),
    ("Долг\x00", "Иван"),
])
async def test_header_injection_is_refused(sink: SmtpSink, channel: EmailChannel, subject: str, name: str) -> None:
    result = await channel.send(item("a@example.ru", name=name, content=EmailContent(subject, TEXT)))
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "failed", False)
    assert result.detail["error"] == "unsafe_header"
    assert sink.messages == []


async def test_wrong_content_type_is_a_programming_error(channel: EmailChannel) -> None:
    bad = Outgoing(1, 1, Channel.EMAIL, "a@example.ru", SmsContent("x", "GSM-7", 1))
    with pytest.raises(TypeError):
        await channel.send(bad)


async def test_start_fails_clearly_when_the_server_is_unreachable() -> None:
    with SmtpSink() as gone:
        port = gone.port
    ch = EmailChannel(SmtpSettings(host="127.0.0.1", port=port, timeout=2.0), local_hostname="t")
    with pytest.raises(ChannelError) as err:
        await ch.start()
    assert err.value.permanent is False


async def test_unreachable_server_during_send_is_retryable(sink: SmtpSink) -> None:
    ch = EmailChannel(settings_for(sink, pool_size=1), local_hostname="t")
    await ch.start()
    sink.stop()
    result = await ch.send(item("a@example.ru"))
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "temporary_failure", True)
    await ch.close()


async def test_starttls_and_login(cert_files: CertFiles) -> None:
    """STARTTLS required by the server, then AUTH; credentials come from settings."""
    with SmtpSink(tls_context=cert_files.server_context(), credentials=("robot", "s3cret")) as tls_sink:
        settings = settings_for(tls_sink, start_tls=True, username="robot", password=SecretStr("s3cret"))
        ch = EmailChannel(settings, tls_context=cert_files.client_context(), local_hostname="t")
        await ch.start()
        result = await ch.send(item("a@example.ru"))
        await ch.close()
        assert handed_over(result)
        assert len(tls_sink.messages) == 1


async def test_implicit_tls(cert_files: CertFiles) -> None:
    with SmtpSink(tls_context=cert_files.server_context(), implicit_tls=True) as tls_sink:
        ch = EmailChannel(settings_for(tls_sink, use_tls=True), tls_context=cert_files.client_context(),
                          local_hostname="t")
        await ch.start()
        result = await ch.send(item("a@example.ru"))
        await ch.close()
        assert handed_over(result)


async def test_wrong_password_fails_start(cert_files: CertFiles) -> None:
    with SmtpSink(tls_context=cert_files.server_context(), credentials=("robot", "s3cret")) as tls_sink:
        settings = settings_for(tls_sink, start_tls=True, username="robot", password=SecretStr("wrong"))
        ch = EmailChannel(settings, tls_context=cert_files.client_context(), local_hostname="t")
        with pytest.raises(ChannelError) as err:
            await ch.start()
        assert err.value.permanent is True
        assert tls_sink.auth_failures >= 1  # aiosmtplib tries each offered mechanism


async def test_untrusted_certificate_fails_start(cert_files: CertFiles) -> None:
    with SmtpSink(tls_context=cert_files.server_context()) as tls_sink:
        ch = EmailChannel(settings_for(tls_sink, start_tls=True), local_hostname="t")  # system CAs only
        with pytest.raises(ChannelError):
            await ch.start()


@pytest.mark.parametrize("stage, code, message, expected", [
    ("data", 250, "OK", (Outcome.POSITIVE, "accepted", False)),
    ("rcpt", 451, "4.3.0 later", (Outcome.NEGATIVE, "temporary_failure", True)),
    ("data", 421, "4.4.2 closing", (Outcome.NEGATIVE, "temporary_failure", True)),
    ("rcpt", 550, "5.1.1 User unknown", (Outcome.NEGATIVE, "invalid_address", False)),
    ("rcpt", 550, "User unknown", (Outcome.NEGATIVE, "invalid_address", False)),
    ("rcpt", 552, "5.2.2 Mailbox full", (Outcome.NEGATIVE, "bounced", False)),
    ("rcpt", 550, "5.7.1 Relaying denied", (Outcome.NEGATIVE, "rejected", False)),
    ("data", 554, "5.6.0 Content rejected", (Outcome.NEGATIVE, "rejected", False)),
    ("mail", 530, "5.7.0 Authentication required", (Outcome.NEGATIVE, "temporary_failure", True)),
    ("connect", 535, "5.7.8 Bad credentials", (Outcome.NEGATIVE, "temporary_failure", True)),
])
def test_classify_reply(stage: str, code: int, message: str, expected: tuple[Outcome, str, bool]) -> None:
    """AI-14: every SMTP reply maps to an outcome, a reason and whether to retry."""
    assert classify_reply(stage, code, message) == expected


class ScriptedSmtp:
    """A raw SMTP peer on 127.0.0.1 for what aiosmtpd will not do: refuse EHLO, or go silent.

    `silent_at` names the command (b"MAIL", b"RCPT", b"DATA") after which it never answers again.
    """

    def __init__(self, *, ehlo: bool = True, silent_at: bytes | None = None) -> None:
        self.ehlo, self.silent_at = ehlo, silent_at
        self.commands: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedSmtp:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 scripted ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
                self.commands.append(verb)
                if verb == self.silent_at:
                    await reader.read()  # hold the connection open, answer nothing
                    return
                if verb == b"EHLO":
                    writer.write(b"250-scripted\r\n250 SIZE 1000000\r\n" if self.ehlo else b"502 5.5.1 no\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    while (await reader.readline()) != b".\r\n":
                        pass
                    writer.write(b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        finally:
            writer.close()


@pytest.mark.parametrize("silent_at", [b"MAIL", b"RCPT", b"DATA"])
async def test_a_server_that_stops_answering_costs_one_deadline(silent_at: bytes) -> None:
    """AI-14: a transaction that hangs ends at the SMTP timeout as a retryable failure; the
    connection is dropped (its late reply must not pair with the next command)."""
    async with ScriptedSmtp(silent_at=silent_at) as peer:
        ch = EmailChannel(SmtpSettings(host="127.0.0.1", port=peer.port, timeout=1.0, pool_size=1,
                                       sender="info@energo.example.ru"), local_hostname="t")
        await ch.start()
        result = await ch.send(item("a@example.ru"))
        assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "temporary_failure", True)
        assert result.detail == {"stage": silent_at.decode().lower(), "error": "TimeoutError"}
        peer.silent_at = None
        again = await ch.send(item("b@example.ru", n=2))
        assert handed_over(again)
        assert peer.connections == 2  # the hung connection was not reused
        await ch.close()


async def test_helo_when_the_server_refuses_ehlo() -> None:
    async with ScriptedSmtp(ehlo=False) as peer:
        ch = EmailChannel(SmtpSettings(host="127.0.0.1", port=peer.port, timeout=2.0, pool_size=1,
                                       sender="info@energo.example.ru"), local_hostname="t")
        await ch.start()
        result = await ch.send(item("a@example.ru"))
        await ch.close()
    assert handed_over(result)
    assert peer.commands[:4] == [b"EHLO", b"HELO", b"MAIL", b"RCPT"]
