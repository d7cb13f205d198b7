"""Bounce parsing against hand-written messages in the real shapes of common MTAs.

Issue 8 item 8 (AI-9, AI-14): a relay's 250 is not delivery; the bounce that comes back later ends
the attempt negative with its DSN status. Each fixture in tests/fixtures/bounces/ follows the shape
the named system sends (RFC 3464 multipart/report, or its own plain text); the attempt is found by
the VERP address the bounce was delivered to or by the Message-ID of the original it quotes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autoinform.channels.bounces import Bounce, bounce_status, parse_bounce
from autoinform.channels.email_mime import TokenSigner
from autoinform.models import Channel, Outcome

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bounces"
SECRET = "test-bounce-secret-0123456789"  # the fixtures' tokens are signed with this key

# fixture: (attempt id, action, status, reason, matched by, recipient, shape)
CASES = {
    "rfc3464": (4242, "failed", "5.2.1", "bounced", "verp", "orlov@closed.example.net", "rfc3464"),
    "postfix": (4243, "failed", "5.1.1", "invalid_address", "verp", "sidorov@mail.example.com", "rfc3464"),
    "exim": (4244, "failed", "5.1.1", "invalid_address", "message_id", "petrova@hosting.example.com", "text"),
    "gmail": (4245, "failed", "5.1.1", "invalid_address", "message_id", "nobody.here.1987@gmail.com", "rfc3464"),
    "yandex": (4246, "failed", "5.7.1", "bounced", "verp", "smirnov@provider.example.org", "text"),
    "mailru": (4247, "failed", "5.1.1", "invalid_address", "message_id", "petrov.v@bk.ru", "text"),
    "delayed": (4248, "delayed", "4.4.1", "pending", "verp", "kuznetsova@slow.example.org", "rfc3464"),
}


def load(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def parsed(data: bytes) -> Bounce:
    b = parse_bounce(data)
    assert b is not None
    return b


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_mta_shape_gives_status_recipient_and_signed_token(name: str) -> None:
    """Issue 8 item 8, AI-9/AI-14: Postfix, Exim, Gmail, Yandex, Mail.ru and plain RFC 3464 bounces
    each give the DSN status, the failed recipient and the attempt's token, which verifies."""
    attempt_id, action, status, reason, by, recipient, shape = CASES[name]
    b = parsed(load(name))
    assert (b.action, b.status, b.matched_by, b.recipient, b.shape) == (action, status, by, recipient, shape)
    assert b.token is not None and TokenSigner(SECRET).verify(b.token) == attempt_id
    assert b.diagnostic  # what the remote server said is kept as evidence
    st = bounce_status(b, b.token)
    assert (st.channel, st.provider_id, st.status, st.reason, st.error_code) == (
        Channel.EMAIL, b.token, status, reason, status)
    assert st.outcome is (None if action == "delayed" else Outcome.NEGATIVE)
    assert recipient not in str(st.detail)  # the address is masked in what is stored and logged


def _strip_verp(data: bytes) -> bytes:
    """The same bounce as if no bounce_address was set: the envelope was the plain sender."""
    return re.sub(rb"bounces\+ai\d+\.[0-9a-f]{16}@", b"info@", data)


@pytest.mark.parametrize("name", ["rfc3464", "postfix", "yandex", "delayed"])
def test_without_verp_the_quoted_message_id_matches(name: str) -> None:
    """Issue 8 item 8: the same bounces delivered to a plain return path are matched by the
    Message-ID of the original they quote (attached message, rfc822 headers or pasted text)."""
    b = parsed(_strip_verp(load(name)))
    assert b.matched_by == "message_id"
    assert b.token is not None and TokenSigner(SECRET).verify(b.token) == CASES[name][0]


def test_postfix_text_part_alone_is_still_understood() -> None:
    """A Postfix notice whose delivery-status part was lost (a forwarder flattened it) falls back
    to the text: '<addr>: host ... said: 550 5.1.1 ...' (issue 8 item 8, AI-14)."""
    data = load("postfix").replace(b"Content-Type: message/delivery-status", b"Content-Type: text/x-removed")
    data = data.replace(b"report-type=delivery-status", b"report-type=other")
    b = parsed(data)
    assert (b.shape, b.action, b.status, b.recipient) == ("text", "failed", "5.1.1", "sidorov@mail.example.com")
    assert b.matched_by == "verp"


def test_auto_reply_to_our_message_is_not_a_bounce() -> None:
    """Issue 8 item 8: a vacation reply quoting our Message-ID (In-Reply-To) must not fail the delivery."""
    assert parse_bounce(load("autoreply")) is None


def test_a_person_writing_back_is_not_a_bounce() -> None:
    """Issue 8 item 8: a customer's answer (no daemon, a real return path) is no bounce."""
    data = (b"Return-Path: <ivanov@example.com>\nFrom: ivanov@example.com\nTo: info@energo.example.ru\n"
            b"Subject: Re: delivery failed? I paid yesterday\n"
            b"In-Reply-To: <ai4242.d8143ae2d6594a50@energo.example.ru>\n\nI paid, the message could not be right.\n")
    assert parse_bounce(data) is None


def test_bounce_without_any_token_is_reported_unmatched() -> None:
    """Issue 8 item 8: a bounce of mail we did not send (or that quotes nothing of ours) has no token."""
    data = re.sub(rb"ai\d+\.[0-9a-f]{16}", b"someone-else", load("postfix"))
    b = parsed(data)
    assert (b.token, b.action, b.status) == (None, "failed", "5.1.1")


def test_forged_token_does_not_verify() -> None:
    """Issue 8 item 8: a bounce with a made-up token (right shape, wrong signature) is refused."""
    data = load("postfix").replace(b"ai4243.4b58da28a2a448f6", b"ai4243.0000000000000000")
    b = parsed(data)
    assert b.token == "ai4243.0000000000000000"
    assert TokenSigner(SECRET).verify(b.token) is None
    assert TokenSigner(SECRET).verify("ai4243") is None and TokenSigner("other-secret-0123456").verify(
        "ai4243.4b58da28a2a448f6") is None


@pytest.mark.parametrize("data", [b"", b"\x00\xff garbage", b"From: MAILER-DAEMON@x\nSubject: Undelivered\n\n",
                                  b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n"
                                  b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n--x--\n"])
def test_odd_messages_do_not_raise(data: bytes) -> None:
    """Issue 8 item 8: truncated or empty mail gives None or a bounce without token, never an error."""
    b = parse_bounce(data)
    assert b is None or b.token is None
