"""The /models page: scores over versions, top rules, one person's recommendations, in
English and Chinese, with CSV exports (a real app on the small demo home)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from omnichannel.api.app import create_app
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.support.collector import bearer, make_admin_token
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow(seconds=40)
WEB = Path(__file__).resolve().parents[2] / "src" / "omnichannel" / "web"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("models-page") / "home"
    small_demo_home(tmp_path_factory, target)
    with Platform.open(target) as platform:
        platform.models.train("recommendations", "popularity", by="test")
        platform.models.train("recommendations", "item_knn", by="test", promote=True)
    return target


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home)), headers=bearer(make_admin_token(home))) as c:
        yield c


def test_the_page_shows_every_version_the_rules_and_a_persons_reasons(
    client: TestClient, home: Path
) -> None:
    with Platform.open(home) as platform:
        versions = platform.models.list("recommendations")
        with platform.warehouse.reader() as wh:
            user = (
                wh.con.sql(
                    "select id_value from profile_identifiers where id_type = 'user_id' "
                    "and status = 'linked' order by id_value limit 1"
                )
                .to_pyarrow()["id_value"][0]
                .as_py()
            )
        expected = platform.recommendations.for_identifier(f"user_id:{user}", slot="home")
    page = client.get("/models", params={"person": f"user_id:{user}", "slot": "home"})
    assert page.status_code == 200
    assert 'id="model-scores"' in page.text and page.text.count("<tr") >= len(versions) + 3
    for item in expected["items"]:
        assert item["reason"].replace("'", "&#39;") in page.text
    rules = client.get("/models", params={"format": "csv", "table": "rules"})
    assert rules.text.lstrip("\ufeff").startswith("antecedents,consequents,support")
    exported = client.get("/models", params={"format": "csv"}).text.lstrip("\ufeff").splitlines()
    assert exported[0].startswith("version,algorithm,status,recall_at_10")
    assert len(exported) == 1 + len(versions)


def test_an_unknown_person_is_named_on_the_page_not_a_server_error(client: TestClient) -> None:
    page = client.get("/models", params={"person": "user_id:nobody-here"})
    assert page.status_code == 200 and 'id="person-error"' in page.text
    assert "nobody-here" in page.text


def test_the_page_speaks_chinese_and_every_string_is_translated(client: TestClient) -> None:
    assert "提升度" in client.get("/models", params={"lang": "zh"}).text
    client.cookies.clear()
    with open(WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    missing = []
    for path, method in (
        (WEB / "pages" / "models.py", "python"),
        (WEB / "templates" / "models.html", "jinja2"),
    ):
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), options=options
        ):
            msgid = message if isinstance(message, str) else message[0]
            entry = catalog.get(msgid)
            if entry is None or not entry.string:
                missing.append(msgid)
    assert missing == []
