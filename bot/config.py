"""Typed configuration: the YAML file, then `ODPE_BOT_<SECTION>__<KEY>` environment overrides."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from storage import departments

ENV_PREFIX = "ODPE_BOT_"
DEFAULT_PATH = Path("config.yaml")
SUPPORTED_DATABASES = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(Section):
    url: str = "sqlite+aiosqlite:///data/odpe-bot.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported database '{scheme}': use one of {', '.join(SUPPORTED_DATABASES)}"
            )
        return value

    def masked_url(self) -> str:
        return mask_url(self.url)


class FilesConfig(Section):
    dir: Path = Path("data/files")
    max_size_mb: int = Field(20, gt=0, le=1024)


class HttpConfig(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class MatrixConfig(Section):
    enabled: bool = False
    homeserver: str = "http://127.0.0.1:8008"
    user_id: str = "@odpe-bot:example.org"
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_id: str | None = None
    device_name: str = "odpe-bot"
    store_dir: Path = Path("data/matrix")
    encryption: bool = True
    pickle_key: SecretStr | None = None
    allowed_servers: list[str] = Field(default_factory=list)
    review_room: str | None = None
    announcement_rooms: list[str] = Field(default_factory=list)

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not re.fullmatch(r"@[^:\s]+:[^\s]+", value):
            raise ValueError("must look like @name:server.org")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> MatrixConfig:
        if self.enabled and self.password is None and self.access_token is None:
            raise ValueError("matrix is enabled: set password, or access_token and device_id")
        if self.access_token is not None and not self.device_id:
            raise ValueError("access_token needs device_id")
        if self.enabled and self.encryption and self.pickle_key is None:
            # nio's default key would leave the encryption store readable by anyone who copies it.
            raise ValueError("encryption is on: set pickle_key (e.g. ODPE_BOT_MATRIX__PICKLE_KEY) to protect the keys")
        return self


class SlackConfig(Section):
    enabled: bool = False
    mode: Literal["socket", "http"] = "socket"
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_url: str | None = None
    review_channel: str | None = None
    announcement_channels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tokens(self) -> SlackConfig:
        if not self.enabled:
            return self
        missing = [] if self.bot_token else ["bot_token"]
        if self.mode == "socket" and not self.app_token:
            missing.append("app_token (socket mode)")
        if self.mode == "http" and not self.signing_secret:
            missing.append("signing_secret (http mode)")
        if missing:
            raise ValueError("slack is enabled but these are missing: " + ", ".join(missing))
        return self


class RolesConfig(Section):
    admins: list[str] = Field(default_factory=list)
    reviewers: list[str] = Field(default_factory=list)


def is_calendar_url(value: str) -> bool:
    """An address a calendar can be read from: http(s):// or its webcal:// twin."""
    return re.match(r"^(https?|webcal)://", value, re.IGNORECASE) is not None


class ExternalFeed(Section):
    url: str
    department: str | None = None
    refresh_minutes: int = Field(60, ge=5)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not is_calendar_url(value):
            raise ValueError("must be an http(s):// or webcal:// address")
        return value

    @field_validator("department", mode="before")
    @classmethod
    def _department(cls, value: object) -> str | None:
        """A département code as people's profiles hold it (3 is 03); one that does not exist is refused."""
        if value is None:
            return None
        code = departments.normalize_code(str(value))
        if code is None:
            raise ValueError(f"not a département code: {value!r} (e.g. '03', '2A', '974')")
        return code


class CalendarConfig(Section):
    reminders: list[timedelta] = Field(default_factory=lambda: [timedelta(days=1), timedelta(hours=1)])
    public_network_feed: bool = False
    external_feeds: list[ExternalFeed] = Field(default_factory=list)
    # The weekly digest in the announcement rooms: day (0 = Monday) and hour, in `timezone`.
    digest_weekday: int = Field(0, ge=0, le=6)
    digest_hour: int = Field(9, ge=0, le=23)
    # Events that ended longer ago than this leave the feeds (Google stops reading a feed beyond 1 MB).
    feed_past_days: int = Field(180, ge=1)
    # External feeds: how long a reading may take, how big it may be, how many events it may bring.
    import_timeout_seconds: float = Field(30, gt=0)
    import_max_mb: float = Field(5, gt=0)
    import_max_events: int = Field(2000, ge=1)


class RateLimitConfig(Section):
    """Commands a person may send: `burst` at once, refilled at `per_minute` (0 turns it off)."""

    per_minute: int = Field(30, ge=0)
    burst: int = Field(10, ge=1)


class ConsoleConfig(Section):
    user: str = "marie"
    history_file: Path = Path("data/console_history")


class DialogConfig(Section):
    idle_hours: float = Field(24, gt=0)


class ReviewConfig(Section):
    """Items waiting longer than `remind_after_days` are listed in the review room once a day, at `remind_hour`."""

    remind_after_days: int = Field(7, ge=1)
    remind_hour: int = Field(9, ge=0, le=23)


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    language: Literal["fr", "en"] = "fr"
    command_prefix: str = Field("!", min_length=1, max_length=3)
    timezone: str = "Europe/Paris"
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    files: FilesConfig = Field(default_factory=FilesConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    matrix: MatrixConfig = Field(default_factory=MatrixConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    roles: RolesConfig = Field(default_factory=RolesConfig)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    dialogs: DialogConfig = Field(default_factory=DialogConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (e.g. Europe/Paris)") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The zone of the dates people read and type, and of scheduled jobs."""
        return ZoneInfo(self.timezone)

    @field_validator("command_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.strip() != value or not value:
            raise ValueError("must not contain spaces")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: it overrides the file, which arrives as init arguments.
        return (env_settings, init_settings)

    def secrets(self) -> list[str]:
        """Every secret value, so that the log filter can blank them out."""
        values: list[str] = []
        for section in (self.matrix, self.slack):
            for value in section.__dict__.values():
                if isinstance(value, SecretStr) and value.get_secret_value():
                    values.append(value.get_secret_value())
        password = url_password(self.database.url)
        if password:
            values.append(password)
        return values

    def masked(self) -> dict[str, Any]:
        """The configuration as a dict fit to print: secrets replaced by asterisks."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = self.database.masked_url()
        return data


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` holds one line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def url_password(url: str) -> str | None:
    match = re.match(r"^[^:]+://[^:/@]*:([^@]*)@", url)
    return match.group(1) if match else None


def mask_url(url: str) -> str:
    return re.sub(r"^([^:]+://[^:/@]*:)([^@]*)@", r"\1***@", url)


def _describe(error: ErrorDetails) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "(root)"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling)"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    given = error.get("input")
    shown = "" if error["type"] in ("missing", "extra_forbidden") or isinstance(given, dict) else f" (got {given!r})"
    if any(secret in path for secret in ("password", "token", "secret", "pickle_key")):
        shown = ""
    return f"{path}: {message}{shown}"


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [f"file not found: {path}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["the file must be a mapping of sections (key: value)"])
    return data


def load_config(path: Path | str | None = DEFAULT_PATH) -> Config:
    """Load and validate; raise ConfigError listing every problem with its key path."""
    data = read_yaml(Path(path)) if path is not None else {}
    try:
        return Config(**data)
    except ValidationError as exc:
        source = str(path) if path is not None else "(defaults)"
        raise ConfigError(source, [_describe(e) for e in exc.errors()]) from None
