"""Routing by consent and preference (AI-11, AI-12), as a pure function."""

from __future__ import annotations

from autoinform.models import Channel, ContactSource, LineType
from autoinform.routing import Contact, effective_chain, route, usable

E, S, P = Channel.EMAIL, Channel.SMS, Channel.PHONE
MOBILE_VOLUNTARY = Contact(S, "+79001234567", LineType.MOBILE, ContactSource.VOLUNTARY, True, False)
EMAIL_VOLUNTARY = Contact(E, "a@example.ru", LineType.EMAIL, ContactSource.VOLUNTARY, True, False)
CONTRACT_PHONE = Contact(P, "+78512123456", LineType.LANDLINE, ContactSource.CONTRACT, True, False)


def test_consent_rules() -> None:
    assert usable(CONTRACT_PHONE, P)  # calls only to the contract number
    assert not usable(Contact(P, "+78512123456", LineType.LANDLINE, ContactSource.VOLUNTARY, True, False), P)
    assert usable(MOBILE_VOLUNTARY, S)
    assert not usable(Contact(S, "+78512123456", LineType.LANDLINE, ContactSource.VOLUNTARY, True, False), S)
    assert not usable(Contact(S, "+79001234567", LineType.MOBILE, ContactSource.CONTRACT, True, False), S)
    assert not usable(Contact(S, "+79001234567", LineType.MOBILE, ContactSource.VOLUNTARY, False, False), S)
    assert not usable(Contact(E, "a@example.ru", LineType.EMAIL, ContactSource.VOLUNTARY, True, True), E)
    assert not usable(EMAIL_VOLUNTARY, S)  # a contact serves its own channel only


def test_preferred_channel_goes_first_when_offered() -> None:
    assert effective_chain([E, S], S) == (S, E)
    assert effective_chain([E, S], P) == (E, S)  # not offered by the campaign: chain unchanged
    r = route([E, S], 0, [EMAIL_VOLUNTARY, MOBILE_VOLUNTARY], preferred=S)
    assert r is not None and (r.channel, r.destination, r.has_fallback) == (S, "+79001234567", True)


def test_route_skips_channels_without_consent_and_knows_the_last_one() -> None:
    r = route([E, S, P], 0, [MOBILE_VOLUNTARY])
    assert r is not None and (r.index, r.channel, r.has_fallback) == (1, S, False)
    assert route([E, S], 1, [EMAIL_VOLUNTARY]) is None
