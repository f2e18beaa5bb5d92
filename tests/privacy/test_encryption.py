"""Personal data sealed at rest: the consent ledger's evidence is not in the operational
store's bytes, opens after a data-key rotation (in another process's keyring too) and a
master-key rotation (also one cut short), and a keyring or sealed value that has been
tampered with is refused in words."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from omnichannel.platform import Platform
from omnichannel.privacy.keyring import KEYRING_FILE, MASTER_FILE, Keyring, KeyringError
from omnichannel.privacy.secrets import UnsafeSecretFileError
from tests.cli.run import omni_in_process

IP = "203.0.113.77"
PAGE = "https://shop.example/offers?for=ann.lee.sealed@example.com"


def _store_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("opstore.sqlite*"))


def _record(platform: Platform, person: str, ip: str) -> None:
    platform.consent.record(
        person,
        purpose="analytics",
        status="granted",
        source="web form",
        actor="test",
        evidence={"ip": ip, "page": PAGE},
    )


def test_evidence_is_sealed_at_rest_and_opens_across_both_rotations(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Platform.open(home) as platform:
        _record(platform, "email:ann@example.com", IP)
        note = "letter from ann.lee.sealed@example.com, +8613812345678"
        platform.privacy.open_request(
            "export", "email:ann@example.com", requested_by="t", note=note
        )
        before = platform.privacy.keys_status()
        other_process = Keyring.of_home(home)  # loaded before the rotation
        platform.privacy.rotate_keys(actor="test")
        _record(platform, "email:ann@example.com", "198.51.100.9")
        history = platform.consent.history("email:ann@example.com")
        [token] = [json.loads(e)["sealed"] for e in _ledger_evidence(home) if "pii1:k2:" in e]
        # A process that loaded the keyring before the rotation opens the new key's values.
        opened = json.loads(other_process.open("consent_records.evidence", token))
        platform.privacy.rotate_keys(actor="test", master=True)
        after_master = platform.consent.history("email:ann@example.com")
        status = platform.privacy.keys_status()
        [request] = platform.privacy.requests()
    raw = _store_bytes(home)
    assert request["note"] == note and b"+8613812345678" not in raw
    assert IP.encode() not in raw and b"198.51.100.9" not in raw
    assert b"ann.lee.sealed" not in raw and b"pii1:k1:" in raw and b"pii1:k2:" in raw
    assert [h["evidence"]["ip"] for h in history] == [IP, "198.51.100.9"]
    assert after_master == history
    assert before["active"] == "k1" and status["active"] == "k2"
    assert status["master_fingerprint"] != before["master_fingerprint"]
    assert opened == {"ip": "198.51.100.9", "page": PAGE}
    with Platform.open(home) as platform:  # a new process, after the master key changed
        assert platform.consent.history("email:ann@example.com") == history
    other_process._ring.data_keys.pop("k2")  # make it read the re-wrapped keyring again
    with pytest.raises(KeyringError, match="do not open with this master key"):
        other_process.open("consent_records.evidence", token)
    listed = omni_in_process("privacy", "keys", "--json", home=home)
    assert json.loads(listed.stdout)["active"] == "k2"
    assert (home / MASTER_FILE).stat().st_mode & 0o077 == 0
    assert (home / KEYRING_FILE).stat().st_mode & 0o077 == 0


def _ledger_evidence(home: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(home / "opstore.sqlite") as con:
        return [str(row[0]) for row in con.execute("SELECT evidence FROM consent_records")]


def test_a_master_rotation_cut_short_is_finished_on_the_next_open(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ring = Keyring.of_home(home)
    token = ring.seal("field", "secret value")
    # What rotate_master does, stopped after re-wrapping: the new key is only beside the old.
    following = home / (MASTER_FILE + ".next")
    following.write_bytes(b"the next master key, 16+ bytes")
    following.chmod(0o600)
    ring.rewrap(following.read_bytes())
    reopened = Keyring.of_home(home)
    assert reopened.open("field", token) == "secret value"
    assert not following.exists()
    assert (home / MASTER_FILE).read_bytes() == b"the next master key, 16+ bytes"


def test_tampering_and_open_key_files_are_refused_in_words(tmp_path: Path) -> None:
    ring = Keyring.of_home(tmp_path)
    token = ring.seal("customer_records.phone", "+8613812345678")
    assert ring.open("customer_records.phone", token) == "+8613812345678"
    assert ring.seal("customer_records.phone", "+8613812345678") != token  # fresh nonce
    with pytest.raises(KeyringError, match="sealed for another field"):
        ring.open("customer_records.email", token)
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(KeyringError, match="altered"):
        ring.open("customer_records.phone", altered)
    index = ring.blind_index("phone", "+8613812345678")
    assert index == ring.blind_index("PHONE", " +8613812345678 ")  # deterministic, joinable
    assert index != hashlib.sha256(b"phone:+8613812345678").hexdigest()  # keyed
    (tmp_path / KEYRING_FILE).chmod(0o644)
    with pytest.raises(UnsafeSecretFileError, match="chmod 600"):
        Keyring.of_home(tmp_path)


def test_processes_making_the_first_keyring_at_once_agree_on_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from omnichannel.privacy.keyring import Keyring\n"
        "ring = Keyring.of_home(Path(sys.argv[1]))\n"
        "print(ring.status()['master_fingerprint'], ring.seal('f', 'x'))\n"
    )
    started = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    printed = [p.communicate(timeout=120)[0].decode().split() for p in started]
    assert all(p.returncode == 0 for p in started)
    assert len({fingerprint for fingerprint, _ in printed}) == 1
    ring = Keyring.of_home(tmp_path)
    assert [ring.open("f", token) for _, token in printed] == ["x", "x", "x"]
