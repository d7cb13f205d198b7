"""The bounce mailbox readers: a maildir filled with real-format DSNs, and a real IMAP server
(Dovecot on loopback). Issue 8 item 8 (AI-9, AI-14): every bounce is handed over once, as the
status its DSN means; what is no bounce, names nothing of ours or is forged is counted and kept."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from autoinform.channels import bounce_mailbox
from autoinform.channels.base import ProviderStatus
from autoinform.channels.bounce_mailbox import BounceMailbox, ImapSource, MaildirSource
from autoinform.channels.email_mime import TokenSigner
from autoinform.config import ImapSettings
from autoinform.errors import ChannelError
from autoinform.models import Outcome
from tests.channels.imap_server import ImapServer, dovecot
from tests.channels.test_bounces import CASES, FIXTURES, SECRET

FORGED = re.sub(rb"ai4243\.[0-9a-f]{16}", b"ai4243.0000000000000000", (FIXTURES / "postfix.eml").read_bytes())
UNMATCHED = re.sub(rb"ai4242\.[0-9a-f]{16}", b"another-system", (FIXTURES / "rfc3464.eml").read_bytes())


class Sink:
    def __init__(self, fail: int = 0) -> None:
        self.statuses: list[ProviderStatus] = []
        self.fail = fail  # refuse this many calls first, like a database that is down

    async def __call__(self, status: ProviderStatus) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database unavailable")
        self.statuses.append(status)


def fixture_messages() -> dict[str, bytes]:
    msgs = {p.stem: p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))}
    return msgs | {"forged": FORGED, "unmatched": UNMATCHED}


def expected_statuses() -> dict[str, tuple[Outcome | None, str, str]]:
    signer = TokenSigner(SECRET)
    return {signer.token(case[0]): (None if case[1] == "delayed" else Outcome.NEGATIVE, case[3], case[2])
            for case in CASES.values()}


def by_token(sink: Sink) -> dict[str, tuple[Outcome | None, str, str]]:
    return {s.provider_id: (s.outcome, s.reason, s.status) for s in sink.statuses}


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    box = tmp_path / "Maildir"
    for d in ("new", "cur", "tmp"):
        (box / d).mkdir(parents=True)
    for i, (name, data) in enumerate(fixture_messages().items()):
        (box / "new" / f"1764572533.M{i}P1.mx.{name}").write_bytes(data)
    return box


async def test_maildir_bounces_are_handed_over_once_and_the_rest_kept_flagged(maildir: Path) -> None:
    """Issue 8 item 8, AI-9/AI-14: each real-format bounce in the maildir becomes its status once;
    the auto-reply, the forged and the unmatched bounce are counted, kept and flagged."""
    box = BounceMailbox(MaildirSource(maildir), TokenSigner(SECRET))
    await box.open()
    sink = Sink()
    assert await box.scan(sink)
    assert by_token(sink) == expected_statuses()
    c = box.counters
    assert (c.final, c.intermediate, c.not_bounce, c.forged, c.unmatched, c.malformed) == (6, 1, 1, 1, 1, 0)
    assert not list((maildir / "new").iterdir())
    kept = dict(p.name.split(".", 3)[3].split(":2,") for p in (maildir / "cur").iterdir())
    assert kept == {name: ("FS" if name in ("autoreply", "forged", "unmatched") else "S")
                    for name in fixture_messages()}
    again = Sink()
    assert await box.scan(again) and again.statuses == []  # read once: idempotent scans


async def test_maildir_message_whose_status_was_not_stored_is_read_again(maildir: Path) -> None:
    """Issue 8 item 8: when the status cannot be stored (database down), the message stays unread
    and the next scan hands it over; nothing is lost, nothing is marked early."""
    box = BounceMailbox(MaildirSource(maildir), TokenSigner(SECRET))
    assert not await box.scan(Sink(fail=1))
    sink = Sink()
    assert await box.scan(sink)
    assert by_token(sink) == expected_statuses()


async def test_unparseable_message_is_counted_and_kept_not_fatal(maildir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 8 item 8: a message the parser chokes on is counted as malformed and flagged; the scan
    goes on with the others."""
    real = bounce_mailbox.parse_bounce

    def choking(data: bytes) -> object:
        if b"googlemail.com" in data:
            raise ValueError("unexpected structure")
        return real(data)
    monkeypatch.setattr(bounce_mailbox, "parse_bounce", choking)
    box = BounceMailbox(MaildirSource(maildir), TokenSigner(SECRET))
    sink = Sink()
    assert await box.scan(sink)
    assert box.counters.malformed == 1 and len(sink.statuses) == 6
    assert any(p.name.endswith(".gmail:2,FS") for p in (maildir / "cur").iterdir())


async def test_missing_maildir_is_a_start_up_error(tmp_path: Path) -> None:
    """Issue 8 item 8, AI-19: a mistyped bounce_maildir fails at start, not silently for ever."""
    box = BounceMailbox(MaildirSource(tmp_path / "nope"), TokenSigner(SECRET))
    with pytest.raises(ChannelError, match="no new or cur"):
        await box.open()


# --- IMAP -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def imap_server() -> Iterator[ImapServer]:
    with dovecot() as server:
        yield server


def imap_settings(server: ImapServer, **kw: object) -> ImapSettings:
    base: dict[str, object] = {"host": "127.0.0.1", "port": server.port, "username": server.user,
                               "password": SecretStr(server.password), "tls": "none", "timeout": 10}
    return ImapSettings.model_validate(base | kw)


def imap_client(server: ImapServer, folder: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    client.login(server.user, server.password)
    client.create(folder)
    client.select(folder)
    return client


def flags(client: imaplib.IMAP4) -> list[str]:
    client.noop()
    _, data = client.fetch("1:*", "(FLAGS)")
    # NOOP's own untagged FETCH responses come back with FETCH's: the last per message stands.
    found = dict(m.groups() for d in data if isinstance(d, bytes) and (m := re.match(rb"(\d+) .*FLAGS \(([^)]*)\)", d)))
    return sorted(" ".join(f for f in v.decode().split() if f != "\\Recent") for v in found.values())


async def test_imap_bounces_are_read_marked_and_new_ones_seen_on_the_same_connection(
        imap_server: ImapServer) -> None:
    """Issue 8 item 8, AI-9/AI-14: messages appended to a real IMAP mailbox are read by the
    project's reader, each status handed over once, marked \\Seen (\\Flagged when kept for a
    person); a bounce arriving later is found by the next scan."""
    client = imap_client(imap_server, "Bounces1")
    messages = fixture_messages()
    late = messages.pop("gmail")
    for data in messages.values():
        client.append("Bounces1", None, None, data.replace(b"\n", b"\r\n"))
    box = BounceMailbox(ImapSource(imap_settings(imap_server, folder="Bounces1")), TokenSigner(SECRET))
    await box.open()
    try:
        sink = Sink()
        assert await box.scan(sink)
        expected = expected_statuses()
        gmail_token = TokenSigner(SECRET).token(CASES["gmail"][0])
        assert by_token(sink) == {k: v for k, v in expected.items() if k != gmail_token}
        assert flags(client) == sorted([r"\Flagged \Seen"] * 3 + [r"\Seen"] * 6)
        client.append("Bounces1", None, None, late.replace(b"\n", b"\r\n"))
        later = Sink()
        assert await box.scan(later)
        assert by_token(later) == {gmail_token: expected[gmail_token]}
        assert box.counters.not_bounce == 1 and box.counters.forged == 1 and box.counters.unmatched == 1
    finally:
        await box.close()
        client.logout()


async def test_imap_lost_connection_is_reopened_and_wrong_password_is_refused(imap_server: ImapServer) -> None:
    """Issue 8 item 8: a dropped IMAP connection costs one scan (reported, not raised), the next
    reconnects; a wrong password fails at start-up with a clear error."""
    client = imap_client(imap_server, "Bounces2")
    box = BounceMailbox(ImapSource(imap_settings(imap_server, folder="Bounces2")), TokenSigner(SECRET))
    await box.open()
    try:
        source = box.source
        assert isinstance(source, ImapSource) and source._imap is not None
        source._imap.shutdown()  # the server or the network went away between scans
        assert not await box.scan(Sink())
        client.append("Bounces2", None, None, (FIXTURES / "postfix.eml").read_bytes().replace(b"\n", b"\r\n"))
        sink = Sink()
        assert await box.scan(sink)
        assert [s.reason for s in sink.statuses] == ["invalid_address"]
    finally:
        await box.close()
        client.logout()
    bad = BounceMailbox(ImapSource(imap_settings(imap_server, password=SecretStr("wrong"))), TokenSigner(SECRET))
    with pytest.raises(ChannelError, match="IMAP") as err:
        await bad.open()
    assert err.value.permanent and "wrong" not in str(err.value)

