"""Structured logs of the long-running services (``omni serve``, ``omni worker``).

One line per record on stderr, either a JSON object (what log shippers such as Vector,
Fluent Bit or Loki read without a parsing rule) or text for a person at a terminal.
``OMNI_LOG_FORMAT=auto`` (the default) picks JSON when stderr is not a terminal (a
container, systemd, a file) and text when it is. Fields passed with ``extra=`` become
keys of their own::

    log.info("job finished", extra={"job": "profiles", "run_id": 7, "rows": 120})

    {"time": "2026-12-01T11:32:09.123Z", "level": "INFO",
     "logger": "omnichannel.jobs.runner", "message": "job finished",
     "job": "profiles", "run_id": 7, "rows": 120}

Secrets never reach the output: admin tokens (``omni_admin_...``), write keys
(``wk_...``), ``Bearer``/``Basic`` credentials and passwords inside URLs are masked in
the message, in every field and in tracebacks, and a field named like a secret
(``token``, ``write_key``, ``password``...) is masked whatever its value.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

import orjson

LogFormat = Literal["auto", "json", "text"]

# What every LogRecord carries; anything else on a record came from ``extra=``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}

_SECRET_TEXT = [
    (re.compile(r"\b(omni_admin_|wk_)[A-Za-z0-9_\-]{4,}"), r"\1[redacted]"),
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{6,}", re.IGNORECASE), r"\1 [redacted]"),
    # scheme://user:password@host -> scheme://user:[redacted]@host
    (re.compile(r"(\b[a-zA-Z][\w+.\-]*://[^\s:/@]*):[^\s@/]+@"), r"\1:[redacted]@"),
]
_SECRET_FIELD = re.compile(r"token|password|passwd|secret|authorization|write_?key|api_?key", re.I)

# Uvicorn logs "Started server process" as uvicorn.error: an alert on "error" would fire.
_LOGGER_NAMES = {"uvicorn.error": "uvicorn"}

# Libraries whose INFO lines repeat what ours say (APScheduler: "Running job ...").
_QUIET = {"apscheduler": logging.WARNING}


# One cheap look first: most lines hold nothing to mask, and three substitutions cost more.
_MAYBE_SECRET = re.compile(r"wk_|omni_admin_|://|bearer|basic", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every credential it holds masked."""
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=1024)
def _secret_field(key: str) -> bool:
    return _SECRET_FIELD.search(key) is not None


def _safe(key: str, value: Any) -> Any:
    if _secret_field(key):
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _safe(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_safe("", v) for v in value]
    return value


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    # Uvicorn's access line: (client, method, path with query, HTTP version, status).
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, _version, status = args
        return {"client": client, "method": method, "path": path, "status": status}
    return {}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record: its ``extra=`` keys, then the error if any."""
    fields = _access_fields(record)
    fields.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        fields.setdefault("error", f"{type(exc).__name__}: {exc}")
    return {key: _safe(key, value) for key, value in fields.items()}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601 UTC), level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": _LOGGER_NAMES.get(record.name, record.name),
            "message": redact(record.getMessage()),
        }
        for key, value in fields_of(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["traceback"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = fields_of(record)
        if record.exc_info:
            fields.pop("error", None)  # the traceback's last line says it
        shown = " ".join(f"{key}={value}" for key, value in fields.items())
        name = _LOGGER_NAMES.get(record.name, record.name)
        text = f"{_time(record)} {record.levelname:<7} {name}: "
        text += redact(record.getMessage()) + (f" {shown}" if shown else "")
        if record.exc_info:
            text += "\n" + redact(self.formatException(record.exc_info))
        return text


def chosen_format(setting: str, stream: IO[str]) -> Literal["json", "text"]:
    """``auto`` is JSON unless ``stream`` is a terminal."""
    if setting in ("json", "text"):
        return setting  # type: ignore[return-value]
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def configure_logging(
    level: str, log_format: str = "auto", *, stream: IO[str] | None = None
) -> Literal["json", "text"]:
    """Send every logger (ours, Uvicorn's, libraries') through one handler; returns the format.

    Called once by ``omni serve`` and ``omni worker``: the process is theirs, so the root
    logger's handlers are replaced rather than added to (no line printed twice).
    """
    stream = stream or sys.stderr
    chosen = chosen_format(log_format, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # Uvicorn's own lines go through the root handler, in the same format.
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    for name, quiet in _QUIET.items():
        if root.level > logging.DEBUG:
            logging.getLogger(name).setLevel(quiet)
    return chosen
