"""Passwords: Argon2id hashes that verify, refuse the wrong password, rehash on new parameters."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from omnichannel.access import passwords
from omnichannel.access.users import LoginRefused
from omnichannel.errors import ValidationError
from omnichannel.opstore.models import User
from omnichannel.platform import Platform
from tests.access.conftest import PASSWORD


def test_the_default_hasher_is_argon2id_with_rfc_9106_low_memory_parameters() -> None:
    default = PasswordHasher()
    stored = default.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert default.verify(stored, PASSWORD)


def test_a_hash_verifies_only_its_password_and_short_ones_are_refused() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert PASSWORD not in stored and stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, PASSWORD) == (True, None)
    assert passwords.verify_password(stored, PASSWORD + "!") == (False, None)
    assert passwords.verify_password("not a hash", PASSWORD) == (False, None)
    assert passwords.verify_password(None, PASSWORD) == (False, None)
    with pytest.raises(ValidationError, match="at least 12 characters") as short:
        passwords.hash_password("s3cret")
    assert short.value.field == "password" and "s3cret" not in str(short.value)


def test_signing_in_rehashes_a_password_made_with_older_parameters(platform: Platform) -> None:
    platform.users.create("ana@shop.example", role="marketer", password=PASSWORD, actor="test")

    def stored() -> str:
        with platform.opstore.session() as session:
            user = session.scalars(select(User).where(User.email == "ana@shop.example")).one()
            return str(user.password_hash)

    old = stored()
    assert ",t=1," in old  # the tests' cheap hasher made it
    stronger = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    passwords.use_hasher(stronger)  # conftest's fixture restores the previous one
    who = platform.users.authenticate("ana@shop.example", PASSWORD)
    assert (who.actor, who.role) == ("ana@shop.example", "marketer")
    new = stored()
    assert new != old and "m=16384,t=2,p=1" in new
    # The new hash verifies, and a second sign-in does not rehash again.
    platform.users.authenticate("ana@shop.example", PASSWORD)
    assert stored() == new
    with pytest.raises(LoginRefused):
        platform.users.authenticate("ana@shop.example", "wrong password here")
    with pytest.raises(LoginRefused):
        platform.users.authenticate("nobody@shop.example", PASSWORD)
