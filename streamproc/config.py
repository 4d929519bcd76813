"""Configuration: one frozen settings object, parsed once at the edge.

Environment variables carry the prefix ``STREAMPROC_`` (``STREAMPROC_PREFIX``,
``STREAMPROC_VISIBILITY_TIMEOUT``, ...), except the conventional
``REDIS_URL`` and ``DATABASE_URL``. Nothing reads the environment at import
time: call :func:`load_settings` and pass the result down.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamproc.errors import ConfigurationError


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("streamproc", appauthor=False))


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> object:
    """``'7d'``, ``'12h'``, ``'90m'``, ``'30s'``, ``'2w'`` or bare seconds -> timedelta.

    A timedelta or an ISO 8601 duration is passed on for pydantic to read.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    match = _DURATION.match(value.lower())
    if match is None:
        if value.strip().upper().startswith("P"):
            return value  # ISO 8601, which pydantic reads
        raise ValueError(f"{value!r} is not a duration: write e.g. 7d, 12h, 90m or 30s")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

DEFAULT_BATCH_RETENTION = timedelta(days=7)
"""How long a completed batch's Redis keys are kept (``STREAMPROC_BATCH_RETENTION``)."""

_URL_SCHEMES = {
    "redis_url": ("redis", "rediss", "unix"),
    "database_url": ("postgresql", "postgres"),
}
_NOT_ENCODED = (
    "is not a valid URL: its port is not a number, or its password holds characters such as "
    "@ : / ? # % that must be percent-encoded (urllib.parse.quote(password, safe=''))"
)


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """What makes ``url`` unusable as a server URL, or None; never repeats any part of it.

    A password with reserved characters left unencoded splits the URL in the
    wrong places, and the client libraries then quote the pieces (as a port, a
    host) in their errors: so a port that is not a number, a fragment, or an
    ``@`` after the host is refused here, before any client sees the URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        return "must start with " + " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return _NOT_ENCODED
    after_host = url.partition("//")[2][len(parts.netloc) :]
    return _NOT_ENCODED if "#" in url or "@" in after_host else None


class Settings(BaseSettings):
    """Everything a streamproc process can be told. Frozen once parsed."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMPROC_", frozen=True, extra="ignore", populate_by_name=True
    )

    redis_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "STREAMPROC_REDIS_URL")
    )
    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "STREAMPROC_DATABASE_URL")
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    prefix: str = Field(default="sp", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    pipeline: str = "consumers.pipeline:PIPELINE"

    concurrency: int = Field(default=64, ge=1, le=10_000)
    read_count: int = Field(default=200, ge=1, le=10_000)
    block_ms: int = Field(default=1000, ge=1, le=60_000)
    # Seconds a Redis connection may stay silent (beyond a blocking read's BLOCK, which
    # the reading lane adds) before it is given up as dead.
    redis_timeout: float = Field(default=10.0, gt=0, le=3600)
    handler_timeout: float = Field(default=300.0, gt=0)
    visibility_timeout: float = Field(default=60.0, gt=0)
    max_lease: float = Field(default=3600.0, gt=0)
    max_deliveries: int = Field(default=5, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=300.0, gt=0)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=30.0, gt=0)
    breaker_refresh: float = Field(default=0.5, gt=0)
    promote_interval: float = Field(default=0.2, gt=0)
    heartbeat_interval: float = Field(default=5.0, gt=0)
    dead_consumer_after: float = Field(default=300.0, gt=0)
    grace_period: float = Field(default=30.0, ge=0)
    retention: Duration = timedelta(days=7)
    trim_interval: float = Field(default=300.0, gt=0)
    batch_retention: Duration = DEFAULT_BATCH_RETENTION

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("redis_url", "database_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and info.field_name is not None:
            problem = url_problem(value.get_secret_value(), _URL_SCHEMES[info.field_name])
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("batch_retention")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive, e.g. 7d or 12h")
        return value

    @model_validator(mode="after")
    def _check_timings(self) -> Settings:
        if self.backoff_max < self.backoff_base:
            raise ValueError("backoff_max must not be smaller than backoff_base")
        if self.max_lease < self.visibility_timeout:
            raise ValueError("max_lease must not be smaller than visibility_timeout")
        if self.retention <= timedelta(0):
            raise ValueError("retention must be positive, e.g. 7d or 12h")

        return self

    @property
    def lease_interval(self) -> float:
        """How often in-flight leases are renewed: well inside the visibility timeout."""
        return self.visibility_timeout / 3


S = TypeVar("S", bound=BaseSettings)


def load_settings(**overrides: object) -> Settings:
    """Parse the environment (and explicit overrides) into :class:`Settings`.

    Raises :class:`ConfigurationError` naming every bad setting.
    """
    return parse_settings(Settings, "configuration", **overrides)


def parse_settings(cls: type[S], what: str, **overrides: object) -> S:
    """Build the settings class ``cls`` from the environment and ``overrides``.

    Raises :class:`ConfigurationError` naming each bad variable as it is set
    (``REDIS_URL``, ``STREAMPROC_…``); values are never repeated, as they may be secrets.
    """
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix") or "")
        errors = exc.errors(include_input=False, include_url=False)
        problems = "; ".join(_describe(err["loc"], err["msg"], prefix) for err in errors)
        raise ConfigurationError(f"invalid {what}: {problems}") from None


def _describe(loc: tuple[int | str, ...], msg: str, prefix: str) -> str:
    field = ".".join(str(part) for part in loc) or "settings"
    name = field if field.isupper() or not loc else f"{prefix}{field.upper()}"
    return f"{name}: {msg}"
