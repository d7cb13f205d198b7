"""BulkStatement writes exactly what SQLAlchemy's own executemany writes, on both backends (AI-2:
the dispatcher's attempts and results go through it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Column, Enum, Integer, MetaData, String, Table, insert, select

from autoinform.bulk import BulkStatement
from autoinform.models import Channel, UTCDateTime
from autoinform.runtime import Runtime

META = MetaData()
ROWS = Table("bulk_probe", META,
             Column("id", Integer, primary_key=True),
             Column("at", UTCDateTime()),
             Column("channel", Enum(Channel, name="probe_channel", native_enum=False, length=16)),
             Column("detail", JSON()),
             Column("note", String(40), nullable=True))
ASTRAKHAN = ZoneInfo("Europe/Astrakhan")
AT = datetime(2026, 12, 7, 12, 30, 15, 123456, tzinfo=ASTRAKHAN)


@pytest.fixture
def table(rt: Runtime) -> Iterator[Table]:
    META.create_all(rt.engine)
    try:
        yield ROWS
    finally:
        META.drop_all(rt.engine)


def rows_of(rt: Runtime) -> list[tuple[object, ...]]:
    with rt.engine.connect() as c:
        return [tuple(r) for r in c.execute(select(ROWS).order_by(ROWS.c.id))]


def test_insert_matches_core_executemany(rt: Runtime, table: Table) -> None:
    values = [
        {"id": 1, "at": AT, "channel": Channel.EMAIL, "detail": {"size": 1, "ключ": "значение"}, "note": "a"},
        {"id": 2, "at": None, "channel": Channel.SMS, "detail": {}, "note": None},
    ]
    with rt.engine.begin() as c:
        c.execute(insert(table), values)
    expected = rows_of(rt)
    with rt.engine.begin() as c:
        c.execute(table.delete())
    bulk = BulkStatement.insert(table, ["id", "at", "channel", "detail", "note"])
    with rt.engine.begin() as c:
        bulk.run(c, values)
    assert rows_of(rt) == expected
    assert expected[0][1] == AT.astimezone(UTC)  # aware UTC back, microseconds kept


def test_same_values_are_given_once(rt: Runtime, table: Table) -> None:
    bulk = BulkStatement.insert(table, ["id", "at", "channel", "detail", "note"])
    with rt.engine.begin() as c:
        bulk.run(c, [{"id": i, "note": f"n{i}"} for i in (1, 2, 3)],
                 same={"at": AT, "channel": Channel.PHONE, "detail": {"k": 1}})
    assert [(r[0], r[2], r[3], r[4]) for r in rows_of(rt)] == [
        (i, Channel.PHONE, {"k": 1}, f"n{i}") for i in (1, 2, 3)]
    assert {r[1] for r in rows_of(rt)} == {AT}


def test_update_by_id(rt: Runtime, table: Table) -> None:
    with rt.engine.begin() as c:
        c.execute(insert(table), [{"id": i, "at": AT, "channel": Channel.EMAIL, "detail": {}, "note": "old"}
                                  for i in (1, 2, 3)])
        BulkStatement.update_by_id(table, ["at", "note"]).run(
            c, [{"id": 1, "at": AT + timedelta(hours=1), "note": None}, {"id": 3, "at": None, "note": "new"}])
    rows = {r[0]: (r[1], r[4]) for r in rows_of(rt)}
    assert rows == {1: (AT + timedelta(hours=1), None), 2: (AT, "old"), 3: (None, "new")}


def test_a_row_missing_a_key_is_an_error_not_a_null(rt: Runtime, table: Table) -> None:
    bulk = BulkStatement.insert(table, ["id", "at", "channel", "detail", "note"])
    with pytest.raises(KeyError), rt.engine.begin() as c:
        bulk.run(c, [{"id": 1, "at": AT, "channel": Channel.EMAIL, "detail": {}}])
    assert rows_of(rt) == []


def test_keys_must_match_the_statement(rt: Runtime, table: Table) -> None:
    bulk = BulkStatement(insert(table).values(id=1), ["id", "note"])
    with pytest.raises(ValueError, match="binds"), rt.engine.begin() as c:
        bulk.run(c, [{"id": 1, "note": "x"}])
