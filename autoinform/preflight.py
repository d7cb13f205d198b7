"""Preflight: will this campaign work, and what will it do? (issue 9 item 1; AI-3, AI-7, AI-11, AI-13, AI-16)

One check for every step that commits to a campaign (create, approve, start: campaigns.py runs it
when given the settings, so the CLI and the API share it). For the campaign's scenario, list and
channel chain it counts who can be reached with consent on each channel (routing.usable's rule, on
each list row's own current contacts, as the claim routes), which rows lack a variable the
scenario needs, whether each channel can be sent on, and when the first message can leave.

Errors refuse the step (nobody reachable, a channel not configured, a required variable missing
everywhere); warnings (some rows lacking values, zero debts asked to be paid, a start outside the
window) are stored with the campaign and shown to whoever approves or starts it. Every count is
a set-based query over the list, so a 100k-row list costs a handful of statements.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, distinct, exists, false, func, literal, or_, select, true
from sqlalchemy.orm import Session

from autoinform.calendar import InformingWindow
from autoinform.config import Settings
from autoinform.errors import AutoinformError, RenderError, SkipDelivery
from autoinform.logs import scrub
from autoinform.models import (
    Campaign,
    Channel,
    ContactPoint,
    ContactSource,
    Customer,
    Division,
    LineType,
    ListRow,
    ListRowContact,
    ScenarioVersion,
    utcnow,
)

if TYPE_CHECKING:
    from autoinform.scenarios.model import ScenarioSpec
    from autoinform.scenarios.scenario import Scenario

FIRST_ROWS = 5  # row numbers named per finding
SAMPLE_ROWS = 20  # rows rendered on every channel of the chain to catch what counts cannot
SMTP_PROBE_TIMEOUT_S = 3.0
# Scenario kinds whose text asks the customer to pay: a zero or negative amount makes it wrong.
PAY_KINDS = frozenset({"debt_reminder", "payment_due", "restriction_warning"})
# Built-in variables a template may use that a customer can lack (send_date, group, account never).
CUSTOMER_FIELDS = ("name", "address", "division")


@dataclass(frozen=True)
class Finding:
    """One error or warning: a stable code (for programs), a sentence (for people), and what it
    counts with the first row numbers concerned (as the list file numbers them)."""

    code: str
    message: str
    count: int | None = None
    rows: tuple[int, ...] = ()
    channel: str | None = None
    variable: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.count is not None:
            data["count"] = self.count
        if self.rows:
            data["rows"] = list(self.rows)
        if self.channel is not None:
            data["channel"] = self.channel
        if self.variable is not None:
            data["variable"] = self.variable
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(code=data["code"], message=data["message"], count=data.get("count"),
                   rows=tuple(data.get("rows", ())), channel=data.get("channel"), variable=data.get("variable"))


@dataclass
class Preflight:
    step: str
    checked_at: datetime
    rows: int = 0
    chain: list[str] = field(default_factory=list)
    reachable: dict[str, int] = field(default_factory=dict)  # channel → rows with a usable contact
    reachable_any: int = 0  # rows reachable on at least one channel of the chain
    missing: dict[str, int] = field(default_factory=dict)  # variable → rows without a value for it
    first_send_at: datetime | None = None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, code: str, message: str, **kw: Any) -> None:
        self.errors.append(Finding(code, message, **kw))

    def warn(self, code: str, message: str, **kw: Any) -> None:
        self.warnings.append(Finding(code, message, **kw))

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "checked_at": self.checked_at.isoformat(), "rows": self.rows,
                "chain": self.chain, "reachable": self.reachable, "reachable_any": self.reachable_any,
                "missing": self.missing,
                "first_send_at": self.first_send_at.isoformat() if self.first_send_at else None,
                "errors": [f.to_json() for f in self.errors], "warnings": [f.to_json() for f in self.warnings]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preflight:
        first = data.get("first_send_at")
        return cls(step=data["step"], checked_at=datetime.fromisoformat(data["checked_at"]),
                   rows=data.get("rows", 0), chain=list(data.get("chain", [])),
                   reachable=dict(data.get("reachable", {})), reachable_any=data.get("reachable_any", 0),
                   missing=dict(data.get("missing", {})),
                   first_send_at=datetime.fromisoformat(first) if first else None,
                   errors=[Finding.from_json(f) for f in data.get("errors", [])],
                   warnings=[Finding.from_json(f) for f in data.get("warnings", [])])


class PreflightError(AutoinformError):
    """A step refused because the campaign cannot work; `result` has every error and warning."""

    def __init__(self, result: Preflight) -> None:
        lines = "\n".join(f"  - {f.message}" for f in result.errors)
        verb = {"create": "be created", "approve": "be approved"}.get(result.step, result.step)
        super().__init__(f"the campaign cannot {verb}: it cannot work as formed:\n{lines}")
        self.result = result


def window_of(settings: Settings) -> InformingWindow:
    w = settings.window
    return InformingWindow(tz=settings.tz, start=w.start, end=w.end, calendar=w.calendar, country=w.country)


def usable_sql(channel: Channel) -> ColumnElement[bool]:
    """routing.usable as SQL over contact_points (tests/test_preflight.py checks the two agree on
    every combination): calls to the contract number only; SMS to a voluntary mobile with consent;
    e-mail to a voluntary address with consent; an opt-out always wins. Superseded contacts are
    not the row's current contacts (deliveries._row_contacts) and never count."""
    cp = ContactPoint
    current = and_(cp.channel == channel, cp.opted_out_at.is_(None), cp.superseded_at.is_(None))
    if channel is Channel.PHONE:
        return and_(current, cp.source == ContactSource.CONTRACT)
    voluntary = and_(current, cp.source == ContactSource.VOLUNTARY, cp.consent == true())
    if channel is Channel.SMS:
        return and_(voluntary, cp.line_type == LineType.MOBILE)
    return voluntary


def _first_rows(session: Session, list_id: int, condition: ColumnElement[bool]) -> tuple[int, ...]:
    """The first row numbers of the list (as its file numbers them) meeting `condition`, which may
    name the row's customer and division."""
    stmt = (select(ListRow.row_number).join(Customer, Customer.id == ListRow.customer_id)
            .outerjoin(Division, Division.id == Customer.division_id)
            .where(ListRow.list_id == list_id, condition).order_by(ListRow.row_number).limit(FIRST_ROWS))
    return tuple(session.scalars(stmt))


def _rows_text(rows: Iterable[int], count: int) -> str:
    shown = ", ".join(map(str, rows))
    return f"rows {shown}{', …' if count > FIRST_ROWS else ''}" if shown else ""


def _reach(session: Session, pf: Preflight, list_id: int, chain: list[Channel]) -> None:
    """Per channel of the chain, how many rows have a usable contact; and on any of them."""
    link = (ListRow.id == ListRowContact.list_row_id, ContactPoint.id == ListRowContact.contact_point_id)
    any_usable = or_(*(usable_sql(c) for c in chain)) if chain else false()
    base = (select(ContactPoint.channel, func.count(distinct(ListRow.id)))
            .select_from(ListRow).join(ListRowContact, link[0]).join(ContactPoint, link[1])
            .where(ListRow.list_id == list_id, any_usable).group_by(ContactPoint.channel))
    counts = {Channel(ch): int(n) for ch, n in session.execute(base)}
    pf.reachable = {c.value: counts.get(c, 0) for c in chain}
    pf.reachable_any = int(session.scalar(
        select(func.count(distinct(ListRow.id))).select_from(ListRow).join(ListRowContact, link[0])
        .join(ContactPoint, link[1]).where(ListRow.list_id == list_id, any_usable)) or 0)
    names = " → ".join(c.value for c in chain)
    if pf.rows == 0:
        pf.error("list_empty", "the list has no rows: there is nobody to inform")
        return
    if pf.reachable_any == 0:
        per = ", ".join(f"{c} 0" for c in pf.reachable)
        pf.error("no_reachable_customer",
                 f"no customer of the list can be reached with consent on any channel of the chain {names} "
                 f"({per}): calls go only to the contract phone, SMS only to a voluntary mobile with consent, "
                 "e-mail only to a voluntary address with consent", count=0)
        return
    for ch, n in pf.reachable.items():
        if n == 0 and len(chain) > 1:
            pf.warn("channel_reaches_none", f"{ch}: no customer of the list can be reached by {ch} with consent",
                    count=0, channel=ch)
    unreached = pf.rows - pf.reachable_any
    if unreached:
        reached = (select(literal(1)).select_from(ListRowContact)
                   .join(ContactPoint, ContactPoint.id == ListRowContact.contact_point_id)
                   .where(ListRowContact.list_row_id == ListRow.id, any_usable))
        rows = _first_rows(session, list_id, ~exists(reached))
        pf.warn("rows_unreachable", f"{unreached} of {pf.rows} rows have no consented contact on {names}: "
                f"they will end negative `no_consent` ({_rows_text(rows, unreached)})", count=unreached, rows=rows)


def _blank(name: str) -> ColumnElement[bool]:
    return func.coalesce(ListRow.variables[name].as_string(), "") == ""


def _json_number(session: Session, name: str) -> ColumnElement[Any]:
    """The row's value of `name` when it is a JSON number (money in kopecks), else NULL."""
    if session.get_bind().dialect.name == "postgresql":
        return case((func.json_typeof(ListRow.variables[name]) == "number",
                     ListRow.variables[name].as_float()), else_=None)
    path = f'$."{name}"'
    return case((func.json_type(ListRow.variables, path).in_(["integer", "real"]),
                 func.json_extract(ListRow.variables, path)), else_=None)


def _used_builtins(spec: ScenarioSpec, chain: Collection[Channel]) -> set[str]:
    from autoinform.scenarios.references import templates_of

    used = {ph.name for path, t in templates_of(spec) if path[0] in {c.value for c in chain}
            for ph in t.placeholders}
    if spec.phone is not None and Channel.PHONE in chain:
        used |= {s.var for s in spec.phone.steps if s.var}
    return used & set(CUSTOMER_FIELDS)


def _variables(session: Session, pf: Preflight, list_id: int, scenario: Scenario, chain: list[Channel],
               constants: Mapping[str, str]) -> None:
    """Rows lacking a value the scenario needs: a declared variable with no constant, default or
    computed date (rendering resolves every declared one, whatever the channel), or a customer field
    a template of the chain uses."""
    from autoinform.scenarios.values import coerce

    spec = scenario.spec
    needed: list[str] = []
    for name, var in spec.variables.items():
        if name in constants:
            try:
                coerce(var.type, constants[name], max_length=var.max_length)
            except ValueError as exc:
                pf.error("bad_constant", f"scenario_constants.{name} = {constants[name]!r} is not a valid "
                                         f"{var.type}: {exc}", variable=name)
            continue
        if var.default is not None or (var.timeline is not None and not var.required):
            continue
        needed.append(name)
    blanks: dict[str, ColumnElement[bool]] = {name: _blank(name) for name in needed}
    for name in sorted(_used_builtins(spec, chain)):
        blanks[name] = (Division.name.is_(None) | (func.trim(Division.name) == "") if name == "division"
                        else func.trim(getattr(Customer, name)) == "")
    if not blanks:
        return
    stmt = (select(*(func.sum(case((cond, 1), else_=0)) for cond in blanks.values()))
            .select_from(ListRow).join(Customer, Customer.id == ListRow.customer_id)
            .outerjoin(Division, Division.id == Customer.division_id).where(ListRow.list_id == list_id))
    sums = session.execute(stmt).one()
    for (name, cond), n in zip(blanks.items(), sums, strict=True):
        n = int(n or 0)
        pf.missing[name] = n
        if not n:
            continue
        where = "a field of the customer" if name in CUSTOMER_FIELDS else (
            "not a column of the list and not in scenario_constants")
        if n >= pf.rows:
            pf.error("variable_missing_everywhere",
                     f"required variable {name} is missing everywhere ({where}): every message would fail "
                     f"with `missing variable {name}`"
                     + ("" if name in CUSTOMER_FIELDS else f"; add a column {name!r} to the list or set "
                                                           f"scenario_constants.{name}"),
                     count=n, variable=name)
            continue
        rows = _first_rows(session, list_id, cond)
        pf.warn("rows_missing_values", f"{n} of {pf.rows} rows have no {name}: they will end negative "
                f"`missing_variable` ({_rows_text(rows, n)})", count=n, rows=rows, variable=name)


def _amounts(session: Session, pf: Preflight, list_id: int, scenario: Scenario) -> None:
    """A scenario asking to pay, sent with a debt of zero or less (an overpayment), is wrong."""
    from autoinform.scenarios.values import VarType

    if str(scenario.kind) not in PAY_KINDS:
        return
    for name, var in scenario.spec.variables.items():
        if var.type is not VarType.MONEY:
            continue
        amount = _json_number(session, name)
        cond = amount <= 0
        n = int(session.scalar(select(func.count()).select_from(ListRow)
                               .where(ListRow.list_id == list_id, cond)) or 0)
        if n:
            rows = _first_rows(session, list_id, cond)
            skips = ", ".join(scenario.spec.skip_when)
            told = (f"the scenario {scenario.name} skips them ({skips}) rather than ask to pay" if skips
                    else f"yet the scenario {scenario.name} asks to pay")
            pf.warn("zero_debt", f"{n} rows have {name} of zero or less: {told} ({_rows_text(rows, n)})",
                    count=n, rows=rows, variable=name)


def _window(pf: Preflight, campaign: Campaign, window: InformingWindow, now: datetime) -> None:
    tz = window.tz
    begin = max(campaign.start_at, now)
    try:
        first = window.next_allowed(begin)
    except ValueError:
        first = None
    if first is None or first >= campaign.end_at:
        pf.error("no_window_before_end",
                 f"no informing window opens between {begin.astimezone(tz):%Y-%m-%d %H:%M} and the end "
                 f"{campaign.end_at.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key}): nothing could be sent")
        return
    pf.first_send_at = first
    if campaign.start_at < now and pf.step != "start":
        pf.warn("start_in_past", f"the start {campaign.start_at.astimezone(tz):%Y-%m-%d %H:%M} has passed: "
                                 "messages leave as soon as the campaign is started")
    if first > begin:
        pf.warn("start_outside_window",
                f"the informing window ({window.start:%H:%M}–{window.end:%H:%M}, {window.calendar} days) is closed "
                f"at {begin.astimezone(tz):%Y-%m-%d %H:%M}: the first message leaves at "
                f"{first.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key})")


def _sample(session: Session, pf: Preflight, list_id: int, scenario: Scenario, chain: list[Channel],
            constants: Mapping[str, str], send_date: date) -> None:
    """Render the first rows on every channel: what no count foresees (a date too early for its
    group's timeline, an SMS over its parts) shows here. Missing values are counted above."""
    from autoinform.content import Recipient
    from autoinform.scenarios import render

    rows = session.execute(
        select(ListRow.variables, Customer.account, Customer.name, Customer.group, Customer.address, Division.name)
        .join(Customer, Customer.id == ListRow.customer_id)
        .outerjoin(Division, Division.id == Customer.division_id)
        .where(ListRow.list_id == list_id).order_by(ListRow.row_number).limit(SAMPLE_ROWS)).all()
    failures: dict[tuple[str, str], int] = {}
    for variables, account, name, group, address, division in rows:
        recipient = Recipient(account=account, name=name, group=group, division=division or "", address=address,
                              variables=dict(variables or {}))
        for ch in chain:
            if ch not in scenario.channels:
                continue
            try:
                render(scenario, ch, recipient, send_date=send_date, constants=constants)
            except SkipDelivery:
                continue  # the scenario's own rule (zero debt): counted by _amounts, not a failure
            except RenderError as exc:
                if missing_variable(exc) is None:  # masked: progress (and the HTTP API) carry these words
                    key = (ch.value, scrub(f"{exc.field}: {exc.detail}" if exc.field else exc.detail))
                    failures[key] = failures.get(key, 0) + 1
    for (name, why), n in failures.items():
        pf.warn("sample_render_failed", f"{name}: {n} of the first {len(rows)} rows cannot be rendered: {why}",
                count=n, channel=name)


def missing_variable(exc: RenderError) -> str | None:
    """The variable a render error says is missing, if that is what it says."""
    if exc.detail.startswith("missing required variable") or exc.detail.startswith("the customer has no "):
        return exc.field
    return None


def preflight(session: Session, campaign: Campaign, settings: Settings, *, step: str = "check",
              now: datetime | None = None, probes: Mapping[Channel, str] | None = None) -> Preflight:
    """Everything known now about whether `campaign` can work. `probes`: channels found not to
    answer (probe_channels), checked beforehand so no network wait happens inside a transaction."""
    from autoinform.channels import unavailable_channels
    from autoinform.scenarios import parse_scenario

    now = now or utcnow()
    chain = [Channel(c) for c in campaign.channels]
    pf = Preflight(step=step, checked_at=now, chain=[c.value for c in chain])
    pf.rows = int(session.scalar(select(func.count()).select_from(ListRow)
                                 .where(ListRow.list_id == campaign.list_id)) or 0)
    missing = unavailable_channels(settings)
    for ch in chain:
        if ch in missing:
            pf.error("channel_not_configured", f"{ch.value} not configured: {missing[ch]}", channel=ch.value)
        elif probes and ch in probes:
            pf.warn("channel_unreachable", f"{ch.value}: {probes[ch]}; its messages wait until it answers",
                    channel=ch.value)
    _reach(session, pf, campaign.list_id, chain)
    _window(pf, campaign, window_of(settings), now)
    version = session.get(ScenarioVersion, campaign.scenario_id)
    try:
        if version is None:
            raise AutoinformError(f"scenario version {campaign.scenario_id} not found")
        scenario = parse_scenario(version.source, f"{version.name} v{version.version}", expected_name=version.name)
    except AutoinformError as exc:
        pf.error("scenario_invalid", f"the campaign's scenario cannot be read: {exc}")
        return pf
    constants = settings.scenario_constants
    if pf.rows:
        _variables(session, pf, campaign.list_id, scenario, chain, constants)
        _amounts(session, pf, campaign.list_id, scenario)
        send_date = (pf.first_send_at or now).astimezone(settings.tz).date()
        _sample(session, pf, campaign.list_id, scenario, chain, constants, send_date)
    return pf


def enforce(session: Session, campaign: Campaign, settings: Settings, *, step: str, now: datetime | None = None,
            probes: Mapping[Channel, str] | None = None) -> Preflight:
    """Run the preflight for `step`, keep it with the campaign, and refuse the step on any error."""
    result = preflight(session, campaign, settings, step=step, now=now, probes=probes)
    campaign.preflight = result.to_json()
    if not result.ok:
        raise PreflightError(result)
    return result


def probe_channels(settings: Settings, channels: Iterable[Channel], *,
                   timeout: float = SMTP_PROBE_TIMEOUT_S) -> dict[Channel, str]:
    """Channels of `channels` whose server does not answer now, with why. Only the SMTP relay is
    asked (a connection and its greeting, within `timeout`); Twilio is judged by its settings."""
    problems: dict[Channel, str] = {}
    if Channel.EMAIL in set(channels) and settings.smtp.enabled:
        why = _smtp_silent(settings, timeout)
        if why:
            problems[Channel.EMAIL] = why
    return problems


def _smtp_silent(settings: Settings, timeout: float) -> str | None:
    import smtplib
    import socket

    host, port = settings.smtp.host, settings.smtp.port
    try:
        if settings.smtp.use_tls:  # TLS from the first byte: that it listens is all we ask
            socket.create_connection((host, port), timeout=timeout).close()
            return None
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return f"the SMTP relay {host}:{port} does not answer now ({exc or type(exc).__name__})"
    return None
