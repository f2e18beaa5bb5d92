"""Masked contact details for roles without ``profiles:read_pii`` (the service desk).

An email keeps its first letter and its top-level domain, a phone its country code and
last four digits: enough for an agent to confirm "the address ending in 5678" with the
caller, not enough to copy a list. ``mask_data`` walks any JSON-ready answer (a 360°
card, a timeline page) and masks every email and E.164 phone number in any string, so a
new field carrying one is masked without anyone listing it.

Example::

    mask_email("ann.lee@example.com")    # 'a******@e******.com'
    mask_phone("+8613812345678")         # '+86*******5678'
    mask_data({"identifiers": {"email": ["ann@x.com"]}, "looked_up": "phone:+8613812345678"})
"""

from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*")
# Normalised phones are E.164 (ingest/normalize.py): a plus and 8 to 15 digits.
PHONE = re.compile(r"\+\d{8,15}(?!\d)")
_COUNTRY_DIGITS = 2
_KEEP_DIGITS = 4


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_host = (host[:1] + "*" * max(len(host) - 1, 1)) if host else ""
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{masked_host}{dot}{tld}"


def mask_phone(phone: str) -> str:
    digits = phone.lstrip("+")
    keep_start = _COUNTRY_DIGITS if len(digits) > _COUNTRY_DIGITS + _KEEP_DIGITS else 0
    hidden = len(digits) - keep_start - _KEEP_DIGITS
    return "+" + digits[:keep_start] + "*" * max(hidden, 1) + digits[-_KEEP_DIGITS:]


def mask_text(text: str) -> str:
    """``text`` with every email and E.164 phone in it masked."""
    if "@" in text:
        text = EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    if "+" in text:
        text = PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text


def mask_data(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, strings, numbers) with contact details masked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_data(k) if isinstance(k, str) else k: mask_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(item) for item in value]
    return value
