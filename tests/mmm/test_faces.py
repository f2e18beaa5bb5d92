"""The marketing-mix model on the small demo home: the warehouse fit from the library, a
CSV posted over HTTP, the fit in use read back, and ``omni mmm`` beside a running server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from omnichannel.demo.campaigns import CHANNELS
from omnichannel.mmm.simulate import simulate
from omnichannel.platform import Platform
from tests.cli.run import omni
from tests.support.collector import bearer, make_admin_token, running_server
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow(seconds=60)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("mmm") / "home"
    small_demo_home(tmp_path_factory, target)
    return target


@pytest.fixture(scope="module")
def warehouse_fit(home: Path) -> dict[str, object]:
    with Platform.open(home) as platform:
        return platform.mmm.fit(bootstrap=4, by="test")


@pytest.fixture(scope="module")
def client(home: Path, warehouse_fit: dict[str, object]) -> Iterator[httpx.Client]:
    """One ``omni serve`` of the home for the module (after the library's fit)."""
    token = make_admin_token(home)
    with (
        running_server(home, timeout=180) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=120) as http,
    ):
        yield http


def test_the_warehouse_fit_names_the_demo_channels_and_is_the_version_in_use(
    home: Path, warehouse_fit: dict[str, object]
) -> None:
    answer: dict[str, object] = warehouse_fit
    channels = [r["channel"] for r in answer["channels"]]  # type: ignore[attr-defined]
    assert sorted(channels) == sorted(c.name for c in CHANNELS)
    assert answer["target"] == "orders" and answer["data"]["source"] == "warehouse"  # type: ignore[index]
    assert answer["version"] == 1 and answer["status"] == "active"
    assert answer["value_per_unit"] and answer["value_per_unit"] > 0  # type: ignore[operator]
    with Platform.open(home) as platform:
        model = platform.mmm.response_model()
        versions = platform.models.list("mmm")
    assert model is not None and list(model.channels) == channels
    assert model.target == "orders" and len(model.draws) == 4
    assert versions[0]["primary_metric"] == "holdout_mape"
    assert versions[0]["metrics"]["holdout_periods"] == answer["fit"]["holdout"]["periods"]  # type: ignore[index]


def test_a_posted_csv_is_fitted_and_stored_and_bad_columns_answer_400(
    client: httpx.Client,
) -> None:
    csv = simulate(days=120, channels=2, seed=5).frame.to_csv(index=False)
    params = {"date_col": "date", "target_col": "sales", "spend_cols": "search,social"}
    answer = client.post(
        "/api/mmm/fit",
        params={**params, "bootstrap": 2},
        content=csv,
        headers={"content-type": "text/csv", "X-Omni-Actor": "ana@shop.example"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["trained_by"] == "ana@shop.example"  # who called, not "api"
    assert [r["channel"] for r in body["channels"]] == ["search", "social"]
    assert body["version"] == 2 and body["fit"]["holdout"]["periods"] == 12
    bad = client.post(
        "/api/mmm/fit",
        params={**params, "spend_cols": "search,tv"},
        content=csv,
        headers={"content-type": "text/csv"},
    )
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "spend_cols"
    assert "tv" in bad.text
    week = client.post("/api/mmm/fit", params={"period": "month"})
    assert week.status_code == 400 and week.json()["detail"]["field"] == "period"


def test_the_fit_in_use_has_curves_and_contribution_over_time(client: httpx.Client) -> None:
    latest = client.get("/api/mmm/latest")
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["status"] == "active"
    curves = {c["channel"]: c for c in body["response_curves"]}
    assert set(curves) == {r["channel"] for r in body["channels"]}
    over = body["over_time"]
    assert len(over["dates"]) == len(over["actual"]) == body["data"]["periods"]
    assert set(over["channels"]) == set(curves)


def test_omni_mmm_beside_the_running_server_answers_as_the_api(
    home: Path, client: httpx.Client
) -> None:
    shown = omni("mmm", "show", "--json", home=home)
    api = client.get("/api/mmm/latest", params={"detail": "false"}).json()
    assert json.loads(shown.stdout) == api
    assert api["version"] == 2  # the CSV posted above is the fit in use
