"""Bulk writes for the importer: Core executemany on SQLite, COPY on PostgreSQL.

Rows are dicts of column → Python value as the models' Core tables take them (aware datetimes,
dicts for JSON); the COPY writer converts them to what PostgreSQL's text COPY expects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

Row = dict[str, Any]


def _copy_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)  # columns hold naive UTC
    return value


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
        converters: list[Callable[[Any], Any]] = [
            _json_value if isinstance(table.c[c].type, JSON) else _copy_value for c in columns
        ]
        pairs = list(zip(columns, converters, strict=True))
        names = ", ".join(f'"{c}"' for c in columns)
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([conv(row[c]) for c, conv in pairs])
