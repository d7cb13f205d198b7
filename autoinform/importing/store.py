"""Bulk writes for the importer: Core executemany on SQLite, COPY on PostgreSQL.

Rows are dicts of column → Python value as the models' Core tables take them (aware datetimes,
dicts for JSON); the COPY writer converts them to what PostgreSQL's text COPY expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, JSON, ColumnElement, Connection, Table, any_, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from autoinform.models import UTCDateTime

Row = dict[str, Any]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)  # UTCDateTime columns hold naive UTC


def _json_value(value: Any) -> Any:
    return None if value is None else json.dumps(value, ensure_ascii=False)


class BulkWriter:
    """Plain inserts of new rows and conflict-ignoring inserts, per backend."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self.postgres:
            self._copy(table, list(rows[0]), rows)
        else:
            self.conn.execute(insert(table), list(rows))

    def insert_ignoring_conflicts(self, table: Table, rows: Sequence[Row], keys: Sequence[str]) -> None:
        """INSERT … ON CONFLICT (keys) DO NOTHING: rows that already exist stay as they are."""
        if not rows:
            return
        dialect_insert = postgresql.insert if self.postgres else sqlite.insert
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys))
        self.conn.execute(stmt, list(rows))

    def _copy(self, table: Table, columns: list[str], rows: Iterable[Row]) -> None:
        json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
        time_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
        naive: dict[datetime, datetime] = {}  # a batch shares one timestamp: convert it once
        names = ", ".join(f'"{c}"' for c in columns)
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                values = [row[c] for c in columns]
                for i in json_at:
                    values[i] = _json_value(values[i])
                for i in time_at:
                    v = values[i]
                    if v is not None:
                        values[i] = naive.get(v) or naive.setdefault(v, _naive_utc(v))
                copy.write_row(values)

    def ids_by_key(self, table: Table, key: str, values: list[str]) -> dict[str, int]:
        """{key value: id} for the rows whose `key` column is one of `values`."""
        col = table.c[key]
        return {k: i for k, i in self.conn.execute(select(col, table.c.id).where(self._in(col, values)))}

    def rows_where_in(self, table: Table, key: str, values: Sequence[Any], columns: Sequence[ColumnElement[Any]],
                      where: ColumnElement[bool] | None = None) -> list[tuple[Any, ...]]:
        """`columns` of the rows whose `key` column is one of `values` (and that match `where`)."""
        stmt = select(*columns).where(self._in(table.c[key], values))
        if where is not None:
            stmt = stmt.where(where)
        return [tuple(r) for r in self.conn.execute(stmt)]

    def _in(self, col: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        # PostgreSQL: one array parameter instead of thousands of bound ones.
        if self.postgres:
            return col == any_(bindparam(None, list(values), type_=ARRAY(col.type)))
        return col.in_(list(values))
