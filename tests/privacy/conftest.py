"""Privacy tests start from the small demo home (tests/support/homes.py), copied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.platform import Platform
from tests.support.homes import small_demo_home


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy per module, for tests that only add consent or read."""
    home = tmp_path_factory.mktemp("privacy") / "home"
    small_demo_home(tmp_path_factory, home)
    return home


@pytest.fixture(scope="module")
def demo_platform(demo_home: Path) -> Iterator[Platform]:
    with Platform.open(demo_home) as platform:
        yield platform


@pytest.fixture
def erasable_home(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A private copy per test that erases."""
    home = tmp_path / "home"
    small_demo_home(tmp_path_factory, home)
    return home


def person_with_unique_name(platform: Platform) -> tuple[str, str]:
    """(profile id, email) of a demo person with an email whose full name nobody else has,
    so a search for their name can only find them."""
    with platform.warehouse.reader() as wh:
        rows = wh.con.raw_sql(
            """
            WITH named AS (
                SELECT DISTINCT rp.profile_id, cr.first_name, cr.last_name
                FROM customer_records cr JOIN record_profiles rp USING (source, record_id)
                WHERE cr.first_name IS NOT NULL AND cr.last_name IS NOT NULL
            ), unique_names AS (
                SELECT first_name, last_name FROM named
                GROUP BY 1, 2 HAVING count(DISTINCT profile_id) = 1
            )
            SELECT n.profile_id, min(pi.id_value)
            FROM named n JOIN unique_names USING (first_name, last_name)
            JOIN profile_identifiers pi ON pi.profile_id = n.profile_id AND pi.id_type = 'email'
            GROUP BY 1 ORDER BY 1 LIMIT 1
            """
        ).fetchall()
    assert rows, "the demo has no person with an email and a name of their own"
    return str(rows[0][0]), str(rows[0][1])
