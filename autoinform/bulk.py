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
    names: tuple[str, ...]  # bind names in the order the driver takes them
    processors: tuple[Processor, ...]
    positional: bool


class BulkStatement:
    """An INSERT or UPDATE whose bind parameters are named after `keys`; run with one mapping
    (key -> Python value) per row. Keys whose value is the same for every row can be given once."""

    def __init__(self, stmt: ValuesBase, keys: Sequence[str]) -> None:
        self._stmt = stmt
        self.keys = tuple(keys)
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
        return cls(stmt, [f"_{c}" for c in columns] + ["_id"])

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._stmt.compile(dialect=dialect)
            names = tuple(compiled.positiontup) if dialect.positional and compiled.positiontup else self.keys
            if set(names) != set(self.keys):
                raise ValueError(f"statement binds {sorted(names)}, not {sorted(self.keys)}")
            processors = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect)
                               for n in names)
            found = self._compiled[dialect.name] = _Compiled(compiled.string, names, processors,
                                                             bool(dialect.positional))
        return found

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]],
            same: Mapping[str, Any] | None = None) -> None:
        """Execute once per row. `rows` give the keys that vary; `same` the ones that do not
        (converted once). For update_by_id, keys are the column names and "id", unprefixed."""
        if not rows:
            return
        c = self._for(conn.dialect)
        same = same or {}
        prefix = "_" if self.keys[-1] == "_id" else ""
        fixed: dict[int, Any] = {}
        varying: list[tuple[int, str, Processor]] = []
        for i, (name, proc) in enumerate(zip(c.names, c.processors, strict=True)):
            key = name[len(prefix):]
            if key in same:
                fixed[i] = proc(same[key]) if proc else same[key]
            else:
                varying.append((i, key, proc))
        template = [fixed.get(i) for i in range(len(c.names))]
        params: list[Any] = []
        for row in rows:
            values = template.copy()
            for i, key, proc in varying:
                values[i] = proc(row[key]) if proc is not None else row[key]
            params.append(tuple(values) if c.positional else dict(zip(c.names, values, strict=True)))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(c.sql, params)
        finally:
            cursor.close()
