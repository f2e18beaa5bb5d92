"""The file partners exchange: salted hashes of normalised identifiers, nothing in clear.

A CSV in UTF-8 with the header ``identifier_type,identifier_hash`` and one row per
identifier: the type (``email`` or ``phone``) and the lower-case hex HMAC-SHA256, keyed
with the salt both sides agreed on, of ``type:value``, where the value is normalised the
way the warehouse stores it (an email trimmed and lower-cased, a phone in E.164:
``+8613812345678``). Rows are sorted by hash, so their order says nothing about anyone.
A partner that hashes the same way finds the same hashes for the same people, and
without the salt neither side can test a guessed address against the other's file.

Example::

    write_hashes(path, [("email", "3f1c...")])
    read_hashes(path)  # -> {"email": {"3f1c..."}}
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from omnichannel.errors import ValidationError
from omnichannel.privacy.secrets import read_secret_file

HEADER = ("identifier_type", "identifier_hash")
TYPES = ("email", "phone")
MIN_SALT_BYTES = 16
_HEX64 = re.compile(r"[0-9a-f]{64}")


def salt_from(path: Path | None = None, *, variable: str = "OMNI_PARTNER_SALT") -> bytes:
    """The shared salt: the file at ``path`` (refused unless only its owner reads it),
    else ``$OMNI_PARTNER_SALT``; at least 16 bytes."""
    if path is not None:
        try:
            salt = read_secret_file(path)
        except OSError as exc:  # a typo in --salt-file, or a directory
            accepted = f"a readable salt file ({exc.strerror or exc})"
            raise ValidationError("salt_file", str(path), accepted) from None
        where = f"{path} ({len(salt)} bytes)"
    else:
        salt = os.environ.get(variable, "").encode("utf-8")
        where = f"${variable} ({f'{len(salt)} bytes' if salt else 'not set'})"
    if len(salt) < MIN_SALT_BYTES:
        # Beside ``omni serve`` the server reads the variable, not the CLI's shell.
        raise ValidationError(
            "salt",
            where,
            f"a shared salt of at least {MIN_SALT_BYTES} bytes: --salt-file FILE, or "
            f"${variable} in the environment of the process that hashes (beside a running "
            "omni serve, the server's own)",
        )
    return salt


# A salt, or how to read it once it is needed: a command checks what it was asked about
# (the exchange exists, is not expired) before it asks for the salt.
SaltSource = bytes | Callable[[], bytes]


def resolve_salt(source: SaltSource) -> bytes:
    return source if isinstance(source, bytes) else source()


def fingerprint(salt: bytes) -> str:
    """Which salt was used (the first 12 hex digits of its SHA-256), never the salt."""
    return hashlib.sha256(salt).hexdigest()[:12]


def write_hashes(path: Path, rows: Iterable[tuple[str, str]]) -> int:
    """Write ``(type, hash)`` rows sorted by hash, mode 0600; returns how many."""
    ordered = sorted(set(rows), key=lambda row: (row[1], row[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(ordered)
    partial.replace(path)
    return len(ordered)


def read_hashes(path: Path) -> dict[str, set[str]]:
    """The hashes of a partner's file per type; any malformed row refuses the whole file,
    naming its line, the field, the value and what is accepted."""
    try:
        source = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ValidationError("file", str(path), f"a readable file ({exc.strerror})") from None
    with source:
        try:
            return _hashes_in(path.name, csv.reader(source))
        except UnicodeDecodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise ValidationError(f"{path.name} encoding", repr(bad), "UTF-8 text") from None
        except csv.Error as exc:  # e.g. a field beyond the csv module's size limit
            raise ValidationError(path.name, str(exc), "a CSV file of two columns") from None


def _hashes_in(name: str, reader: Iterator[list[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {t: set() for t in TYPES}
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        raise ValidationError(
            f"{name} line 1", ",".join(header or []), "the header " + ",".join(HEADER)
        )
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 2:
            raise ValidationError(f"{name} line {line}", ",".join(row), "two columns")
        id_type, value = row[0].strip().lower(), row[1].strip().lower()
        if id_type not in TYPES:
            raise ValidationError(f"{name} line {line} identifier_type", row[0], "email or phone")
        if not _HEX64.fullmatch(value):
            raise ValidationError(
                f"{name} line {line} identifier_hash",
                row[1][:80],
                "64 hex digits (HMAC-SHA256 of type:value with the shared salt)",
            )
        found[id_type].add(value)
    return found
