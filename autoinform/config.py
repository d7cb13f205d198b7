"""Settings: one object read from AUTOINFORM_* variables and an optional autoinform.toml.

Nested groups use a double underscore in the environment (AUTOINFORM_SMTP__HOST).
Secrets are SecretStr so that repr(), logs and `autoinform config show` never print them.
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from autoinform.errors import ConfigError

CONFIG_FILE_ENV = "AUTOINFORM_CONFIG"
DEFAULT_CONFIG_FILE = "autoinform.toml"


class WindowSettings(BaseModel):
    """The legal informing window (AI-13)."""

    start: time = time(10, 0)
    end: time = time(20, 0)
    working_days_only: bool = True
    country: str = "RU"

    @model_validator(mode="after")
    def _ordered(self) -> WindowSettings:
        if self.start >= self.end:
            raise ValueError(f"window start {self.start} must be before end {self.end}")
        return self


class SmtpSettings(BaseModel):
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

    @model_validator(mode="after")
    def _one_tls(self) -> SmtpSettings:
        if self.use_tls and self.start_tls:
            raise ValueError("use_tls and start_tls are mutually exclusive")
        return self


class TwilioSettings(BaseModel):
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


class IvrSettings(BaseModel):
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


class AmiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = ""
    secret: SecretStr = SecretStr("")
    channel_capacity: int = Field(30, ge=1)


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
    poll_interval_s: float = Field(1.0, gt=0)
    # How long a provider report matching no attempt is kept trying (it can arrive before the
    # attempt's provider id is written, or before an interrupted attempt is reconciled); then it
    # is retired with a reason and counted, never applied.
    unmatched_status_s: float = Field(3600.0, gt=0)
    email: ChannelLimits = ChannelLimits(concurrency=8)
    sms: ChannelLimits = ChannelLimits(concurrency=4, rate_per_s=10)
    phone: ChannelLimits = ChannelLimits(concurrency=30)


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"


class Settings(BaseSettings):
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
    dispatch: DispatchSettings = DispatchSettings()
    web: WebSettings = WebSettings()

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
        """The settings as JSON-able data, secrets shown as '**********'."""
        data: dict[str, Any] = self.model_dump(mode="json")
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
