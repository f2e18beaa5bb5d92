"""Envelope encryption of personal data at rest, with rotation and no downtime.

Two levels of keys, as KMS-style envelope encryption does it:

- the **master key** (key-encryption key): ``OMNI_PII_MASTER_KEY`` or
  ``<home>/pii-master.key`` (made on first use, mode 0600; a file others can read is
  refused, ``privacy/secrets.py``). It only ever wraps data keys;
- **data keys**, one active and the older ones kept for reading, stored wrapped
  (AES-256-GCM under the master key) in ``<home>/pii-keyring.json`` (mode 0600). A
  value is sealed with the active data key: AES-256-GCM from the ``cryptography``
  package, a fresh 96-bit nonce each time, and the field's name as associated data, so
  a sealed value moved to another field does not open. A sealed value is text:
  ``pii1:<key id>:<base64 of nonce + ciphertext + tag>``.

**Rotation** (``rotate``) adds a data key and makes it the active one: new values are
sealed with it, values sealed earlier still open with their own key, so nothing stops
and nothing is rewritten at once (``reseal`` moves a value to the active key when it is
next written). **Re-wrapping** (``rewrap``) changes the master key: every data key is
unwrapped with the old one and wrapped with the new one; the data is not touched.
Every process re-reads the keyring when it meets a key id it does not know, so a
rotation by one process reaches the others without a restart.

Joins and lookups cannot use a sealed value (the nonce makes each sealing different);
they use ``blind_index``: HMAC-SHA256 of ``type:value`` with an index key of its own
(wrapped in the keyring like the data keys, never rotated by ``rotate``: a new index key
would mean re-indexing every row).

Example::

    ring = Keyring.of_home(home)
    token = ring.seal("evidence", '{"ip": "203.0.113.7"}')
    ring.open("evidence", token)          # '{"ip": "203.0.113.7"}'
    ring.rotate()                         # new values use the new key; old ones still open
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from omnichannel.errors import OmniError, ValidationError
from omnichannel.privacy.secrets import check_file_mode, read_secret_file, secret_bytes

MASTER_VARIABLE = "OMNI_PII_MASTER_KEY"
MASTER_FILE = "pii-master.key"
KEYRING_FILE = "pii-keyring.json"
PREFIX = "pii1"
NEXT = ".next"
_NONCE = 12
_WRAP_AAD = b"omnichannel data key"
_CREATION_WAITS = 100  # x 50 ms


class KeyringError(OmniError):
    """A sealed value that cannot be opened, or a keyring that cannot be read."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def master_key_bytes(raw: bytes) -> bytes:
    """A 256-bit key from the configured secret (any length: hashed to 32 bytes)."""
    if len(raw) < 16:
        raise ValidationError(MASTER_VARIABLE, "(hidden)", "a secret of at least 16 bytes")
    return hashlib.sha256(raw).digest()


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"fingerprint:" + key).hexdigest()[:12]


@dataclass
class _Ring:
    active: str
    data_keys: dict[str, bytes]
    index_key: bytes
    created: dict[str, str]
    # One AESGCM per data key: building it costs as much as sealing a short value, and
    # the send path seals and opens several values per message.
    ciphers: dict[str, AESGCM] = field(default_factory=dict)

    def cipher(self, key_id: str) -> AESGCM:
        found = self.ciphers.get(key_id)
        if found is None:
            found = self.ciphers[key_id] = AESGCM(self.data_keys[key_id])
        return found


class Keyring:
    """The data keys of one home, unwrapped in memory; see the module docstring."""

    def __init__(self, path: Path, master: bytes) -> None:
        self.path = path
        self._master = master
        self._lock = threading.Lock()
        self._ring = self._load_or_create()

    @classmethod
    def of_home(cls, home: Path) -> Keyring:
        raw = secret_bytes(MASTER_VARIABLE, home / MASTER_FILE)
        try:
            return cls(home / KEYRING_FILE, master_key_bytes(raw))
        except KeyringError:
            # A master-key rotation stopped between re-wrapping and replacing the file:
            # the keyring opens with the next key; finish the rotation.
            following = home / (MASTER_FILE + NEXT)
            if os.environ.get(MASTER_VARIABLE) or not following.exists():
                raise
            ring = cls(home / KEYRING_FILE, master_key_bytes(read_secret_file(following)))
            following.replace(home / MASTER_FILE)
            return ring

    @classmethod
    def rotate_master(cls, home: Path) -> dict[str, Any]:
        """A new master key in ``<home>/pii-master.key``, every data key re-wrapped with
        it. Crash-safe: the new key is written beside the old one first, the keyring is
        re-wrapped (one atomic replace), then the new key replaces the old file."""
        if os.environ.get(MASTER_VARIABLE):
            raise ValidationError(
                MASTER_VARIABLE,
                "(set)",
                "a master key file: with the key in the environment, make a new key, run "
                "Keyring.rewrap(new) and then change the variable",
            )
        ring = cls.of_home(home)
        following = home / (MASTER_FILE + NEXT)
        following.unlink(missing_ok=True)
        raw = secrets.token_urlsafe(32).encode("ascii")
        fd = os.open(following, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        status = ring.rewrap(raw)
        following.replace(home / MASTER_FILE)
        return status

    # -- the file -----------------------------------------------------------------------

    def _wrap(self, key: bytes, master: bytes | None = None) -> str:
        nonce = os.urandom(_NONCE)
        return _b64(nonce + AESGCM(master or self._master).encrypt(nonce, key, _WRAP_AAD))

    def _unwrap(self, wrapped: str) -> bytes:
        blob = _unb64(wrapped)
        try:
            return AESGCM(self._master).decrypt(blob[:_NONCE], blob[_NONCE:], _WRAP_AAD)
        except InvalidTag:
            raise KeyringError(
                f"{self.path}: its data keys do not open with this master key "
                f"({MASTER_VARIABLE} or {MASTER_FILE}, fingerprint {fingerprint(self._master)}); "
                "set the master key the keyring was written with"
            ) from None

    def _read(self) -> _Ring:
        check_file_mode(self.path)
        text = self.path.read_text(encoding="utf-8")
        for _ in range(_CREATION_WAITS):
            if text:
                break
            # Another process made the file (O_EXCL) and is writing the first keyring.
            time.sleep(0.05)
            text = self.path.read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except ValueError:
            raise KeyringError(
                f"{self.path} is not a keyring (JSON): restore it from a backup"
            ) from None
        keys = doc["data_keys"]
        return _Ring(
            active=doc["active"],
            data_keys={k: self._unwrap(v["wrapped"]) for k, v in keys.items()},
            index_key=self._unwrap(doc["index_key"]),
            created={k: v["created"] for k, v in keys.items()},
        )

    def _write(self, ring: _Ring, master: bytes | None = None) -> None:
        doc = {
            "format": 1,
            "master_fingerprint": fingerprint(master or self._master),
            "active": ring.active,
            "index_key": self._wrap(ring.index_key, master),
            "data_keys": {
                k: {"wrapped": self._wrap(v, master), "created": ring.created[k]}
                for k, v in ring.data_keys.items()
            },
        }
        partial = self.path.with_name(self.path.name + f".{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=1)
        partial.replace(self.path)  # atomic: a reader sees the old ring or the new one

    def _load_or_create(self) -> _Ring:
        if self.path.exists():
            return self._read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC).isoformat()
        ring = _Ring("k1", {"k1": AESGCM.generate_key(256)}, secrets.token_bytes(32), {"k1": now})
        try:  # O_EXCL: two processes starting together agree on the first keyring
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._read()
        os.close(fd)
        self._write(ring)
        return ring

    # -- values -------------------------------------------------------------------------

    def seal(self, field: str, value: str) -> str:
        """``value`` encrypted with the active data key, bound to ``field``."""
        ring = self._ring
        nonce = os.urandom(_NONCE)
        sealed = ring.cipher(ring.active).encrypt(
            nonce, value.encode("utf-8"), field.encode("utf-8")
        )
        return f"{PREFIX}:{ring.active}:{_b64(nonce + sealed)}"

    def open(self, field: str, token: str) -> str:
        """The clear value of a sealed one (any data key still in the keyring)."""
        prefix, key_id, body = _parts(token)
        if prefix != PREFIX:
            raise KeyringError(f"{field}: not a sealed value (expected {PREFIX}:...)")
        ring = self._ring
        if key_id not in ring.data_keys:  # another process rotated: read the keyring again
            with self._lock:
                self._ring = ring = self._read()
        if key_id not in ring.data_keys:
            raise KeyringError(f"{field}: sealed with data key {key_id}, not in {self.path}")
        blob = _unb64(body)
        try:
            clear = ring.cipher(key_id).decrypt(blob[:_NONCE], blob[_NONCE:], field.encode("utf-8"))
        except InvalidTag:
            raise KeyringError(
                f"{field}: the sealed value does not open (altered, or sealed for another field)"
            ) from None
        return clear.decode("utf-8")

    def reseal(self, field: str, token: str) -> str:
        """The value sealed again with the active key (unchanged if it already is)."""
        if is_sealed(token) and _parts(token)[1] == self._ring.active:
            return token
        return self.seal(field, self.open(field, token) if is_sealed(token) else token)

    def blind_index(self, id_type: str, value: str) -> str:
        """A deterministic keyed hash for joins and lookups (never opened)."""
        message = f"{id_type.strip().lower()}:{value.strip()}".encode()
        return hmac.new(self._ring.index_key, message, hashlib.sha256).hexdigest()

    # -- keys ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        ring = self._ring
        return {
            "keyring": str(self.path),
            "master_fingerprint": fingerprint(self._master),
            "active": ring.active,
            "data_keys": [
                {"id": k, "created": ring.created[k], "active": k == ring.active}
                for k in ring.data_keys
            ],
        }

    def rotate(self) -> dict[str, Any]:
        """A new data key becomes the active one; the others stay to open older values."""
        with self._lock:
            ring = self._read()
            number = 1 + max(int(k.removeprefix("k")) for k in ring.data_keys)
            key_id = f"k{number}"
            ring.data_keys[key_id] = AESGCM.generate_key(256)
            ring.created[key_id] = datetime.now(UTC).isoformat()
            ring.active = key_id
            self._write(ring)
            self._ring = ring
        return self.status()

    def rewrap(self, new_master_raw: bytes) -> dict[str, Any]:
        """Wrap every data key with a new master key (the data is not touched); the new
        master key must then replace the old one where the installation reads it."""
        new_master = master_key_bytes(new_master_raw)
        with self._lock:
            ring = self._read()
            self._write(ring, new_master)
            self._master = new_master
            self._ring = ring
        return self.status()


def _parts(token: str) -> tuple[str, str, str]:
    prefix, _, rest = token.partition(":")
    key_id, _, body = rest.partition(":")
    return prefix, key_id, body


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX + ":")
