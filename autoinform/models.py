"""SQLAlchemy 2 typed models: the database is the engine's single source of truth.

Money is integer kopecks everywhere (SQLite stores Numeric as REAL and sums drift).
Timestamps are stored as naive UTC and handed out time-zone aware (UTCDateTime).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012


class Channel(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"


class ContactSource(enum.StrEnum):
    CONTRACT = "contract"  # the number written in the supply contract (phone calls, AI-11)
    VOLUNTARY = "voluntary"  # given by the customer of their own will (SMS, e-mail, AI-11)


class LineType(enum.StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    UNKNOWN = "unknown"
    EMAIL = "email"


class Role(enum.StrEnum):
    SPECIALIST = "specialist"
    MANAGER = "manager"
    OPERATOR = "operator"
    ADMIN = "admin"
    VIEWER = "viewer"  # sees the pages and counts, changes nothing, personal data masked (issue 12)


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for its next_attempt_at
    CLAIMED = "claimed"  # leased by a dispatcher worker
    AWAITING = "awaiting"  # handed to a provider, final status still to come (SMS)
    DONE = "done"  # final result recorded


class Outcome(enum.StrEnum):
    POSITIVE = "positive"  # received (AI-14)
    NEGATIVE = "negative"  # transmitted, not received (AI-14)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16,
                values_callable=lambda e: [m.value for m in e])


class Division(Base):
    __tablename__ = "divisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # central | ros | city_point
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # argon2id hash (autoinform/users.py); None: no web log-in until `autoinform users passwd`.
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Failed log-ins since the last success: log-in throttling per login (autoinform/web/throttle.py).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_login_at: Mapped[datetime | None] = mapped_column(default=None)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    group: Mapped[int] = mapped_column(Integer)  # clause 3: 1 households .. 4 budget-funded
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id"))
    address: Mapped[str] = mapped_column(String(500), default="")
    # The channel the customer asked to be informed by (AI-12); tried first when consented.
    preferred_channel: Mapped[Channel | None] = mapped_column(_enum(Channel, "channel"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    division: Mapped[Division | None] = relationship()
    contacts: Mapped[list[ContactPoint]] = relationship(back_populates="customer")


class ContactPoint(Base):
    """A phone number or address and where it came from (AI-11).

    A list import restates, for each customer it carries, the customer's contacts of each kind its
    file has a column for (contract phone, SMS mobile, e-mail: see autoinform/importing/importer.py);
    the customer's contacts of that kind the newer file no longer has get `superseded_at` (and the
    list that did it) and are never used again, unless a later import carries them once more.
    """

    __tablename__ = "contact_points"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    value: Mapped[str] = mapped_column(String(320))  # E.164 or lower-cased e-mail
    line_type: Mapped[LineType] = mapped_column(_enum(LineType, "line_type"))
    source: Mapped[ContactSource] = mapped_column(_enum(ContactSource, "contact_source"))
    source_ref: Mapped[str] = mapped_column(String(200), default="")  # list file and row it came from
    consent: Mapped[bool] = mapped_column(Boolean, default=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(default=None)
    superseded_by_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_lists.id", ondelete="SET NULL"), default=None)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class ContactList(Base):
    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_file: Mapped[str] = mapped_column(String(500), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_merged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class ListRow(Base):
    __tablename__ = "list_rows"
    __table_args__ = (UniqueConstraint("list_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    # Per-row variables; money as integer kopecks, dates as ISO strings.
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Which kinds of contact the row's file cells restated (importing.normalise.KIND_BITS): the
    # customer's other contacts of those kinds are superseded when the list is complete.
    contact_kinds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ListRowContact(Base):
    """The contacts a list row gave, in the order it gave them: a campaign writes to these (AI-11).

    Rows of one account merged within a file add their contacts after the first row's. No foreign
    keys: on PostgreSQL they cost a lookup per row of a million-row COPY (the link copy took three
    times as long); list rows go only with their incomplete list, whose links _start_list deletes
    first, and contact points only with their customer, whom nothing deletes.
    """

    __tablename__ = "list_row_contacts"

    list_row_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # list_rows.id
    contact_point_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)  # contact_points.id
    position: Mapped[int] = mapped_column(Integer)  # increasing in the row's order; gaps allowed


class ListRejection(Base):
    __tablename__ = "list_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(100), default="")
    # "rejected": the row was not imported; "warning": it was, without this field (bad phone beside a
    # good e-mail). Only "rejected" rows count in ContactList.rows_rejected.
    kind: Mapped[str] = mapped_column(String(16), default="rejected", server_default="rejected")
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text, default="")


class ScenarioVersion(Base):
    """A stored snapshot of a scenario exactly as it ran (AI-3)."""

    __tablename__ = "scenario_versions"
    __table_args__ = (UniqueConstraint("name", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenario_versions.id"))
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id"))
    channels: Mapped[list[Any]] = mapped_column(default=list)  # ordered fallback chain
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    state: Mapped[CampaignState] = mapped_column(_enum(CampaignState, "campaign_state"),
                                                 default=CampaignState.DRAFT, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last preflight (autoinform/preflight.py) at create, approve or start: counts, errors and
    # the warnings the approver sees (issue 9 item 1).
    preflight: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    scenario: Mapped[ScenarioVersion] = relationship()
    contact_list: Mapped[ContactList] = relationship()


class Delivery(Base):
    """One customer of one campaign; ends with exactly one final result (AI-2, AI-14)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    list_row_id: Mapped[int] = mapped_column(ForeignKey("list_rows.id"))
    channel_index: Mapped[int] = mapped_column(Integer, default=0)  # position in the fallback chain
    channel: Mapped[Channel | None] = mapped_column(_enum(Channel, "channel"), default=None)
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState, "delivery_state"),
                                                 default=DeliveryState.PENDING)
    next_attempt_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # attempts on the current channel
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"), default=None)
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    # Why, in words, when the short `reason` code is not enough ("missing variable hotline_phone"):
    # reports group by `reason` and show this beside it (issue 9 item 2).
    reason_text: Mapped[str | None] = mapped_column(String(300), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Attempt(Base):
    """One try on one channel; rows are only ever added, never overwritten (AI-2)."""

    __tablename__ = "attempts"
    # The per-customer call limits read the last call to each number (deliveries.claim).
    __table_args__ = (Index("ix_attempts_destination_started", "destination", "started_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    destination: Mapped[str] = mapped_column(String(320))
    worker: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    disposition: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"), default=None)
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    retry: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                                     default=None)
    content: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ProviderEvent(Base):
    """A status a provider reported (SMS delivery report, call end), stored before it is applied.

    Reports can arrive before the attempt that caused them is recorded, or while no worker runs;
    keeping them as rows means none is lost and housekeeping applies the rest later. `applied_at`
    is when the row was settled: applied to its attempt, or retired with `retired_reason` when no
    attempt claimed it within dispatch.unmatched_status_s (so unsettled rows, and the index on
    them, stay few however many stray reports come in).
    """

    __tablename__ = "provider_events"
    # Only unsettled rows, in arrival order: applying and retiring read these and no others, so
    # their cost follows the reports still waiting, not every report ever received.
    __table_args__ = (Index("ix_provider_events_unsettled", "id", sqlite_where=text("applied_at IS NULL"),
                            postgresql_where=text("applied_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    provider_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"), default=None)
    reason: Mapped[str] = mapped_column(String(64), default="")
    error_code: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The provider says a negative outcome may turn with another attempt later (ProviderStatus.retry).
    retry: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(default=None)
    retired_reason: Mapped[str | None] = mapped_column(String(64), default=None)


class StopEntry(Base):
    """Accounts whose pending notices must be cancelled (for example: they have paid)."""

    __tablename__ = "stop_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(64), default="paid")
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Generation(Base):
    """A counter bumped in the same transaction as every change a send must see at its instant
    (campaign states and ends: "campaigns"; stop-list uploads: "stop_list"). Dispatchers read these
    few rows before each send and reload only what a changed counter covers (issue 8 item 1)."""

    __tablename__ = "generations"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class EngineWorker(Base):
    """Who runs under a lease-owner name: an engine takes back its previous life's leases at start
    by that name, so a second live engine under the same name must be refused, not let in."""

    __tablename__ = "engine_workers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime] = mapped_column()


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- hotline back office (issue 11) ------------------------------------------------------------


class BillingImport(Base):
    """One `autoinform billing import` of a balance export (HL-8): read = stored + older + rejected."""

    __tablename__ = "billing_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_file: Mapped[str] = mapped_column(String(500), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    actor: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(Integer, default=0)  # now the account's latest balance
    rows_older: Mapped[int] = mapped_column(Integer, default=0)  # a newer balance was already stored
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


class BillingRejection(Base):
    __tablename__ = "billing_rejections"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("billing_imports.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text, default="")


class AccountBalance(Base):
    """The latest balance of an account from the billing export (HL-8): > 0 a debt, < 0 an
    overpayment, in kopecks; an export older than `as_of` never replaces it."""

    __tablename__ = "account_balances"

    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount_kopecks: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[date] = mapped_column(Date)
    import_id: Mapped[int] = mapped_column(ForeignKey("billing_imports.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeterReading(Base):
    """One register's reading (HL-7); a day/night pair is two rows with the same `at` and call."""

    __tablename__ = "meter_readings"
    __table_args__ = (Index("ix_meter_readings_account_at", "account", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account: Mapped[str] = mapped_column(String(32))
    register: Mapped[str] = mapped_column(String(8))  # single | day | night
    value: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(8))  # phone | sms
    call_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    caller: Mapped[str] = mapped_column(String(32), default="")  # masked in every log line
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class HotlineTask(Base):
    """A callback, feedback or visit request with its deadline, worked to an outcome (HL-2, HL-9,
    HL-10, QI-2)."""

    __tablename__ = "hotline_tasks"
    __table_args__ = (Index("ix_hotline_tasks_state_deadline", "state", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | taken | done
    caller: Mapped[str] = mapped_column(String(32))
    account: Mapped[str | None] = mapped_column(String(32), default=None)
    recording_path: Mapped[str | None] = mapped_column(String(500), default=None)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    deadline: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_by: Mapped[str | None] = mapped_column(String(64), default=None)
    taken_at: Mapped[datetime | None] = mapped_column(default=None)
    done_by: Mapped[str | None] = mapped_column(String(64), default=None)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    outcome_note: Mapped[str] = mapped_column(String(1000), default="")


class HotlineCall(Base):
    """One hotline call (HL-5), upserted by Asterisk's uniqueid."""

    __tablename__ = "hotline_calls"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    menu_path: Mapped[list[Any]] = mapped_column(default=list)
    menu_reached_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    account: Mapped[str | None] = mapped_column(String(32), default=None)
    survey: Mapped[int | None] = mapped_column(Integer, default=None)
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False)


class HotlineQueueEvent(Base):
    """What the operator queue's AMI events said about a caller (HL-4, HL-5)."""

    __tablename__ = "hotline_queue_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # join | connect | abandon | timeout
    at: Mapped[datetime] = mapped_column(index=True)
    hold_s: Mapped[float | None] = mapped_column(default=None)
    member: Mapped[str | None] = mapped_column(String(128), default=None)


class Recording(Base):
    """A caller's message on disk; removed with its file after hotline.recording_retention_days.
    Every listening or download is an audit_log entry (AI-19)."""

    __tablename__ = "hotline_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(500), unique=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_tasks.id", ondelete="SET NULL"),
                                                default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class InboundSms(Base):
    """Every signed inbound SMS to the readings webhook, with what was answered (HL-7): none lost."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(String(1600))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    result: Mapped[str] = mapped_column(String(32))  # accepted | malformed | unknown_sender | a refusal
    reply: Mapped[str] = mapped_column(String(1600))


class WebSession(Base):
    """A browser's log-in (issue 12): the cookie holds a random id, only its SHA-256 is stored, so a
    copy of the table logs nobody in. Expiry (idle and absolute) is decided from web settings."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    client: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(Base):
    """A personal API token (scripts, the command line): only its SHA-256 is stored; the token
    itself is shown once when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


# --- Recurring campaign templates and the billing drop folder (issue 14) -------------------------


class CampaignTemplate(Base):
    """A routine campaign formed again every period (AI-3, AI-4, AI-7, AI-15): what to send
    (scenario, channel chain), to whom (the newest import of `source` not used before), when
    (days `first_day`..`last_day` of the period, `start_minute`..`end_minute` local time) and who
    is asked to approve. The schedule is computed from these columns (autoinform/templates/)."""

    __tablename__ = "campaign_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scenario: Mapped[str] = mapped_column(String(100))  # scenarios/NAME.yaml, snapshotted when formed
    channels: Mapped[list[Any]] = mapped_column(default=list)  # ordered fallback chain
    source: Mapped[str] = mapped_column(String(200))  # "drop:GLOB" (drop-folder file) | "list:GLOB" (list name)
    period: Mapped[str] = mapped_column(String(16))  # monthly | weekly
    first_day: Mapped[int] = mapped_column(Integer)  # day of month, or ISO weekday 1=Monday
    last_day: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)  # local minutes after midnight
    end_minute: Mapped[int] = mapped_column(Integer)
    form_days_before: Mapped[int] = mapped_column(Integer, default=2)  # drafts formed this early
    approvers: Mapped[list[Any]] = mapped_column(default=list)  # logins and "role:NAME"
    notify_emails: Mapped[list[Any]] = mapped_column(default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TemplateRun(Base):
    """One period of one template: its history. Unique per (template, period), so a restarted engine
    or a second engine process never forms a period's campaign twice."""

    __tablename__ = "template_runs"
    __table_args__ = (UniqueConstraint("template_id", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("campaign_templates.id", ondelete="CASCADE"), index=True)
    period_key: Mapped[str] = mapped_column(String(16))  # 2026-12 | 2026-W49
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    # formed (draft waiting for approval) | started | not_approved | refused | no_list | cancelled
    state: Mapped[str] = mapped_column(String(16), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), default=None)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contact_lists.id"), default=None)
    detail: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TemplateNotice(Base):
    """"A campaign waits for your approval": one row per approver (the web app lists a user's
    rows), and the e-mail sent for it, if any (sent after the forming transaction commits)."""

    __tablename__ = "template_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("template_runs.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    recipient: Mapped[str] = mapped_column(String(320), index=True)  # a login, or an e-mail address
    kind: Mapped[str] = mapped_column(String(16))  # user | email
    text: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # e-mail: pending | sent | failed: …; user rows: "" until read
    status: Mapped[str] = mapped_column(String(300), default="")
    done_at: Mapped[datetime | None] = mapped_column(default=None)


class DropFile(Base):
    """A file taken from the billing drop folder. `unique_sha256` is set only for the file whose
    content was imported, so the same content is imported once however often it is dropped."""

    __tablename__ = "drop_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    unique_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))  # importing | imported | duplicate | failed
    list_id: Mapped[int | None] = mapped_column(ForeignKey("contact_lists.id"), default=None)
    detail: Mapped[str] = mapped_column(String(2000), default="")
    moved_to: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- operator desk (issue 13) ------------------------------------------------------------------


class DeskOperator(Base):
    """An operator's phone: the queue member interface the queue rings for them (`PJSIP/201`,
    `Local/201@operators`); AgentConnect names it, and the screen-pop goes to this user alone."""

    __tablename__ = "desk_operators"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    interface: Mapped[str] = mapped_column(String(128), unique=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DeskCall(Base):
    """A call the queue connected to an operator (AI-8, HL-4), keyed by the caller's uniqueid, with
    the operator's wrap-up (topic, note, the task it made); joins hotline_calls by call_id (HL-5)."""

    __tablename__ = "desk_calls"
    __table_args__ = (Index("ix_desk_calls_operator_connected", "operator_id", "connected_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the caller's Uniqueid
    linked_id: Mapped[str] = mapped_column(String(64), default="")
    queue: Mapped[str] = mapped_column(String(64), default="")
    interface: Mapped[str] = mapped_column(String(128))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    caller: Mapped[str] = mapped_column(String(32), default="")
    account: Mapped[str | None] = mapped_column(String(32), default=None)
    attempt_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # a notification's transfer
    hold_s: Mapped[float | None] = mapped_column(default=None)
    connected_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    topic: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str] = mapped_column(String(2000), default="")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_tasks.id", ondelete="SET NULL"),
                                                default=None)
    wrapped_at: Mapped[datetime | None] = mapped_column(default=None)


class DeskCallback(Base):
    """A "call back" placed from the desk on a task (QI-2): the operator's phone first, then the
    customer; what Asterisk answered is kept."""

    __tablename__ = "desk_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("hotline_tasks.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    interface: Mapped[str] = mapped_column(String(128))
    number: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    result: Mapped[str] = mapped_column(String(32), default="placed")  # placed | answered | busy | …
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
