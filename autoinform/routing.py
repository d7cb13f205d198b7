"""Which channel and address a delivery uses (AI-11, AI-12). Pure: no database, no I/O.

Consent rules: a call goes only to the number in the supply contract; SMS only to a mobile number
and e-mail only to an address the customer gave voluntarily with consent; an opt-out always wins.
The customer's preferred channel, if the campaign offers it, is tried first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autoinform.models import Channel, ContactSource, LineType


@dataclass(frozen=True)
class Contact:
    channel: Channel
    value: str
    line_type: LineType
    source: ContactSource
    consent: bool
    opted_out: bool


@dataclass(frozen=True)
class Route:
    index: int  # position in the effective chain
    channel: Channel
    destination: str
    has_fallback: bool


def usable(contact: Contact, channel: Channel) -> bool:
    if contact.channel is not channel or contact.opted_out:
        return False
    if channel is Channel.PHONE:
        return contact.source is ContactSource.CONTRACT
    if not (contact.source is ContactSource.VOLUNTARY and contact.consent):
        return False
    if channel is Channel.SMS:
        return contact.line_type is LineType.MOBILE
    return True


def effective_chain(chain: Sequence[Channel], preferred: Channel | None) -> tuple[Channel, ...]:
    if preferred is None or preferred not in chain:
        return tuple(chain)
    return (preferred, *(c for c in chain if c is not preferred))


def route(chain: Sequence[Channel], start: int, contacts: Sequence[Contact],
          preferred: Channel | None = None) -> Route | None:
    """The first channel from `start` on that has a usable contact, or None if none has.

    `contacts` are the delivery's own list row's current (not superseded) contacts in the order the
    row gave them (deliveries._row_contacts); within a channel the first usable one is used.
    """
    eff = effective_chain(chain, preferred)
    found: list[tuple[int, Channel, str]] = []
    for i in range(start, len(eff)):
        ch = eff[i]
        dest = next((c.value for c in contacts if usable(c, ch)), None)
        if dest is not None:
            found.append((i, ch, dest))
            if len(found) == 2:
                break
    if not found:
        return None
    i, ch, dest = found[0]
    return Route(i, ch, dest, has_fallback=len(found) > 1)
