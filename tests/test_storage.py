"""Storage on both backends: migrations, seeded divisions, UTC round trip, constraints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from autoinform import db
from autoinform.divisions import DIVISIONS, resolve, seed_divisions
from autoinform.models import (
    Channel,
    ContactPoint,
    ContactSource,
    Customer,
    Division,
    LineType,
)
from autoinform.runtime import Runtime, open_runtime


def test_migrated_to_head_with_fifteen_divisions(rt: Runtime) -> None:
    assert db.current_revision(rt.engine) is not None
    with rt.sessions() as s:
        names = set(s.scalars(select(Division.name)))
    assert len(names) == 15 == len(DIVISIONS)
    assert {"Харабалинский РОС", "Черноярский РОС", "Трусовский абонентский пункт"} <= names


def test_start_up_is_idempotent(rt: Runtime) -> None:
    again = open_runtime(rt.settings)
    try:
        with again.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Division)) == 15
            assert seed_divisions(s) == 0
    finally:
        again.close()


def test_timestamps_round_trip_as_aware_utc(rt: Runtime) -> None:
    astrakhan = timezone(timedelta(hours=4))
    at = datetime(2026, 12, 5, 10, 30, tzinfo=astrakhan)
    with db.transaction(rt.sessions) as s:
        c = Customer(account="300000001", name="Иванов Иван", group=1, created_at=at)
        s.add(c)
    with rt.sessions() as s:
        got = s.scalars(select(Customer.created_at)).one()
    assert got == at and got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got == datetime(2026, 12, 5, 6, 30, tzinfo=UTC)


def test_naive_datetime_is_refused(rt: Runtime) -> None:
    with pytest.raises(Exception, match="naive"), db.transaction(rt.sessions) as s:
        s.add(Customer(account="1", name="x", group=1, created_at=datetime(2026, 1, 1)))


def test_contact_point_unique_per_customer_channel_value(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        c = Customer(account="300000002", name="Петрова Анна", group=1)
        s.add(c)
        s.flush()
        s.add(ContactPoint(customer_id=c.id, channel=Channel.PHONE, value="+79001234567",
                           line_type=LineType.MOBILE, source=ContactSource.CONTRACT))
    with pytest.raises(IntegrityError), db.transaction(rt.sessions) as s:
        s.add(ContactPoint(customer_id=c.id, channel=Channel.PHONE, value="+79001234567",
                           line_type=LineType.MOBILE, source=ContactSource.VOLUNTARY))


@pytest.mark.parametrize(("cell", "code"), [
    ("Харабалинский РОС", "harabali"), ("харабалинский", "harabali"), ("ЧЕРНОЯРСКИЙ рос", "cherny-yar"),
    ("Трусовский АП", "trusovo-point"), ("central", "central"), ("Нет такого", None),
])
def test_division_aliases(cell: str, code: str | None) -> None:
    assert resolve(cell) == code


@pytest.mark.postgres
@pytest.mark.parametrize("query", ["", "?password=s3cret", "?no_such_option=1"])
def test_failing_migration_error_has_no_password(pg_admin_url: str, query: str) -> None:
    """Issue 8 item 12 (AI-19): a migration that cannot run says why and where, without the password
    (in the userinfo or the query), as a StorageError the CLI prints."""
    from sqlalchemy.engine import make_url

    from autoinform.errors import StorageError

    url = make_url(pg_admin_url).set(password="s3cret", database="autoinform_no_such_db")
    engine = db.make_engine(url.render_as_string(hide_password=False) + query)
    try:
        with pytest.raises(StorageError) as err:
            db.upgrade(engine)
    finally:
        engine.dispose()
    assert "s3cret" not in str(err.value) and "autoinform_no_such_db" in str(err.value)


def test_unparsable_database_url_error_has_no_password() -> None:
    """Issue 8 item 12: a malformed URL is a ConfigError that does not repeat the password."""
    from autoinform.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        db.make_engine("postgresql://u:s3cret@h:notaport/db")
    assert "s3cret" not in str(err.value) and "u:***@h:notaport" in str(err.value)
