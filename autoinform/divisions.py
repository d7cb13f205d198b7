"""The retailer's divisions (standard, Table 1); reports roll up by these (6.2.4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform.models import Division


@dataclass(frozen=True)
class DivisionSeed:
    code: str
    name: str
    kind: str  # central | ros | city_point
    locality: str
    aliases: tuple[str, ...] = ()


# Localities as Table 1 lists them, in the same order as the divisions.
DIVISIONS: tuple[DivisionSeed, ...] = (
    DivisionSeed("central", "Центральный офис", "central", "г. Астрахань", ("цо", "центральный офис")),
    DivisionSeed("harabali", "Харабалинский РОС", "ros", "г. Харабали", ("харабалинский",)),
    DivisionSeed("krasnyi-yar", "Красноярский РОС", "ros", "с. Красный Яр", ("красноярский",)),
    DivisionSeed("volodarsky", "Володарский РОС", "ros", "с. Володаровка", ("володарский",)),
    DivisionSeed("liman", "Лиманский РОС", "ros", "п. Лиман", ("лиманский",)),
    DivisionSeed("kamyzyak", "Камызякский РОС", "ros", "г. Камызяк", ("камызякский",)),
    DivisionSeed("ikryanoe", "Икрянинский РОС", "ros", "с. Икряное", ("икрянинский",)),
    DivisionSeed("privolzhsky", "Приволжский РОС", "ros", "с. Началово", ("приволжский",)),
    DivisionSeed("narimanov", "Наримановский РОС", "ros", "г. Астрахань (Трусово)", ("наримановский",)),
    DivisionSeed("akhtubinsk", "Ахтубинский РОС", "ros", "г. Ахтубинск", ("ахтубинский",)),
    DivisionSeed("kapustin-yar", "Капустиноярский РОС", "ros", "с. Капустин Яр", ("капустиноярский",)),
    DivisionSeed("enotaevka", "Енотаевский РОС", "ros", "с. Енотаевка", ("енотаевский",)),
    DivisionSeed("cherny-yar", "Черноярский РОС", "ros", "с. Черный Яр", ("черноярский",)),
    DivisionSeed("central-point", "Центральный абонентский пункт", "city_point",
                 "г. Астрахань, ул. Сов. Милиции, 42", ("центральный", "центральный ап")),
    DivisionSeed("trusovo-point", "Трусовский абонентский пункт", "city_point",
                 "г. Астрахань, с. Солянка, ул. Дорожная, д. 1В", ("трусовский", "трусовский ап")),
)


def _key(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def alias_index() -> dict[str, str]:
    """Every accepted spelling of a division (code, full name, short name) → its code."""
    index: dict[str, str] = {}
    for d in DIVISIONS:
        for spelling in (d.code, d.name, *d.aliases):
            index[_key(spelling)] = d.code
    return index


_ALIASES = alias_index()


def resolve(text: str) -> str | None:
    """The division code a billing export's "РОС"/"подразделение" cell names, if any."""
    key = _key(text)
    if key in _ALIASES:
        return _ALIASES[key]
    for suffix in (" рос", " ап", " абонентский пункт"):
        if key.endswith(suffix) and key[: -len(suffix)] in _ALIASES:
            return _ALIASES[key[: -len(suffix)]]
    return None


def seed_divisions(session: Session) -> int:
    """Insert missing divisions; returns how many were added (idempotent)."""
    have = set(session.scalars(select(Division.code)))
    added = 0
    for d in DIVISIONS:
        if d.code not in have:
            session.add(Division(code=d.code, name=d.name, kind=d.kind, address=d.locality))
            added += 1
    return added
