"""Does a text, a row or a file name one person? The one test erasure and export share.

Long values (emails, phones, user ids, names: ``MIN_CONTAINED`` characters or more) are
looked for inside any text, case-insensitively; shorter ones only as a whole token, so a
user id ``u1`` matches ``"u1"`` in a JSON document but not ``u10``.
"""

from __future__ import annotations

import re
from typing import Any

from omnichannel.privacy.footprint import MIN_CONTAINED, Footprint

ERASED = "[erased]"


class Matcher:
    """Tests and redactions for one footprint."""

    def __init__(self, footprint: Footprint, *, names: bool = False) -> None:
        self.values = footprint.values
        self.contained = footprint.mentions if names else footprint.contained
        short = sorted({v for v in self.values if len(v) < MIN_CONTAINED}, key=len, reverse=True)
        longs = sorted(self.contained, key=len, reverse=True)
        parts = [re.escape(v) for v in longs]
        parts += [rf"(?<![\w@.+\-]){re.escape(v)}(?![\w@.+\-])" for v in short]
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self._bytes = [v.encode("utf-8") for v in longs]

    @property
    def empty(self) -> bool:
        return self._pattern is None

    def names(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None

    def names_bytes(self, data: bytes) -> bool:
        if not self._bytes:
            return False
        lowered = data.lower()
        return any(v in lowered for v in self._bytes)

    def redact(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(ERASED, text)

    def names_value(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.names(value)
        if isinstance(value, dict):
            return any(self.names_value(k) or self.names_value(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(self.names_value(v) for v in value)
        return False

    def redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact_value(k): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value
