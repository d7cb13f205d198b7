"""Settings: one object read from AUTOINFORM_* variables and an optional autoinform.toml.

Nested groups use a double underscore in the environment (AUTOINFORM_SMTP__HOST).
Secrets are SecretStr so that repr(), logs and `autoinform config show` never print them; URLs
(database_url and the rest) may carry a password, so every printed form masks it (logs.mask_url).
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from autoinform.calendar import DayRule
from autoinform.errors import ConfigError
from autoinform.logs import mask_url

CONFIG_FILE_ENV = "AUTOINFORM_CONFIG"
DEFAULT_CONFIG_FILE = "autoinform.toml"


class _Masked(BaseModel):
    """repr() and str() of a settings group show URL passwords masked."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if isinstance(value, str) else value


def _mask_urls(data: Any) -> Any:
    if isinstance(data, str):
        return mask_url(data)
    if isinstance(data, dict):
        return {k: _mask_urls(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_urls(v) for v in data]
    return data


class WindowSettings(BaseModel):
    """The legal informing window (AI-13): see autoinform/calendar.py for the day rules."""

    start: time = time(10, 0)
    end: time = time(20, 0)
    # "legal": every day but Sundays, holidays and transfer days off (the standard, Saturdays open);
    # "working_days": working days only; "any": no calendar, for sandboxes with local sinks only.
    calendar: DayRule = "legal"
    country: str = "RU"

    @model_validator(mode="before")
    @classmethod
    def _old_switch(cls, data: Any) -> Any:
        # working_days_only (before issue 8) meant True: working days, False: no calendar at all.
        # It keeps that meaning, so no configuration silently gains or loses days; new ones use
        # `calendar`.
        if isinstance(data, dict) and "working_days_only" in data:
            data = dict(data)
            old = data.pop("working_days_only")
            rule = "working_days" if TypeAdapter(bool).validate_python(old) else "any"
            if data.setdefault("calendar", rule) != rule:
                raise ValueError("window.working_days_only contradicts window.calendar: set calendar only")
        return data

    @model_validator(mode="after")
    def _ordered(self) -> WindowSettings:
        if self.start >= self.end:
            raise ValueError(f"window start {self.start} must be before end {self.end}")
        return self


_ADDR_RE = re.compile(r"[A-Za-z0-9!#$%&'*=?^_`{|}~.-]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImapSettings(_Masked):
    """The bounce mailbox on an IMAP server (issue 8 item 8)."""

    host: str
    port: int = Field(993, ge=1, le=65535)
    username: str
    password: SecretStr
    folder: str = "INBOX"
    # ssl: TLS from the first byte (993); starttls: upgrade on 143; none: loopback only.
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    timeout: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _no_cleartext_password(self) -> ImapSettings:
        if self.tls == "none" and not _is_loopback(self.host):
            raise ValueError(f"IMAP without TLS is allowed only on loopback, not {self.host!r}: "
                             "set tls = \"ssl\" or \"starttls\"")
        return self


class SmtpSettings(_Masked):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    use_tls: bool = False
    start_tls: bool = False
    timeout: float = Field(30.0, gt=0)
    pool_size: int = Field(8, ge=1, le=256)
    sender: str = "noreply@example.invalid"
    sender_name: str = "Гарантирующий поставщик"
    # relay: a 2xx means handed to our relay, so the attempt awaits a bounce or the quiet period's
    # end (delivered_no_bounce); direct: we talk to the recipient's MX, whose 2xx is "accepted".
    delivery_mode: Literal["relay", "direct"] = "relay"
    # Envelope sender base for VERP (bounces+ai<attempt>.<mac>@domain); None: MAIL FROM is `sender`
    # and bounces are matched by the Message-ID they quote.
    bounce_address: str | None = None
    # Keys the token in Message-ID and VERP, so a forged bounce cannot fail a delivery.
    bounce_secret: SecretStr = SecretStr("")
    quiet_period_s: float = Field(86400.0, gt=0)
    bounce_maildir: Path | None = None
    bounce_imap: ImapSettings | None = None
    bounce_scan_s: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _one_tls(self) -> SmtpSettings:
        if self.use_tls and self.start_tls:
            raise ValueError("use_tls and start_tls are mutually exclusive")
        return self

    @model_validator(mode="after")
    def _bounces(self) -> SmtpSettings:
        if self.bounce_maildir is not None and self.bounce_imap is not None:
            raise ValueError("bounce_maildir and bounce_imap are mutually exclusive: read bounces from one")
        if self.bounce_address is not None and (not _ADDR_RE.fullmatch(self.bounce_address)
                                                or "+" in self.bounce_address):
            raise ValueError(f"bounce_address {self.bounce_address!r} must be a plain address "
                             "without '+' (the VERP token is added after a '+')")
        if self.bounce_mailbox_configured and len(self.bounce_secret.get_secret_value()) < 16:
            raise ValueError("a bounce mailbox needs bounce_secret of at least 16 characters "
                             "(it signs the tokens bounces are matched by)")
        return self

    @property
    def bounce_mailbox_configured(self) -> bool:
        return self.bounce_maildir is not None or self.bounce_imap is not None


class TwilioSettings(_Masked):
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    messaging_service_sid: str | None = None
    # Tests and sandboxes point this at a local server implementing the same API.
    api_base_url: str = "https://api.twilio.com"
    status_callback_url: str | None = None
    status_timeout_s: float = Field(3600.0, gt=0)

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token.get_secret_value()
                    and (self.from_number or self.messaging_service_sid))


class IvrSettings(_Masked):
    host: str = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
    allowed_peers: list[str] = ["127.0.0.1", "::1"]
    command_timeout_s: float = Field(60.0, gt=0)
    env_timeout_s: float = Field(5.0, gt=0)
    shutdown_grace_s: float = Field(30.0, ge=0)
    backlog: int = Field(1024, ge=1)
    operator_queue: str = "operators"
    operator_answer_target_s: int = 40
    # The routes `autoinform ivr serve` and the classic `ivr-agi` serve: "module:factory" -> Router.
    router: str = "ivr.flows:default_router"


class AmiSettings(_Masked):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = ""
    secret: SecretStr = SecretStr("")
    channel_capacity: int = Field(30, ge=1)
    # plain: Secret in the Login; md5: Challenge first, then Key = md5(challenge + secret).
    auth: Literal["plain", "md5"] = "plain"
    connect_timeout_s: float = Field(5.0, gt=0)
    action_timeout_s: float = Field(10.0, gt=0)
    # Keep-alive: a Ping this often while up; no Pong within ping_timeout_s marks the link down.
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(5.0, gt=0)
    # Reconnect after base * 2**n seconds (n failures in a row), capped, times a random 0.5-1.0.
    reconnect_base_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    # Events a subscriber may fall behind by before it is told it lost some (AmiSubscriptionOverflow).
    subscriber_queue: int = Field(10000, ge=1)


NumberFormat = Literal["8XXXXXXXXXX", "+7XXXXXXXXXX", "7XXXXXXXXXX"]


class AsteriskServer(AmiSettings):
    """One Asterisk the phone channel places calls on: its AMI connection (the AmiSettings fields)
    and how calls are dialled there (issue 10 part 2)."""

    name: str = Field(min_length=1, max_length=32)
    # The customer's number in `number_format` goes into {number}: "PJSIP/{number}@trunk".
    dial_template: str = "PJSIP/{number}@trunk"
    number_format: NumberFormat = "8XXXXXXXXXX"
    max_channels: int = Field(30, ge=1)
    calls_per_second: float = Field(5.0, gt=0)
    context: str = "autoinform-notify"
    exten: str = "s"
    # Extra channel variables set on every call, e.g. {"AUTOINFORM_AGI": "agi://10.0.0.5:4573"}
    # when the engine's FastAGI server is not where the dialplan's global points.
    variables: dict[str, str] = {}
    # This server's CDR (cdr_csv's Master.csv, on its host or a read-only mount): what decides a
    # call whose end was never seen (docs/phone.md, "The CDR"). None: no CDR, such a call ends
    # `interrupted` and a later call is recorded as its possible duplicate.
    cdr_csv: Path | None = None

    @field_validator("dial_template")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError("the dial template needs a {number} placeholder, e.g. PJSIP/{number}@trunk")
        return value


class PhoneSettings(BaseModel):
    """Notification calls over AMI (issue 10 part 2); phone is available once a server is listed."""

    servers: list[AsteriskServer] = []
    ring_timeout_s: float = Field(30.0, gt=0, le=300)
    # Longest a call may last (Asterisk's TIMEOUT(absolute) on the channel).
    max_call_s: float = Field(600.0, gt=0)
    # How often live calls are reconciled against CoreShowChannels (a Hangup lost with the link).
    reconcile_s: float = Field(30.0, gt=0)
    # Limits per customer (issue 10 part 2, AI-13), enforced when deliveries are claimed: at most
    # this many call attempts per customer per local day (settings.tz; 0: no limit), and at least
    # this long between two calls to the same number (0: none). Over either, the delivery waits.
    max_calls_per_day: int = Field(0, ge=0)
    min_call_interval_s: float = Field(0.0, ge=0)

    @field_validator("servers")
    @classmethod
    def _unique_names(cls, value: list[AsteriskServer]) -> list[AsteriskServer]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError(f"phone.servers names must be unique: {names}")
        return value


class ChannelLimits(BaseModel):
    concurrency: int = Field(8, ge=1)
    rate_per_s: float = Field(0.0, ge=0, description="0 means unlimited")
    max_attempts: int = Field(3, ge=1)
    retry_delay_s: float = Field(1800.0, ge=0)


class DispatchSettings(BaseModel):
    # Deliveries one claim leases; up to this many are in flight, refilled at half. Claims cost a
    # transaction each, so small ones cost more than the sending (bench/email_engine).
    batch_size: int = Field(500, ge=1, le=10000)
    # The dispatcher's database thread runs this much nicer than the process (Linux, capped at 19),
    # and while the dispatcher runs the interpreter's GIL switch interval is this short, so the
    # event loop is never kept from a ready socket by database work for long (Dispatcher.__init__).
    db_thread_nice: int = Field(19, ge=0, le=39)
    switch_interval_ms: float = Field(0.5, gt=0, le=100)
    lease_s: float = Field(300.0, gt=0)
    # Leases of work in flight are renewed on their own timer, this often (default: a third of the
    # lease), whatever else the engine is doing; a send never leaves within `lease_margin_s` of a
    # lease's end, so clock skew between engines cannot make two senders (issue 8 item 2).
    lease_renew_s: float | None = Field(None, gt=0)
    lease_margin_s: float = Field(5.0, ge=0)
    poll_interval_s: float = Field(1.0, gt=0)
    # Housekeeping asks providers for overdue statuses side by side, all of them within this budget;
    # those not answered by then are asked again at a later run.
    status_poll_concurrency: int = Field(8, ge=1)
    status_poll_budget_s: float = Field(20.0, gt=0)
    # How long a provider report matching no attempt is kept trying (it can arrive before the
    # attempt's provider id is written, or before an interrupted attempt is reconciled); then it
    # is retired with a reason and counted, never applied.
    unmatched_status_s: float = Field(3600.0, gt=0)
    email: ChannelLimits = ChannelLimits(concurrency=8)
    sms: ChannelLimits = ChannelLimits(concurrency=4, rate_per_s=10)
    phone: ChannelLimits = ChannelLimits(concurrency=30)

    @model_validator(mode="after")
    def _lease_timing(self) -> DispatchSettings:
        if self.lease_margin_s * 2 >= self.lease_s:
            raise ValueError(f"dispatch.lease_margin_s ({self.lease_margin_s}) must be under half of "
                             f"dispatch.lease_s ({self.lease_s})")
        if self.lease_renew_s is not None and self.lease_renew_s >= self.lease_s - self.lease_margin_s:
            raise ValueError("dispatch.lease_renew_s must be shorter than the lease less its margin")
        return self

    @property
    def renew_every_s(self) -> float:
        return self.lease_renew_s or self.lease_s / 3


class WebSettings(_Masked):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    # Request bodies over this are refused with 413 before they are read (autoinform/web/limits.py);
    # by_path raises or lowers it for a path prefix, e.g. {"/api/lists": 268435456} for uploads.
    max_body_bytes: int = Field(1024 * 1024, ge=1)
    max_body_bytes_by_path: dict[str, int] = {}
    # Access (issue 12, autoinform/web/sessions.py, throttle.py). The session cookie is Secure; only
    # tests on http://127.0.0.1 turn that off, and only with a loopback host.
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict"] = "lax"
    session_idle_minutes: int = Field(30, ge=1)  # no request for this long: log in again
    session_absolute_hours: int = Field(12, ge=1)  # from log-in, however busy
    login_failures_per_login: int = Field(5, ge=1)  # then that login waits login_lockout_minutes
    login_failures_per_address: int = Field(20, ge=1)  # per client address within the lockout window
    login_lockout_minutes: int = Field(15, ge=1)

    @model_validator(mode="after")
    def _secure_cookie_off_on_loopback_only(self) -> WebSettings:
        if not self.cookie_secure and not _is_loopback(self.host):
            raise ValueError(f"cookie_secure = false is for tests on a loopback host only, not {self.host!r}")
        return self

    @field_validator("max_body_bytes_by_path")
    @classmethod
    def _path_limits(cls, value: dict[str, int]) -> dict[str, int]:
        for prefix, limit in value.items():
            if not prefix.startswith("/") or limit < 1:
                raise ValueError(f"{prefix!r}: {limit}: a path prefix starting with '/' and a positive size")
        return value


class HotlineSettings(BaseModel):
    """The hotline (issue 11). Reception hours per weekday (HL-2: at least five days), Russian
    public holidays and moved days off closed unless `holidays_open`."""

    # weekday name -> "HH:MM-HH:MM"; a day not named is closed
    hours: dict[str, str] = {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00",
                             "thu": "08:00-17:00", "fri": "08:00-16:00"}
    holidays_open: bool = False
    menu_file: Path = Path("hotline/menu.yaml")
    info_file: Path = Path("hotline/info.yaml")
    recordings_dir: Path = Path("var/recordings")
    recording_retention_days: int = Field(90, ge=1)
    operator_wait_limit_s: int = Field(40, ge=5)  # HL-4: answer target
    max_reading_increase: int = Field(100000, ge=1)  # above the previous reading: implausible
    survey: bool = True  # HL-11
    callback_deadline_hours: float = Field(8.0, gt=0)  # reception hours after the request
    feedback_deadline_days: int = Field(30, ge=1)  # working days for a complaint's answer

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        from autoinform.hotline.hours import parse_hours  # pure; HH:MM-HH:MM, >= 5 days (HL-2)

        parse_hours(value)
        return value


class DropFolderSettings(BaseModel):
    """The billing drop folder (issue 14): exports billing writes (typically by SFTP) are imported
    once each and moved to done/ or rejected/. Polled, not watched by inotify: inotify sees nothing
    on network mounts (NFS, SMB) and nothing that happened while the engine was down, and the
    settle check needs repeated looks at the file anyway."""

    path: Path | None = None  # None: no drop folder is watched
    pattern: str = "*.csv"  # glob of the file names taken (xlsx too: "*.xlsx"); others are left alone
    poll_s: float = Field(60.0, gt=0)
    # "stable": a file is read once its size and mtime stayed the same for settle_s across looks
    # (mtime alone is not enough: `sftp put -p` keeps the source's old mtime). "marker": once
    # NAME + marker_suffix exists beside it (billing writes the marker after the file).
    ready: Literal["stable", "marker"] = "stable"
    settle_s: float = Field(30.0, ge=0)
    marker_suffix: str = Field(".done", min_length=1)


class TemplateSettings(BaseModel):
    """Recurring campaign templates (issue 14)."""

    # The user that forms templates' campaigns (made as a specialist on first use, with no password
    # and no token): every approver is then "not the author" (AI-15), and nobody can log in as it.
    system_login: str = Field("system-templates", min_length=1, max_length=64)
    check_s: float = Field(300.0, gt=0)  # besides the exact jobs: a look at every template this often
    notice_subject: str = "Рассылка ждёт утверждения"


class DeskSettings(BaseModel):
    """The operators' desk (issue 13): wrap-up topics, and how a callback from the desk dials."""

    topics: list[str] = ["Задолженность и оплата", "Показания счётчика", "Перерасчёт", "Отключение и подключение",
                         "Договор и документы", "Жалоба", "Другое"]
    # Where the operator's phone goes once answered: a context that dials AUTOINFORM_DESK_DIAL
    # (docs/asterisk/extensions.conf [autoinform-desk-callback]).
    callback_context: str = "autoinform-desk-callback"
    # The customer's number as the trunk dials it; {number} is the task's caller.
    callback_dial: str = "PJSIP/{number}@trunk"
    operator_ring_s: float = Field(30.0, gt=0, le=300)  # how long the operator's phone rings
    recent_readings: int = Field(5, ge=0, le=50)

    @field_validator("callback_dial")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError("desk.callback_dial needs a {number} placeholder, e.g. PJSIP/{number}@trunk")
        return value


class Settings(BaseSettings, _Masked):
    model_config = SettingsConfigDict(
        env_prefix="AUTOINFORM_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    database_url: str = "sqlite:///var/autoinform.db"
    timezone: str = "Europe/Astrakhan"
    var_dir: Path = Path("var")
    log_level: str = "INFO"
    log_json: bool = False
    scenarios_dir: Path = Path("scenarios")
    # Values every scenario may use without a list column (e.g. hotline_phone), by variable name.
    scenario_constants: dict[str, str] = {}
    audio_dir: Path = Path("audio")
    window: WindowSettings = WindowSettings()
    smtp: SmtpSettings = SmtpSettings()
    twilio: TwilioSettings = TwilioSettings()
    ivr: IvrSettings = IvrSettings()
    ami: AmiSettings = AmiSettings()
    phone: PhoneSettings = PhoneSettings()
    dispatch: DispatchSettings = DispatchSettings()
    web: WebSettings = WebSettings()
    hotline: HotlineSettings = HotlineSettings()
    drop_folder: DropFolderSettings = DropFolderSettings()  # issue 14
    templates: TemplateSettings = TemplateSettings()  # issue 14
    desk: DeskSettings = DeskSettings()  # issue 13

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_db(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql:// URLs are supported")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def redacted(self) -> dict[str, Any]:
        """The settings as JSON-able data, secrets shown as '**********', URL passwords as '***'."""
        data: dict[str, Any] = _mask_urls(self.model_dump(mode="json"))
        return data


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings, turning pydantic's errors into one clear ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
    except ValueError as exc:  # TOML syntax errors surface as ValueError subclasses
        raise ConfigError(f"invalid configuration file: {exc}") from None
