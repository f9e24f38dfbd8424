"""All of lensbot's configuration, read once from the environment (pydantic-settings).

This is the only place that reads LENSBOT_* and TELEGRAM_* variables; the composition root
(dialogs/app/root.py) hands the values to storage/ and matrix/, whose functions take them as
arguments. A bad value is one line for the operator (`ConfigError`), never a traceback.
The Telegram token is checked only when the Telegram channel asks for it, so a console user
is never stopped by a half-configured bot.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
DEFAULT_DATABASE_URL = "sqlite:///lensbot.db"   # the current folder's file: still used when it exists
DATABASE_FILE = "lensbot.db"
DEFAULT_RETENTION_DAYS = 90
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000
DEFAULT_PURGE_MAX_SHARE = 0.2


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(BaseSettings):
    """Every setting lensbot has; README.md's Configuration table describes each variable."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    database_url: str = Field(default_factory=lambda: default_database_url(),
                              validation_alias=AliasChoices("LENSBOT_DATABASE_URL", "database_url"))
    lens: Path | None = Field(None, validation_alias=AliasChoices("LENSBOT_LENS", "lens"))
    contacts: Path | None = Field(None, validation_alias=AliasChoices("LENSBOT_CONTACTS", "contacts"))
    token: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "token"), repr=False)
    base_url: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_API_BASE_URL", "base_url"))
    base_file_url: str | None = Field(None, validation_alias=AliasChoices("TELEGRAM_API_BASE_FILE_URL",
                                                                          "base_file_url"))
    admin_ids: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), validation_alias=AliasChoices("LENSBOT_ADMIN_IDS", "admin_ids"))
    webhook_secret: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_WEBHOOK_SECRET", "webhook_secret"),
                                       repr=False)
    retention_days: int = Field(DEFAULT_RETENTION_DAYS,
                                validation_alias=AliasChoices("LENSBOT_RETENTION_DAYS", "retention_days"))
    sqlite_busy_timeout_ms: int = Field(
        DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
        validation_alias=AliasChoices("LENSBOT_SQLITE_BUSY_TIMEOUT_MS", "sqlite_busy_timeout_ms"))

    # Erasure and the purge guard (SECURITY.md, "Erasure and retention")
    audit_key: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_AUDIT_KEY", "audit_key"), repr=False)
    purge_max_share: float = Field(DEFAULT_PURGE_MAX_SHARE,
                                   validation_alias=AliasChoices("LENSBOT_PURGE_MAX_SHARE", "purge_max_share"),
                                   ge=0, le=1)
    # Shifts the clock the retention purge reads, in days: for drills and tests of the purge guard only.
    clock_offset_days: float = Field(0, validation_alias=AliasChoices("LENSBOT_CLOCK_OFFSET_DAYS",
                                                                      "clock_offset_days"))

    # The web channel (bot/web, README "Web channel")
    web_host: str = Field("127.0.0.1", validation_alias=AliasChoices("LENSBOT_WEB_HOST", "web_host"))
    web_port: int = Field(8080, validation_alias=AliasChoices("LENSBOT_WEB_PORT", "web_port"), ge=1, le=65535)
    # The address people use to reach the web app (links in invitations and in Telegram's minimal
    # mode), e.g. https://lensbot.gemeente.nl; without it, http://WEB_HOST:WEB_PORT.
    web_url: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_WEB_URL", "web_url"))
    # Proxies whose X-Forwarded-Proto/-For/-Host are believed (comma list of addresses); none by default.
    web_trusted_proxies: str = Field("", validation_alias=AliasChoices("LENSBOT_WEB_TRUSTED_PROXIES",
                                                                       "web_trusted_proxies"))
    session_idle_minutes: float = Field(15, validation_alias=AliasChoices("LENSBOT_SESSION_IDLE_MINUTES",
                                                                          "session_idle_minutes"), gt=0)
    session_max_hours: float = Field(8, validation_alias=AliasChoices("LENSBOT_SESSION_MAX_HOURS",
                                                                      "session_max_hours"), gt=0)
    # Web accounts (dialogs/app/accounts.py): "default" is argon2-cffi's own parameters (RFC 9106
    # low-memory); "cheapest" makes hashing nearly free, for tests only, never for real passwords.
    password_hashing: str = Field("default", validation_alias=AliasChoices("LENSBOT_PASSWORD_HASHING",
                                                                           "password_hashing"),
                                  pattern="^(default|cheapest)$")
    # Single sign-on through the organisation's OpenID Connect provider (all three, or none)
    oidc_issuer: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_OIDC_ISSUER", "oidc_issuer"))
    oidc_client_id: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_OIDC_CLIENT_ID",
                                                                           "oidc_client_id"))
    oidc_client_secret: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_OIDC_CLIENT_SECRET",
                                                                               "oidc_client_secret"), repr=False)
    oidc_name: str = Field("de organisatie", validation_alias=AliasChoices("LENSBOT_OIDC_NAME", "oidc_name"))
    # "full": Telegram shows summaries, pictures and documents; "minimal": only in the web app
    telegram_content: str = Field("full", validation_alias=AliasChoices("LENSBOT_TELEGRAM_CONTENT",
                                                                        "telegram_content"),
                                  pattern="^(full|minimal)$")
    # The organisation named as the author's on a dossier PDF (issue 15), e.g. "Gemeente Utrecht, team Jeugd"
    organisation: str | None = Field(None, validation_alias=AliasChoices("LENSBOT_ORGANISATION", "organisation"),
                                     max_length=120)

    @property
    def database_location(self) -> str:
        """Where the data is, to show a person: the SQLite file's full path, or the URL without its password."""
        parsed = urlparse(self.database_url)
        if parsed.scheme.startswith("sqlite"):
            path = self.database_url.split(":///", 1)[-1] or ":memory:"
            return str(Path(path).resolve()) if path != ":memory:" else path
        if parsed.password:
            netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
            return parsed._replace(netloc=netloc).geturl()
        return self.database_url

    @property
    def web_base_url(self) -> str:
        """Where the web app is reached, without a trailing slash."""
        return (self.web_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @field_validator("audit_key", mode="before")
    @classmethod
    def _audit_key(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() and len(value.strip()) < 16:
            raise ValueError("LENSBOT_AUDIT_KEY must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value.strip() or None if isinstance(value, str) else value

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The settings from the environment (plus `overrides`), or ConfigError in one line."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            message = str(first.get("msg", exc)).removeprefix("Value error, ")
            if first.get("type") != "value_error":   # pydantic's own wording: name the variable
                message = f"{first['loc'][0] if first.get('loc') else 'a setting'}: {message}"
            raise ConfigError(message) from None

    from_env = load   # the former bot.telegram.app.Settings.from_env

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            return admin_ids(value)
        return frozenset(str(v) for v in value or ())

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> Any:
        raw = str(value).strip()
        scheme = raw.split("://", 1)[0].split("+", 1)[0].lower() if "://" in raw else ""
        if scheme not in ("sqlite", "postgres", "postgresql"):
            shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", raw)   # never a password in a message
            raise ValueError(f"LENSBOT_DATABASE_URL must be sqlite:///FILE or postgresql://USER@HOST/DB, not {shown!r}")
        return raw

    @field_validator("retention_days", mode="before")
    @classmethod
    def _retention(cls, value: Any) -> int:
        raw = str(value).strip()
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"LENSBOT_RETENTION_DAYS must be a whole number of days (1 or more), got {value!r}")
        return int(raw)

    @field_validator("sqlite_busy_timeout_ms", mode="before")
    @classmethod
    def _busy(cls, value: Any) -> int:
        raw = str(value).strip()
        if not raw.isdigit():
            raise ValueError(f"LENSBOT_SQLITE_BUSY_TIMEOUT_MS must be a number of milliseconds, not {value!r}")
        return int(raw)

    @field_validator("token", "base_url", "base_file_url", "webhook_secret", "web_url", "oidc_issuer",
                     "oidc_client_id", "oidc_client_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _file_url(self) -> Settings:
        if self.base_url and not self.base_file_url:
            # http://host:8081/bot -> http://host:8081/file/bot, as the Bot API server lays it out
            parsed = urlparse(self.base_url)
            head, _, tail = parsed.path.rstrip("/").rpartition("/")
            self.base_file_url = parsed._replace(path=f"{head}/file/{tail or 'bot'}").geturl()
        return self

    def telegram_token(self) -> str:
        """The bot token, checked: ConfigError when it is missing or does not look like one."""
        if not self.token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set (get a token from @BotFather)")
        if not TOKEN_RE.match(self.token):
            raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (expected 123456789:ABC...)")
        return self.token


def data_dir() -> Path:
    """lensbot's folder in the platform's user data folder: $XDG_DATA_HOME/lensbot (default
    ~/.local/share/lensbot), ~/Library/Application Support/lensbot on macOS, %APPDATA%\\lensbot on Windows."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "lensbot"


def default_database_url() -> str:
    """The database when LENSBOT_DATABASE_URL is not set, the same from any folder: a lensbot.db in the
    current folder if there is one (as before), otherwise lensbot.db in the user data folder (created,
    private to the user). `lensbot web`, `chat` and `telegram` all read it from here."""
    here = Path(DATABASE_FILE)
    if here.is_file():
        return f"sqlite:///{here.resolve()}"
    folder = data_dir()
    with contextlib.suppress(OSError):   # a read-only home: opening the database then says so in one line
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{folder / DATABASE_FILE}"


def admin_ids(raw: str) -> frozenset[str]:
    """LENSBOT_ADMIN_IDS: user ids separated by commas (or semicolons); anything else is ignored."""
    return frozenset(part.strip() for part in raw.replace(";", ",").split(",") if part.strip().isdigit())
