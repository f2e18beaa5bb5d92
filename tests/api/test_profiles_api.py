"""Profile API over the demo retailer (300 people, 30 days) after identity resolution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from omnichannel.api import create_app
from omnichannel.cli import app as cli_app
from omnichannel.config import Settings
from omnichannel.demo import DemoConfig
from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import open_warehouse
from tests.support.collector import bearer, make_admin_token
from tests.support.demo import demo_warehouse


class Demo:
    """The demo warehouse, its truth and facts the assertions compare against."""

    def __init__(self, home: Path, truth: Path) -> None:
        self.home = home
        self.settings = Settings(home=home)
        self.truth = truth
        self.url = self.settings.resolved_warehouse_url

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with open_warehouse(self.url) as wh:
            return list(wh.con.con.execute(sql).fetchall())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("profiles_api")
    found = Demo(root / "home", root / "truth")
    found.settings.ensure_home()
    # seed 7: at 300 people seed 11 trips a demo export without marketplace orders.
    demo_warehouse(
        tmp_path_factory, DemoConfig(seed=7, people=300, days=30), found.url, found.truth
    )
    with open_warehouse(found.url) as wh:
        resolve(wh, full=True)
        build_profiles(wh)
    return found


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    """A client sending the admin token the Profile API requires."""
    with TestClient(create_app(demo.settings), headers=bearer(make_admin_token(demo.home))) as c:
        yield c


@pytest.fixture(scope="module")
def person(demo: Demo) -> dict[str, Any]:
    """The truth's person with records in the most source systems, a CRM e-mail and orders."""
    records = pq.read_table(demo.truth / "records.parquet").to_pylist()
    sources: dict[str, set[str]] = {}
    for r in records:
        sources.setdefault(r["person_id"], set()).add(r["source"])
    emails = dict(
        demo.query(
            """select rp.profile_id, i.id_value from identifiers i
               join record_profiles rp using (source, record_id)
               where i.source = 'crm' and i.id_type = 'email'"""
        )
    )
    crm = {(r["source"], r["record_id"]): r["person_id"] for r in records if r["source"] == "crm"}
    profile_of = {
        (s, rid): pid
        for s, rid, pid in demo.query("select source, record_id, profile_id from record_profiles")
    }
    buyers = {pid for (pid,) in demo.query("select profile_id from profiles where orders > 1")}
    ranked = sorted(crm.items(), key=lambda kv: -len(sources[kv[1]]))
    for key, person_id in ranked:
        profile = profile_of[key]
        if profile in emails and profile in buyers:
            return {"person_id": person_id, "profile_id": profile, "email": emails[profile]}
    raise AssertionError("no CRM person with an e-mail")


def test_traits_of_a_known_person_by_email_normalised(
    client: TestClient, demo: Demo, person: dict[str, Any]
) -> None:
    shouted = "  " + person["email"].upper() + " "
    body = client.get(f"/v1/profiles/email:{shouted}/traits").json()
    assert body["profile_id"] == person["profile_id"]
    ((orders, revenue),) = demo.query(
        f"select orders, revenue from profiles where profile_id = '{person['profile_id']}'"
    )
    assert body["traits"]["orders"] == orders
    assert orders > 0
    assert Decimal(body["traits"]["revenue"]) == revenue  # money as exact decimal text
    assert isinstance(body["traits"]["tags"], list)  # JSON text returned as JSON
    assert body["cursor"]["has_more"] is False
    some = client.get(
        f"/v1/profiles/profile_id:{person['profile_id']}/traits?include=orders,rfm_segment"
    ).json()
    assert set(some["traits"]) == {"orders", "rfm_segment"}


def test_phone_lookup_reads_national_numbers_like_ingestion(client: TestClient, demo: Demo) -> None:
    ((profile_id, phone),) = demo.query(
        """select profile_id, id_value from profile_identifiers
           where id_type = 'phone' and status = 'linked' and id_value like '+86%' limit 1"""
    )
    national = f"{phone[3:6]} {phone[6:10]} {phone[10:]}"
    body = client.get(f"/v1/profiles/phone:{national}/traits").json()
    assert body["profile_id"] == profile_id


def test_external_ids_span_three_source_systems(client: TestClient, person: dict[str, Any]) -> None:
    body = client.get(f"/v1/profiles/email:{person['email']}/external_ids").json()
    rows = body["data"]
    assert len({r["source"] for r in rows}) >= 3
    assert {"type": "email", "id": person["email"]}.items() <= next(
        r for r in rows if r["type"] == "email"
    ).items()
    for r in rows:
        assert r["first_seen"] <= r["last_seen"]
        assert r["status"]
    assert "linkage" not in {r["type"] for r in rows}


def test_timeline_newest_first_and_each_item_once_across_pages(
    client: TestClient, person: dict[str, Any]
) -> None:
    url = f"/v1/profiles/profile_id:{person['profile_id']}/events"
    whole = client.get(url, params={"limit": 1000}).json()["data"]
    assert len(whole) > 10
    assert {"event", "delivery"} <= {i["kind"] for i in whole}
    times = [i["timestamp"] for i in whole]
    assert times == sorted(times, reverse=True)
    paged: list[tuple[str, str]] = []
    cursor = ""
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["next"] = cursor
        body = client.get(url, params=params).json()
        paged.extend((i["kind"], i["id"]) for i in body["data"])
        cursor = body["cursor"]["next"]
        assert body["cursor"]["has_more"] is bool(cursor)
        if not cursor:
            break
    assert paged == [(i["kind"], i["id"]) for i in whole]
    assert len(set(paged)) == len(paged)


def test_conversion_path_precedes_the_order_and_holds_its_campaign(
    client: TestClient, demo: Demo
) -> None:
    rows = demo.query(
        """select rp.profile_id, o.order_id, o.campaign_id from orders o
           join record_profiles rp on rp.source = o.source and rp.record_id = o.order_id
           join campaigns c using (campaign_id)
           where c.channel not like 'offline%'"""
    )
    assert len(rows) >= 5
    touched = 0
    for profile_id, order_id, campaign_id in rows:
        body = client.get(f"/v1/profiles/profile_id:{profile_id}/conversion_path").json()
        path = next(p for p in body["data"] if p["order_id"] == order_id)
        ordered = datetime.fromisoformat(path["ordered_at"])
        ats = [datetime.fromisoformat(t["at"]) for t in path["touchpoints"]]
        assert ats == sorted(ats)
        assert all(ordered - timedelta(days=30) <= at < ordered for at in ats)
        touched += path["campaign_touched"]
        if path["campaign_touched"]:
            assert campaign_id in {t["campaign_id"] for t in path["touchpoints"]}
    # Measured: 7 of 8 digital-campaign orders (one buyer's visit was on an unlinked cookie).
    assert touched >= 0.7 * len(rows)


def test_unknown_identifier_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/v1/profiles/email:nobody@nowhere.cn/traits")
    assert response.status_code == 404
    assert "email:nobody@nowhere.cn" in response.json()["detail"]["message"]
    assert client.get("/v1/profiles/profile_id:p_0000000000000000/events").status_code == 404


@pytest.mark.parametrize(
    ("identifier", "field"),
    [
        ("emailann@example.cn", "identifier"),
        ("shoe_size:42", "identifier type"),
        ("email:not-an-address", "email"),
        ("phone:12", "phone"),
    ],
)
def test_malformed_identifier_is_400_naming_the_field(
    client: TestClient, identifier: str, field: str
) -> None:
    response = client.get(f"/v1/profiles/{identifier}/traits")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["field"] == field
    assert detail["message"].startswith(f"{field}=")


def test_bad_parameters_are_400(client: TestClient, person: dict[str, Any]) -> None:
    base = f"/v1/profiles/profile_id:{person['profile_id']}"
    bad_include = client.get(f"{base}/traits?include=shoe_size")
    assert bad_include.status_code == 400 and bad_include.json()["detail"]["field"] == "include"
    assert client.get(f"{base}/events?next=garbage").json()["detail"]["field"] == "cursor"
    assert client.get(f"{base}/events?kind=fax").json()["detail"]["field"] == "kind"


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("events?limit=abc", "limit", '"abc"'),
        ("events?limit=0", "limit", '"0"'),
        ("external_ids?limit=100000", "limit", '"100000"'),
        ("conversion_path?lookback_days=-3", "lookback_days", '"-3"'),
    ],
)
def test_parameter_type_errors_are_the_documented_400_not_pydantics_422(
    client: TestClient, person: dict[str, Any], query: str, field: str, value: str
) -> None:
    response = client.get(f"/v1/profiles/profile_id:{person['profile_id']}/{query}")
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert (detail["field"], detail["value"]) == (field, value)
    assert detail["message"].startswith(f"{field}={value} is not accepted: expected ")


def test_profiles_need_the_admin_token(client: TestClient, person: dict[str, Any]) -> None:
    url = f"/v1/profiles/email:{person['email']}/traits"
    token = client.headers.pop("Authorization")
    try:
        missing = client.get(url)
        wrong = client.get(url, headers=bearer("omni_admin_not-the-token"))
        basic = client.get(url, auth=("wk_a_write_key", ""))
    finally:
        client.headers["Authorization"] = token
    assert client.get(url).status_code == 200
    for response in (missing, wrong, basic):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        detail = response.json()["detail"]
        assert detail["field"] == "Authorization" and "admin token" in detail["message"]
        assert person["email"] not in response.text


def test_profile_show_prints_the_card(demo: Demo, person: dict[str, Any]) -> None:
    runner = CliRunner()
    env = {"OMNI_HOME": str(demo.home)}
    shown = runner.invoke(cli_app, ["profile", "show", f"email:{person['email']}"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "360° profile" in shown.output and person["profile_id"] in shown.output
    assert "Conversion path" in shown.output
    as_json = runner.invoke(
        cli_app, ["profile", "show", f"profile_id:{person['profile_id']}", "--json"], env=env
    )
    data = json.loads(as_json.output)
    assert data["identifiers"]["email"] == [person["email"]]
    assert len(data["sources"]) >= 3 and data["conversion_path"]["touchpoints"] is not None
    bare = runner.invoke(cli_app, ["profile", "show", person["profile_id"]], env=env)
    assert bare.exit_code == 1  # no TYPE: prefix; the error names the identifier field


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_one_row_per_identifier_and_a_traits_file(
    demo: Demo, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli_app,
        ["profiles", "export", "--format", fmt, "--output", str(out)],
        env={"OMNI_HOME": str(demo.home)},
    )
    assert result.exit_code == 0, result.output
    read = pq.read_table if fmt == "parquet" else pacsv.read_csv
    ids = read(out / f"identifiers.{fmt}")
    traits = read(out / f"traits.{fmt}")
    ((n_ids,),) = demo.query("select count(*) from profile_identifiers")
    ((n_profiles,),) = demo.query("select count(*) from profiles")
    assert ids.num_rows == n_ids
    keys = set(
        zip(
            *(ids.column(c).to_pylist() for c in ("profile_id", "id_type", "id_value")), strict=True
        )
    )
    assert len(keys) == n_ids
    assert traits.num_rows == n_profiles
    assert {"profile_id", "rfm_segment", "tags"} <= set(traits.column_names)
