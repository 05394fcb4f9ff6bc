"""One settings object, read from CLD_* environment variables (and an optional .env file)."""

from __future__ import annotations

import json
import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path(os.environ.get("CLD_DATA_DIR", "var")).resolve()

# Secrets may come from files (Docker/Kubernetes secrets): CLD_SMTP_PASSWORD_FILE=/run/secrets/smtp.
SECRET_FIELDS = ("smtp_password", "imap_password", "secret_key", "database_url", "broker_url")


class SettingsError(Exception):
    """A bad configuration value; the message is one line naming the variable."""


class Settings(BaseSettings):
    """Everything cld can be told from the environment."""

    model_config = SettingsConfigDict(env_prefix="CLD_", env_file=".env", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    broker_url: str = ""
    result_backend: str = ""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: str = "none"  # none | starttls | ssl
    smtp_timeout: float = Field(20.0, gt=0)
    # SMTP sessions the outbox sends over at once. One is fastest against a server on the same machine
    # (bench/README.md); a remote server (Office 365, a ministry relay) answers each command a network
    # round trip later, and a few sessions at once then send several times faster.
    smtp_connections: int = Field(1, ge=1, le=16)

    imap_host: str = "127.0.0.1"
    imap_port: int = Field(2143, ge=1, le=65535)
    imap_user: str = "cld@office.example"
    imap_password: str = "sandbox"
    imap_tls: str = "none"  # none | starttls | ssl
    imap_folder: str = "INBOX"

    reply_address: str = "cld@office.example"
    from_name: str = "Coaching & Learning Diary"
    office_name: str = "KPKNL Contoh"
    timezone: str = "Asia/Jakarta"
    secret_key: str = "change-me"
    trusted_authserv_id: str = ""

    head_of_office_email: str = ""
    hr_email: str = ""
    general_affairs_unit: str = "Subbagian Umum"

    closure_dates: Annotated[list[date], NoDecode] = Field(default_factory=list)
    prompt_working_day: int = Field(1, ge=1, le=15)
    prompt_hour: int = Field(8, ge=0, le=23)
    reminder_working_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [10])
    reminder_days_before_end: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [3])
    token_days: int = Field(45, ge=1)
    brief_hour: int = Field(13, ge=0, le=23)
    nudge_interval_days: int = Field(7, ge=0)

    signoff_reminder_days: int = Field(3, ge=1)
    signoff_escalation_days: int = Field(5, ge=1)
    mentor_signs: bool = False
    followup_deadline_days: int = Field(5, ge=1)
    followup_escalation_days: int = Field(5, ge=1)

    answers_per_address_per_day: int = Field(10, ge=1)
    max_followups_per_form: int = Field(10, ge=1)
    max_message_bytes: int = Field(30 * 1024 * 1024, ge=1024)
    max_text_chars: int = Field(200_000, ge=1000)

    outbox_max_attempts: int = Field(8, ge=1)
    outbox_lease_seconds: int = Field(120, ge=5)
    outbox_backoff_seconds: float = Field(30.0, ge=0)

    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, values: dict) -> dict:
        for name in SECRET_FIELDS:
            path = os.environ.get(f"CLD_{name.upper()}_FILE")
            if path and not os.environ.get(f"CLD_{name.upper()}"):
                try:
                    values[name] = Path(path).read_text().strip()
                except OSError as exc:
                    raise ValueError(f"CLD_{name.upper()}_FILE: cannot read {path}: {exc.strerror}") from None
        return values

    @field_validator("closure_dates", "reminder_working_days", "reminder_days_before_end", mode="before")
    @classmethod
    def _comma_list(cls, value):
        # Operators write CLD_CLOSURE_DATES=2026-12-24,2026-12-31; JSON lists work too.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("smtp_tls", "imap_tls")
    @classmethod
    def _tls_mode(cls, value: str) -> str:
        value = value.lower()
        if value not in ("none", "starttls", "ssl"):
            raise ValueError("must be one of none, starttls, ssl")
        return value

    @field_validator("reply_address", "head_of_office_email", "hr_email")
    @classmethod
    def _address(cls, value: str) -> str:
        if value and ("@" not in value or " " in value.strip()):
            raise ValueError(f"not an email address: {value!r}")
        return value.strip().lower()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cld.sqlite3'}"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def reply_local_part(self) -> str:
        return self.reply_address.split("@", 1)[0]

    @property
    def reply_domain(self) -> str:
        return self.reply_address.split("@", 1)[1]

    def reply_address_for(self, token: str) -> str:
        """The sub-address that routes a reply back to the thing `token` stands for."""
        return f"{self.reply_local_part}+{token}@{self.reply_domain}"


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    variable = f"CLD_{field.upper()}" if field else "CLD_*"
    raw = os.environ.get(variable)
    shown = f" (got {raw!r})" if raw is not None and field not in SECRET_FIELDS else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid setting {variable}{shown}: {message}"


def load_settings(**overrides) -> Settings:
    """Read the settings, raising SettingsError with one clear line on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


_override: Settings | None = None


@lru_cache(maxsize=1)
def _from_environment() -> Settings:
    return load_settings()


def get_settings() -> Settings:
    """The process-wide settings: from the environment unless a caller installed its own."""
    return _override if _override is not None else _from_environment()


def use_settings(settings: Settings | None) -> None:
    """Install `settings` for this process (tests, the demo); None goes back to the environment."""
    global _override
    _override = settings
