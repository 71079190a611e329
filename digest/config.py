"""Settings: the defaults below, overridden by a user file, then by PAPERDIGEST_* variables.

The models here are the one source of every default (`DEFAULTS`); config/default.toml documents
each setting with the same value (a test compares them). An unknown key or a bad value raises
ConfigError naming the key and where it came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from digest.clock import check_timezone, parse_time, weekdays
from digest.errors import ConfigError, clip

ENV_PREFIX = "PAPERDIGEST_"
# Each secret's environment variable: read by `load_secrets` only, never a setting or in a file.
SECRET_VARIABLES = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "status_token": f"{ENV_PREFIX}STATUS_TOKEN",
    "semantic_scholar_api_key": "SEMANTIC_SCHOLAR_API_KEY",
    "zotero_api_key": "ZOTERO_API_KEY",
}
SECRET_NAME = re.compile(r"(TOKEN|SECRET|KEY|PASSWORD)", re.I)
ENV_SECRETS = tuple(v for v in SECRET_VARIABLES.values() if v.startswith(ENV_PREFIX))
_ANNOUNCE = {"new", "cross", "replace", "replace-cross"}
EFFORTS = ("none", "minimal", "low", "medium", "high")  # OpenAI's reasoning_effort values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DB_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
_DB_HINT = "use sqlite:///path or postgresql+psycopg://user:pass@host/db"


class DatabaseSettings(_Section):
    url: str = ""
    path: str = "paperdigest.sqlite3"
    busy_timeout: float = Field(30.0, gt=0)  # SQLite: seconds to wait for another's lock
    connect_timeout: float = Field(2.0, gt=0)  # PostgreSQL: seconds to wait for a connection

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        """Empty, SQLite or PostgreSQL (psycopg); the message never repeats the URL's password."""
        if not value:
            return value
        scheme, sep, _ = value.partition("://")
        if not sep or not scheme:
            raise ValueError(f"not a database URL; {_DB_HINT}")
        if scheme not in _DB_SCHEMES:
            raise ValueError(f"unsupported database '{clip(scheme, 30)}://'; {_DB_HINT}")
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(f"a {scheme}:// URL that cannot be parsed; {_DB_HINT}") from None
        return value

    @property
    def dsn(self) -> str:
        return self.url or f"sqlite:///{self.path}"


class ArxivSettings(_Section):
    categories: tuple[str, ...] = ("cs.LG", "cs.AI")
    announce_types: tuple[str, ...] = ("new", "cross")
    rss_url: str = "https://rss.arxiv.org/rss/"
    timeout: float = Field(30.0, gt=0)
    export_url: str = "https://export.arxiv.org/api/query?{}"
    export_delay: float = Field(3.0, ge=0)

    @field_validator("announce_types")
    @classmethod
    def _known_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in _ANNOUNCE]
        if bad:
            raise ValueError(f"unknown announce type {bad[0]!r}; use {sorted(_ANNOUNCE)}")
        return value

    @field_validator("categories")
    @classmethod
    def _some_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one category is needed")
        return value


class DigestSettings(_Section):
    subscription: str = "default"
    criteria: str = ""
    relevance_cutoff: int = Field(8, ge=1, le=10)
    novelty_cutoff: int = Field(7, ge=1, le=10)
    top_k: int = Field(0, ge=0)
    no_repeats: bool = True
    out_dir: str = "out"


def _hh_mm(value: str) -> str:
    """A time of day as HH:MM, or the one-line ValueError pydantic reports."""
    try:
        return parse_time(value).strftime("%H:%M")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


class BotSettings(_Section):
    admins: tuple[str, ...] = ()
    top_k: int = Field(10, ge=1, le=100)
    schedule: str = "06:30"
    timezone: str = "UTC"

    _schedule = field_validator("schedule")(_hh_mm)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            return check_timezone(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class StoreSettings(_Section):
    keep_days: int = Field(400, ge=1)


class ServeSettings(_Section):
    health_host: str = "0.0.0.0"
    health_port: int = Field(8080, ge=0, le=65535)
    lease_seconds: float = Field(120.0, gt=0)
    days: str = "mon-fri"

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        weekdays(value)
        return value


class SlackSettings(_Section):
    api_url: str = "https://slack.com/api/"
    host: str = "0.0.0.0"
    port: int = Field(3000, ge=0, le=65535)
    messages_per_second: float = Field(0.0, ge=0)
    channel_gap_seconds: float = Field(1.0, ge=0)


SCORERS = ("auto", "local", "llm", "cascade")


class LibrarySettings(_Section):
    doi_url: str = "https://api.semanticscholar.org/graph/v1"
    zotero_url: str = "https://api.zotero.org"
    zotero_sync: str = "05:00"

    _zotero_sync = field_validator("zotero_sync")(_hh_mm)


class TelegramSettings(_Section):
    api_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"
    webhook_url: str = ""
    host: str = "0.0.0.0"
    port: int = Field(8443, ge=0, le=65535)
    messages_per_second: float = Field(30.0, ge=0)
    chat_gap_seconds: float = Field(1.0, ge=0)
    group_messages_per_minute: float = Field(20.0, ge=0)

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in ("polling", "webhook"):
            raise ValueError(f"unknown mode {value!r}; use 'polling' or 'webhook'")
        return value


class ScoringSettings(_Section):
    scorer: str = "auto"
    cascade_fraction: float = Field(0.6, gt=0, le=1)
    cascade_floor: float = Field(0.2, gt=0, le=1)

    @field_validator("scorer")
    @classmethod
    def _known_scorer(cls, value: str) -> str:
        if value not in SCORERS:
            raise ValueError(f"unknown scorer {value!r}; use one of {', '.join(SCORERS)}")
        return value


class LLMSettings(_Section):
    model: str = "gpt-5-mini"
    batch_size: int = Field(140, ge=1, le=500)
    concurrency: int = Field(4, ge=1, le=64)
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    abstract_words: int = Field(0, ge=0)
    reasoning_effort: str = "low"
    max_completion_tokens: int = Field(16000, ge=0)
    daily_budget: float = Field(1.0, ge=0)
    # US dollars per million tokens: (prompt, cached prompt, completion)
    prices: dict[str, tuple[float, float, float]] = {
        "gpt-5": (1.25, 0.125, 10.0),
        "gpt-5-mini": (0.25, 0.025, 2.0),
        "gpt-5-nano": (0.05, 0.005, 0.4),
        "gpt-4.1-mini": (0.4, 0.1, 1.6),
        "gpt-4o-mini": (0.15, 0.075, 0.6),
    }

    @field_validator("reasoning_effort")
    @classmethod
    def _effort(cls, value: str) -> str:
        if value and value not in EFFORTS:
            raise ValueError(f"unknown effort {value!r}; use one of {', '.join(EFFORTS)} or ''")
        return value


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    store: StoreSettings = StoreSettings()
    arxiv: ArxivSettings = ArxivSettings()
    digest: DigestSettings = DigestSettings()
    bot: BotSettings = BotSettings()
    serve: ServeSettings = ServeSettings()
    slack: SlackSettings = SlackSettings()
    telegram: TelegramSettings = TelegramSettings()
    scoring: ScoringSettings = ScoringSettings()
    llm: LLMSettings = LLMSettings()
    library: LibrarySettings = LibrarySettings()


DEFAULTS = Settings()  # every setting's default, for what is built without loaded settings


@dataclass(frozen=True)
class Secrets:
    """Tokens and keys, from the environment only (`load_secrets`); their repr shows none."""

    slack_bot_token: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)  # Socket Mode
    slack_signing_secret: str = field(default="", repr=False)  # HTTP mode
    telegram_bot_token: str = field(default="", repr=False)
    telegram_webhook_secret: str = field(default="", repr=False)
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""  # another OpenAI-compatible server; empty: OpenAI's
    status_token: str = field(default="", repr=False)  # the bearer token of /status
    semantic_scholar_api_key: str = field(default="", repr=False)  # optional: DOI look-ups
    zotero_api_key: str = field(default="", repr=False)  # the Zotero sync


def load_secrets(env: Mapping[str, str] | None = None) -> Secrets:
    """The secrets set in `env` (the process environment by default); unset ones are empty."""
    env = os.environ if env is None else env
    return Secrets(**{name: env.get(variable, "") for name, variable in SECRET_VARIABLES.items()})


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of every secret-looking variable (the known ones and any other *TOKEN,
    *SECRET, *KEY or *PASSWORD), longest first: what a log must never show."""
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(values, key=len, reverse=True)


def config_dir() -> Path:
    """The bundled config folder: the repository's config/ or its copy inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_config", here.parent / "config"):
        if (candidate / "default.toml").exists():
            return candidate
    raise ConfigError("the bundled config/default.toml is missing; reinstall paperdigest")


def load_settings(user_file: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, then `user_file` (or $PAPERDIGEST_CONFIG, or ./paperdigest.toml), then env."""
    env = dict(os.environ if env is None else env)
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, ...], str] = {}  # (section, key): the file or variable
    layers: list[Path] = []
    if user_file is None and env.get(f"{ENV_PREFIX}CONFIG"):
        user_file = Path(env[f"{ENV_PREFIX}CONFIG"])
    if user_file is None and Path("paperdigest.toml").exists():
        user_file = Path("paperdigest.toml")
    if user_file is not None:
        layers.append(Path(user_file))
    for path in layers:
        _merge(merged, origin, _read_toml(path), str(path))
    for name, layer in _env_layers(env):
        _merge(merged, origin, layer, f"environment variable {name}")
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc[:2])
        where = origin.get(tuple(loc[:2]), "defaults")
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"config key '{key}' in {where}: {msg}") from None


def _section(name: str) -> type[_Section]:
    """The model of one [section] of the settings."""
    model = Settings.model_fields[name].annotation
    if not (isinstance(model, type) and issubclass(model, _Section)):
        raise TypeError(f"Settings.{name} is not a settings section")
    return model


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(
    merged: dict[str, dict[str, Any]],
    origin: dict[tuple[str, ...], str],
    layer: dict[str, Any],
    source: str,
) -> None:
    sections = Settings.model_fields
    for section, values in layer.items():
        if section not in sections:
            raise ConfigError(
                f"unknown config section '[{section}]' in {source}; known: {', '.join(sections)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"config key '{section}' in {source} must be a [section] table")
        known = _section(section).model_fields
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"unknown config key '{section}.{key}' in {source}; "
                    f"known keys of [{section}]: {', '.join(known)}"
                )
            merged.setdefault(section, {})[key] = value
            origin[(section, key)] = source


def _env_layers(env: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """PAPERDIGEST_DIGEST_TOP_K=5 -> ("PAPERDIGEST_DIGEST_TOP_K", {"digest": {"top_k": "5"}})."""
    layers = []
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in (f"{ENV_PREFIX}CONFIG", *ENV_SECRETS):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in Settings.model_fields or not key:
            raise ConfigError(
                f"unknown config variable {name} in the environment; "
                f"use {ENV_PREFIX}<SECTION>_<KEY>; sections: {', '.join(Settings.model_fields)}"
            )
        field = _section(section).model_fields.get(key)
        if field is not None and str(field.annotation).startswith("tuple"):
            parsed: Any = [v.strip() for v in value.split(",") if v.strip()]
        else:
            parsed = value
        layers.append((name, {section: {key: parsed}}))
    return layers
