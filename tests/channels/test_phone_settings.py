"""Phone channel settings: Asterisk servers as a list, phone available once one is listed
(issue 10 part 2; AI-1, AI-9)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from autoinform.channels import unavailable_channels
from autoinform.config import PhoneSettings, Settings
from autoinform.models import Channel


def test_servers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOINFORM_PHONE__SERVERS", '[{"name": "ast1", "host": "10.0.0.5", "username": "autoinform", '
                       '"secret": "s3cret", "dial_template": "PJSIP/{number}@trunk", "max_channels": 10, '
                       '"calls_per_second": 2, "number_format": "+7XXXXXXXXXX"}]')
    monkeypatch.setenv("AUTOINFORM_PHONE__RING_TIMEOUT_S", "25")
    s = Settings()
    (server,) = s.phone.servers
    assert (server.name, server.host, server.port, server.max_channels, server.calls_per_second) == (
        "ast1", "10.0.0.5", 5038, 10, 2.0)
    assert server.number_format == "+7XXXXXXXXXX" and s.phone.ring_timeout_s == 25
    assert "s3cret" not in repr(s) and server.secret.get_secret_value() == "s3cret"
    assert Channel.PHONE not in unavailable_channels(s)


def test_phone_unavailable_without_servers() -> None:
    assert "phone.servers" in unavailable_channels(Settings())[Channel.PHONE]


@pytest.mark.parametrize("server", [
    {"name": "a", "dial_template": "PJSIP/trunk"},  # no {number}
    {"name": "a", "max_channels": 0},
    {"name": "a", "calls_per_second": 0},
    {"name": "a", "number_format": "0XXXXXXXXXX"},
])
def test_bad_servers_refused(server: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PhoneSettings(servers=[server])  # type: ignore[list-item]


def test_server_names_unique() -> None:
    with pytest.raises(ValidationError, match="unique"):
        PhoneSettings(servers=[{"name": "a"}, {"name": "a"}])  # type: ignore[list-item]
