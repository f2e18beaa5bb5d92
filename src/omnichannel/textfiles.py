"""Reading a user's text file (a journey, a funnel, a price book, a survey...) as UTF-8.

``Path.read_text`` raises ``UnicodeDecodeError`` for a file saved in another encoding (a
spreadsheet's export in Latin-1 or GBK), which is a ``ValueError``: the ``except
OSError`` that turns an unreadable file into a clear error let it through as a
traceback. Here it is an ``OSError`` too, naming the first byte that is not UTF-8 and
where it is, so every caller's "cannot read" error covers it.
"""

from __future__ import annotations

import errno
from pathlib import Path


class NotUtf8Error(OSError):
    """The file is not UTF-8 text."""


def read_utf8(path: Path) -> str:
    """The file's text, newlines translated as ``Path.read_text`` does."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"byte {data[exc.start]:#04x} at offset {exc.start}"
            reason = f"not UTF-8 text ({where}; save the file as UTF-8)"
            raise NotUtf8Error(errno.EILSEQ, reason, str(path)) from None
        raise  # changed between the two reads: the first error stands


def read_utf8_argument(path: Path, field: str, accepted: str) -> str:
    """The text of the file a command was given in ``field``; a ValidationError naming it
    when it cannot be read or is not UTF-8."""
    from omnichannel.errors import ValidationError

    try:
        return read_utf8(path)
    except OSError as exc:
        raise ValidationError(field, str(path), f"{accepted} ({exc.strerror or exc})") from None
