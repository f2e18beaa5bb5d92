"""The project's exception types; each message names the field, the value and what is accepted."""

from __future__ import annotations


class OmniError(Exception):
    """Base of every error Omnichannel raises on purpose; the CLI prints these without a trace."""


class ConfigError(OmniError):
    """A setting has a value we cannot use."""


class WarehouseError(OmniError):
    """The analytics store could not be opened or queried."""


class SchemaVersionError(OmniError):
    """A warehouse or operational store was written by a version we cannot read or upgrade."""


class ValidationError(OmniError):
    """A record did not fit its schema; names the field, the value and what is accepted."""

    def __init__(self, field: str, value: object, accepted: str) -> None:
        self.field = field
        self.value = value
        self.accepted = accepted
        super().__init__(f"{field}={value!r} is not accepted: expected {accepted}")


class ConflictError(OmniError):
    """The request conflicts with work in progress (a job running already); try later."""


class NotFoundError(OmniError):
    """The named thing (a segment, ...) does not exist; the message names it (404 over HTTP)."""
