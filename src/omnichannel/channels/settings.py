"""``<home>/channels.yaml``: what every channel may do, read once and checked whole.

The file says where links point (``public_base_url``), the frequency caps, the quiet
hours, which channels need an explicit opt-in, who may receive test sends, and one
section per channel (``email:``, ``sms:``, ``webhook:``...) checked by that channel's
settings model (``registry.settings_class``). Secrets are written as ``${ENV_VAR}``
references and read from the environment when the file is loaded, so the file itself
can be committed; they are never printed (``redacted()`` shows the references).

Every error names the path inside the file, the value and what is accepted::

    channels.yaml: caps.channels.sms[0].per='1 week' is not accepted: expected seconds,
    a number with s/m/h/d (1d), or an ISO 8601 duration (P1D)

Example::

    public_base_url: https://shop.example
    caps:
      marketing: [{count: 3, per: 7d}]       # at most 3 marketing messages a week
      channels: {sms: [{count: 1, per: 1d}]} # and at most 1 SMS a day
    quiet_hours: {start: "21:00", end: "08:00", timezone: Asia/Shanghai}
    consent: {require_opt_in: [sms, wechat]}
    test_recipients: {email: [qa@shop.example]}
    webhook:
      endpoints: {crm: {url: https://crm.example/hooks/omni, secret: "${CRM_HOOK_SECRET}"}}
"""

from __future__ import annotations

import os
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from omnichannel.channels import registry
from omnichannel.channels.adapter import ChannelSettings
from omnichannel.errors import ConfigError
from omnichannel.textfiles import read_utf8

FILE_NAME = "channels.yaml"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_HELP = "seconds, a number with s/m/h/d/w (1d), or an ISO 8601 duration (P1D)"


def _duration(value: Any) -> Any:
    """``7d``/``24h``/``90`` -> timedelta; other forms (ISO 8601, timedelta) go to pydantic."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().lower())
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _clock_value(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 21:00 as the sexagesimal integer 1260 (21 * 60).
    if isinstance(value, int) and not isinstance(value, bool):
        return time(value // 60 % 24, value % 60)
    return value


class Cap(BaseModel):
    """At most ``count`` messages per ``per`` (a rolling window ending now)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0)
    per: Duration

    @field_validator("per")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("a window longer than zero")
        return value

    def describe(self) -> str:
        return f"{self.count} per {_human(self.per)}"


class Caps(BaseModel):
    """Frequency caps on marketing messages (transactional ones are exempt)."""

    model_config = ConfigDict(extra="forbid")

    # Across every channel: marketing messages sent (or queued) to one person.
    marketing: list[Cap] = Field(default_factory=list)
    # Per channel, on top of the global caps.
    channels: dict[str, list[Cap]] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, list[Cap]]) -> dict[str, list[Cap]]:
        for name in value:
            registry.known(name)
        return value


class QuietWindow(BaseModel):
    """A daily window (local time) in which marketing messages wait; it may cross midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        return _clock_value(value)


class QuietHours(BaseModel):
    """Quiet hours in the person's time zone (``timezone`` when theirs is unknown)."""

    model_config = ConfigDict(extra="forbid")

    start: time | None = None
    end: time | None = None
    timezone: str = "UTC"
    # Per channel: a window of its own, or null for none (a channel that may always send).
    channels: dict[str, QuietWindow | None] = Field(default_factory=dict)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> Any:
        return _clock_value(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone name such as Asia/Shanghai or UTC") from None
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            registry.known(name)
        return value

    def window(self, channel: str) -> QuietWindow | None:
        """The quiet window of ``channel``: its own, else the global one, else none."""
        if channel in self.channels:
            return self.channels[channel]
        if self.start is None or self.end is None:
            return None
        return QuietWindow(start=self.start, end=self.end)


class ConsentRules(BaseModel):
    """Channels that need an explicit ``granted`` decision; others send unless withheld."""

    model_config = ConfigDict(extra="forbid")

    require_opt_in: list[str] = Field(default_factory=list)

    @field_validator("require_opt_in")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        for name in value:
            registry.known(name)
        return value


class ChannelsConfig(BaseModel):
    """The whole of ``channels.yaml`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    # Signs tracking and unsubscribe links; a generated <home>/tracking.key when unset.
    tracking_secret: str | None = None
    caps: Caps = Field(default_factory=Caps)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    consent: ConsentRules = Field(default_factory=ConsentRules)
    # Addresses a test send may go to, per channel: nobody else gets a test.
    test_recipients: dict[str, list[str]] = Field(default_factory=dict)
    # One section per channel, checked by the channel's own settings model.
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    # Where it was read from (None: defaults) and which values were ${ENV} references.
    source: Path | None = Field(default=None, exclude=True)
    secret_paths: dict[str, str] = Field(default_factory=dict, exclude=True)

    @field_validator("public_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("an http:// or https:// URL, e.g. https://shop.example")
        return value.rstrip("/")

    @field_validator("test_recipients")
    @classmethod
    def _known_test_channels(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in value:
            registry.known(name)
        return value

    def channel(self, name: str) -> ChannelSettings:
        """``name``'s settings: its section, or its settings model's defaults."""
        settings = self.channels.get(registry.known(name))
        if settings is None:
            try:
                settings = registry.settings_class(name)()
            except PydanticValidationError as exc:
                needed = ", ".join(
                    str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing" and e["loc"]
                )
                raise ConfigError(
                    f"the {name} channel is not configured: add a {name}: section to "
                    f"{self.source or FILE_NAME}{' with ' + needed if needed else ''} "
                    "(see docs/channels.md)"
                ) from None
            self.channels[name] = settings
        return settings

    def configured(self) -> list[str]:
        """Channels with a section in the file."""
        return sorted(self.channels)

    def enabled(self) -> list[str]:
        """Channels with a section in the file that is not ``enabled: false``."""
        return [name for name in self.configured() if self.channels[name].enabled]

    def redacted(self) -> dict[str, Any]:
        """The configuration as a document, with every ``${ENV}`` secret shown as its reference."""
        document = self.model_dump(mode="json", exclude={"channels"})
        document["channels"] = {
            name: section.model_dump(mode="json") for name, section in self.channels.items()
        }
        for path, reference in self.secret_paths.items():
            _set_path(document, path, reference)
        return document


_TOP_LEVEL = set(ChannelsConfig.model_fields) - {"channels", "source", "secret_paths"}


def load_channels_config(
    path: Path | None, *, environ: dict[str, str] | None = None
) -> ChannelsConfig:
    """The configuration in ``path`` (None: the defaults); errors name the file and the place."""
    if path is None:
        return ChannelsConfig()
    where = str(path)
    try:
        text = read_utf8(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {where}: {exc.strerror or exc}") from None
    return parse_channels_config(text, where=where, source=path, environ=environ)


def parse_channels_config(
    text: str,
    *,
    where: str = FILE_NAME,
    source: Path | None = None,
    environ: dict[str, str] | None = None,
) -> ChannelsConfig:
    """``text`` (YAML) as a configuration; see ``load_channels_config``."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{where} is not valid YAML{place}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            f"{where}: the file must be a mapping of sections, not {type(document).__name__}"
        )
    secrets: dict[str, str] = {}
    document = _substitute(
        document, "", environ if environ is not None else dict(os.environ), secrets, where
    )
    top = {key: value for key, value in document.items() if key in _TOP_LEVEL}
    sections = {key: value for key, value in document.items() if key not in _TOP_LEVEL}
    try:
        config = ChannelsConfig.model_validate(top)
    except PydanticValidationError as exc:
        raise ConfigError(_describe(exc, where, "")) from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    for name, section in sections.items():
        config.channels[name] = _channel_section(name, section, where)
    config.source = source
    config.secret_paths = secrets
    return config


def _channel_section(name: str, section: Any, where: str) -> ChannelSettings:
    accepted = ", ".join(sorted(_TOP_LEVEL | set(registry.CHANNELS)))
    if name not in registry.CHANNELS:
        raise ConfigError(f"{where}: {name}= is not accepted: expected one of {accepted}")
    try:
        model = registry.settings_class(name)
    except ImportError:
        raise ConfigError(
            f"{where}: {name}: the {name} channel is not available in this installation"
        ) from None
    try:
        return model.model_validate(section if section is not None else {})
    except PydanticValidationError as exc:
        raise ConfigError(_describe(exc, where, f"{name}.")) from None


def _substitute(
    value: Any, path: str, environ: dict[str, str], secrets: dict[str, str], where: str
) -> Any:
    """Replace ``${VAR}`` with the variable's value, remembering where a secret was."""
    if isinstance(value, dict):
        return {
            key: _substitute(item, f"{path}.{key}" if path else str(key), environ, secrets, where)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _substitute(item, f"{path}[{i}]", environ, secrets, where)
            for i, item in enumerate(value)
        ]
    if isinstance(value, str) and _ENV_REFERENCE.search(value):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(
                    f"{where}: {path}={value!r} refers to the environment variable {name}, "
                    "which is not set"
                )
            return environ[name]

        secrets[path] = value
        return _ENV_REFERENCE.sub(lookup, value)
    return value


def _describe(exc: PydanticValidationError, where: str, prefix: str) -> str:
    problems = []
    for error in exc.errors():
        place = prefix + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        value = error.get("input")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "not a setting here (misspelt?)"
        elif error["type"].startswith(("time_delta", "timedelta")):
            message = DURATION_HELP
        if not error["loc"]:  # about the section as a whole: its values may hold secrets
            problems.append(f"{where}: {prefix.rstrip('.') or 'the file'}: {message}")
            continue
        shown = "[redacted]" if _looks_secret(place) else repr(value)
        problems.append(f"{where}: {place.rstrip('.')}={shown} is not accepted: expected {message}")
    return "\n".join(problems)


def _looks_secret(place: str) -> bool:
    return any(word in place.lower() for word in ("secret", "password", "token", "key"))


def _set_path(document: dict[str, Any], path: str, value: str) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node: Any = document
    if parts and parts[0] in registry.CHANNELS and parts[0] not in document:
        node = document["channels"]
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.get(part)
        if node is None:
            return
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    elif isinstance(node, dict):
        node[last] = value


def _human(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}" if count != 1 else unit
    return f"{seconds} seconds"
