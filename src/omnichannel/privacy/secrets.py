"""Secrets come from the environment or from files only their owner can read.

A key file readable by the group or by everyone is refused with the file, its mode and
the command that fixes it: a copy of the home (a backup, a shared volume) must not hand
out the keys that sign links or hash erased people. A missing file is made once, mode
0600, with ``O_EXCL`` so two processes starting together agree on the first key.

Example::

    key = secret_bytes("OMNI_PRIVACY_KEY", home / "privacy.key")
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from omnichannel.errors import OmniError


class UnsafeSecretFileError(OmniError):
    """A key file others can read; the message names the file, its mode and the fix."""

    def __init__(self, path: Path, mode: int) -> None:
        self.path = path
        self.mode = mode
        super().__init__(
            f"{path} holds a secret but its mode is {mode:04o} (readable by "
            f"{'everyone' if mode & stat.S_IROTH else 'its group'}); expected 0600 or "
            f"0400: run `chmod 600 {path}`, or set the secret in the environment instead"
        )


def check_file_mode(path: Path) -> None:
    """Raise ``UnsafeSecretFileError`` when ``path`` is readable by its group or others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UnsafeSecretFileError(path, mode)


def read_secret_file(path: Path) -> bytes:
    """The stripped contents of a key file, after checking its mode."""
    check_file_mode(path)
    return path.read_bytes().strip()


def secret_bytes(variable: str, path: Path, *, create: bool = True) -> bytes:
    """``$variable`` if set, else the key file at ``path`` (made on first use)."""
    configured = os.environ.get(variable)
    if configured:
        return configured.encode("utf-8")
    try:
        return read_secret_file(path)
    except FileNotFoundError:
        if not create:
            raise
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process made it a moment ago and may not have written the key yet.
        for _ in range(100):
            found = read_secret_file(path)
            if found:
                return found
            time.sleep(0.05)
        return read_secret_file(path)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key
