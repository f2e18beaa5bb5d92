"""Settings for one installation, read from ``OMNI_*`` environment variables.

Every piece of state lives under ``home``; the URLs default to files inside it, so
``--home`` (or ``OMNI_HOME``) alone is enough to switch between installations.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnichannel.errors import ConfigError

DEFAULT_HOME = Path("omni-home")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Everything an installation can be told; each field is also ``OMNI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="OMNI_", extra="ignore")

    home: Path = Field(
        default=DEFAULT_HOME,
        description="Directory holding all state of this installation.",
    )
    warehouse_url: str | None = Field(
        default=None,
        description=(
            "Analytics store. duckdb:///path/omni.duckdb (default, inside home), "
            "postgres://user:pass@host:port/db, clickhouse://host:port/db, or pyspark://."
        ),
    )
    opstore_url: str | None = Field(
        default=None,
        description=(
            "Operational store (SQLAlchemy URL). sqlite:///path/opstore.sqlite (default, "
            "inside home) or postgresql+psycopg://user:pass@host:port/db."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `omni serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `omni serve` listens on.")
    collector_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "When set, `omni serve` also runs the collector in a process of its own on this "
            "port, at OMNI_HOST (the main port keeps its collector routes too); see "
            "docs/collector.md."
        ),
    )
    bus_url: str | None = Field(
        default=None,
        description=(
            "When set (redis://host:port/db), collectors append accepted events to a Redis "
            "stream instead of the local event log, and loaders read it in a consumer group; "
            "the Redis server must run with appendonly yes and appendfsync always. See "
            "docs/collector.md."
        ),
    )
    bus_stream: str = Field(
        default="omni:events",
        min_length=1,
        description="The Redis stream key the collectors append to and the loaders read.",
    )
    bus_group: str = Field(
        default="loaders",
        min_length=1,
        description="The consumer group of the loaders on OMNI_BUS_STREAM.",
    )
    bus_consumer: str | None = Field(
        default=None,
        description=(
            "This loader's consumer name in the group (default host-pid). A stable name "
            "lets a restarted loader take back its own unacknowledged entries at once."
        ),
    )
    bus_claim_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "A loader claims another consumer's entries that have waited this long "
            "unacknowledged (XAUTOCLAIM): the other loader died or hangs."
        ),
    )
    collector_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="Niceness the collector process adds to itself (OMNI_COLLECTOR_PORT).",
    )
    worker_metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port `omni worker` serves Prometheus metrics on, at OMNI_HOST (0: none).",
    )
    default_region: str = Field(
        default="CN",
        description="ISO 3166 region used to read phone numbers written without a country code.",
    )
    default_currency: str = Field(
        default="CNY", description="ISO 4217 currency assumed when a record names none."
    )
    log_level: str = Field(
        default="INFO",
        description="Logging level of `omni serve` and `omni worker`: DEBUG, INFO, WARNING, "
        "ERROR or CRITICAL. DEBUG also logs a line per HTTP request.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines of `omni serve` and `omni worker`: json (one object per line), "
        "text, or auto (json unless stderr is a terminal).",
    )
    event_max_future: timedelta = Field(
        default=timedelta(days=1),
        description="The collector refuses events timestamped more than this after receipt "
        "(seconds or ISO 8601 duration, e.g. P1D).",
    )
    event_max_age: timedelta = Field(
        default=timedelta(days=1826),
        description="The collector refuses events timestamped more than this before receipt "
        "(default about 5 years).",
    )
    dedupe_window: timedelta = Field(
        default=timedelta(days=1),
        description="The collector's loader drops an event whose messageId was stored this "
        "recently (a retried call); older duplicates are stored. Seconds or ISO 8601 (P1D). "
        "Files loaded with `omni ingest` are compared with every stored event.",
    )
    loader_interval: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between the loader's checks of the event log when idle.",
    )
    log_segment_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        description="Size at which the event log starts a new segment file.",
    )
    write_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long the collector trusts a write-key lookup (a revocation made "
        "outside the server takes effect within this time).",
    )
    session_hours: float = Field(
        default=12.0,
        gt=0,
        description="How long a web sign-in lasts at most (hours), however active.",
    )
    session_idle_minutes: float = Field(
        default=60.0,
        gt=0,
        description="A web session unused this long (minutes) ends; the next page asks to sign in.",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure; unset: when the request came over https "
        "(directly or per X-Forwarded-Proto from a proxy).",
    )
    large_send_threshold: int = Field(
        default=10_000,
        ge=1,
        description="A send to a segment of more people than this needs an approver's "
        "approval first (someone other than who asked for it).",
    )
    job_schedules: str = Field(
        default="",
        description="How often `omni serve` (or `omni worker`) runs each background job, "
        "overriding its default: comma-separated name=period, e.g. profiles=5m,linkage=1d; "
        "a period is seconds, a number with s/m/h/d, an ISO 8601 duration, or off. "
        "`omni jobs list` shows the jobs and their periods.",
    )
    retention: str = Field(
        default="",
        description="How long tables keep their rows, for the daily retention job: "
        "comma-separated table=period, e.g. events=400d,dead_letters=90d,audit_log=730d "
        "(a period as in OMNI_JOB_SCHEDULES, or off); a table not named keeps everything. "
        "Tables: events, dead_letters, deliveries, orders, order_lines, ad_spend, "
        "audit_log, outbox, job_runs, notifications, web_sessions, inbox_messages.",
    )
    cors_origins: str = Field(
        default="*",
        description="Origins browsers may call the API from: comma-separated, e.g. "
        "https://shop.example,https://m.shop.example; * for any (what a public collector "
        "for analytics.js needs); empty for none.",
    )
    unauthorized_sample_per_hour: int = Field(
        default=100,
        ge=0,
        description="Collector requests without a valid write key are all counted; this "
        "many per hour are kept as dead letters (a sample to debug an SDK with).",
    )
    unauthorized_sample_bytes: int = Field(
        default=4096,
        ge=0,
        description="Bytes of each sampled unauthenticated request kept in dead letters.",
    )
    privacy_regulation: Literal["gdpr", "pipl"] = Field(
        default="gdpr",
        description="The law a data-subject request is answered under unless it names one: "
        "gdpr (a deadline in days) or pipl (in working days).",
    )
    privacy_gdpr_days: int = Field(
        default=30, ge=1, description="Days to answer a data-subject request under GDPR."
    )
    privacy_pipl_working_days: int = Field(
        default=15,
        ge=1,
        description="Working days (Monday to Friday) to answer a request under PIPL.",
    )
    collector_rate_per_key: float = Field(
        default=2000.0,
        ge=0,
        description="Collector requests per second one write key may make (sustained); over "
        "it the collector answers 429 with Retry-After. 0: no limit.",
    )
    collector_burst_per_key: int = Field(
        default=20000,
        ge=1,
        description="Collector requests one write key may make at once above its rate.",
    )

    @field_validator("log_level")
    @classmethod
    def _level_is_known(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)} (any case)")
        return value.upper()

    @field_validator("default_currency")
    @classmethod
    def _currency_is_iso(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(
                f"default_currency={value!r} is not an ISO 4217 code (three letters, e.g. CNY)"
            )
        return value.upper()

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def job_periods(self) -> dict[str, timedelta | None]:
        """``job_schedules`` read: job name -> period (None: on demand only)."""
        from omnichannel.jobs.registry import parse_period

        periods: dict[str, timedelta | None] = {}
        for item in filter(None, (part.strip() for part in self.job_schedules.split(","))):
            name, sep, period = item.partition("=")
            if not sep or not name.strip():
                raise ConfigError(
                    f"OMNI_JOB_SCHEDULES item {item!r} is not accepted: expected "
                    "name=period, e.g. profiles=15m"
                )
            periods[name.strip()] = parse_period(period, field_name=f"OMNI_JOB_SCHEDULES.{name}")
        return periods

    @cached_property
    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"duckdb:///{(self.home / 'omni.duckdb').resolve()}"

    @cached_property
    def resolved_opstore_url(self) -> str:
        return self.opstore_url or f"sqlite:///{(self.home / 'opstore.sqlite').resolve()}"

    @property
    def truth_dir(self) -> Path:
        """Ground truth of the demo business, kept apart so evaluations can score us."""
        return self.home / "truth"

    @property
    def log_dir(self) -> Path:
        """The collector's durable event log (see docs/collector.md)."""
        return self.home / "log"

    def home_file(self, name: str) -> Path | None:
        """An override file the user put in the home directory (rules, tags...), if any."""
        candidate = self.home / name
        return candidate if candidate.exists() else None

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (e.g. from CLI flags).

    A bad value is reported as a ``ConfigError`` naming the variable, the value and
    what is accepted, rather than as pydantic's multi-line dump.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except PydanticValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            problems.append(
                f"OMNI_{name.upper()}={error.get('input')!r} is not accepted: {error['msg']}"
            )
        raise ConfigError("; ".join(problems)) from exc
