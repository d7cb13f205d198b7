"""Executemany on the DBAPI cursor for the dispatcher's per-message writes (issue 3).

SQLAlchemy still writes the SQL, compiled once per dialect, and its column types still convert
every value (UTC datetimes, enums, JSON). What is skipped is its per-row parameter machinery,
which cost more than SQLite's own work for these narrow rows (bench/dispatcher, bench/email_engine).
The statements run on the session's connection, inside its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.dml import ValuesBase

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    binds: tuple[str, ...]  # bind names in the order the driver takes them
    keys: tuple[str, ...]  # the row key of each bind
    processors: tuple[Processor, ...]
    positional: bool


class BulkStatement:
    """An INSERT or UPDATE run with one mapping (key -> Python value) per row; keys whose value is
    the same for every row can be given once. A row key is its bind name without `bind_prefix`."""

    def __init__(self, stmt: ValuesBase, keys: Sequence[str], *, bind_prefix: str = "") -> None:
        self._stmt = stmt
        self.keys = tuple(keys)
        self._prefix = bind_prefix
        self._compiled: dict[str, _Compiled] = {}

    @classmethod
    def insert(cls, table: Table, columns: Sequence[str]) -> BulkStatement:
        return cls(insert(table).values({c: bindparam(c) for c in columns}), columns)

    @classmethod
    def update_by_id(cls, table: Table, columns: Sequence[str]) -> BulkStatement:
        """UPDATE table SET columns... WHERE id = :id; rows carry "id" and every column."""
        # Bind names must differ from column names in an UPDATE's SET clause.
        stmt = update(table).where(table.c.id == bindparam("_id")).values(
            {c: bindparam(f"_{c}") for c in columns})
        return cls(stmt, [*columns, "id"], bind_prefix="_")

    @classmethod
    def update_claimed(cls, table: Table, columns: Sequence[str]) -> BulkStatement:
        """UPDATE ... WHERE id = :id AND state = :claimed_state AND lease_owner = :owner: a write
        that only the holder of a lease can make (rows carry "id"; give the other two in `same`)."""
        stmt = update(table).where(table.c.id == bindparam("_id"), table.c.state == bindparam("_claimed_state"),
                                   table.c.lease_owner == bindparam("_owner")).values(
            {c: bindparam(f"_{c}") for c in columns})
        return cls(stmt, [*columns, "id", "claimed_state", "owner"], bind_prefix="_")

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._stmt.compile(dialect=dialect)
            binds = tuple(compiled.positiontup) if dialect.positional and compiled.positiontup else tuple(
                compiled.binds)
            keys = tuple(b.removeprefix(self._prefix) for b in binds)
            if set(keys) != set(self.keys):
                raise ValueError(f"statement binds {sorted(keys)}, not {sorted(self.keys)}")
            processors = tuple(compiled.binds[b].type.dialect_impl(dialect).bind_processor(dialect)
                               for b in binds)
            found = self._compiled[dialect.name] = _Compiled(compiled.string, binds, keys, processors,
                                                             bool(dialect.positional))
        return found

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]],
            same: Mapping[str, Any] | None = None) -> int:
        """Execute once per row: `rows` give the keys that vary, `same` those that do not (each
        converted once). Returns the rows matched, summed over the parameter sets."""
        if not rows:
            return 0
        c = self._for(conn.dialect)
        same = same or {}
        template: list[Any] = [None] * len(c.keys)
        varying: list[tuple[int, str, Processor]] = []
        for i, (key, proc) in enumerate(zip(c.keys, c.processors, strict=True)):
            if key in same:
                template[i] = proc(same[key]) if proc is not None else same[key]
            else:
                varying.append((i, key, proc))
        params: list[Any] = []
        for row in rows:
            values = template.copy()
            for i, key, proc in varying:
                values[i] = proc(row[key]) if proc is not None else row[key]
            params.append(tuple(values) if c.positional else dict(zip(c.binds, values, strict=True)))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(c.sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()
