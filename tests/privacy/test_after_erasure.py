"""After an erasure: a later file naming the person loses their rows, and the model
versions trained before it show as needing retraining (`omni models list`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnichannel.models.registry import _FACTORIES, ModelKind, TrainedModel, register
from omnichannel.platform import Platform
from tests.cli.run import omni_in_process

ERASED_EMAIL = "ann.lee@example.com"
ERASED_PHONE = "+8613812345678"


def _train(_platform: Platform, _algorithm: str | None, _options: Any) -> TrainedModel:
    return TrainedModel(algorithm="mean", artefact={}, params={}, metrics={"mae": 1.0})


@pytest.fixture(scope="module")
def erased_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty home with one model version, then Ann erased by email and phone."""
    home = tmp_path_factory.mktemp("after-erasure") / "home"
    register(
        "test-erasure",
        lambda: ModelKind("test-erasure", "a test kind", ("mean",), _train, "mae", False),
    )
    try:
        with Platform.open(home) as platform:
            platform.models.train("test-erasure", by="test")
            platform.privacy.erase(f"email:{ERASED_EMAIL}", requested_by="dpo")
            platform.privacy.erased.add([("phone", ERASED_PHONE)], request_id=None)
        yield home
    finally:
        _FACTORIES.pop("test-erasure", None)


def test_a_later_file_loses_the_erased_persons_rows_and_counts_them(
    erased_home: Path, tmp_path: Path
) -> None:
    export = tmp_path / "contacts.csv"
    export.write_text(
        "record_id,email,phone,first_name\n"
        "c1,ANN.LEE@example.com,,Ann\n"  # the erased email, written differently
        "c2,,+86 138 1234 5678,Ann\n"  # the erased phone, as a file writes it
        "c3,gus@example.co.uk,,Gus\n",
        encoding="utf-8",
    )
    with Platform.open(erased_home) as platform:
        run = platform.jobs.run(
            "ingest", options={"path": str(export), "kind": "crm", "source": "crm"}
        )
        report = run.detail
        with platform.warehouse.reader() as wh:
            kept = wh.con.raw_sql("SELECT record_id FROM customer_records").fetchall()
            ids = wh.con.raw_sql("SELECT id_value FROM identifiers").fetchall()
            letters = wh.con.raw_sql("SELECT count(*) FROM dead_letters").fetchone()
    assert report["rows"] == 3 and report["erased"] == 2 and report["rejected"] == 0
    assert sorted(r[0] for r in kept) == ["c3"]
    assert ERASED_EMAIL not in {r[0] for r in ids} and ERASED_PHONE not in {r[0] for r in ids}
    assert letters == (0,)  # dropped, not kept as dead letters
    printed = omni_in_process(
        "ingest", str(export), "--kind", "crm", "--source", "crm", home=erased_home
    )
    assert "2 dropped (erased people)" in printed.stdout


def test_model_versions_trained_before_an_erasure_need_retraining(erased_home: Path) -> None:
    with Platform.open(erased_home) as platform:
        receipt = platform.privacy.requests(status="done")[0]["receipt"]
        before = platform.models.list("test-erasure")
        platform.models.train("test-erasure", by="test", promote=True)
        after = {v["version"]: v["needs_retraining"] for v in platform.models.list("test-erasure")}
    assert "test-erasure v1" in receipt["model_versions_to_retrain"]
    assert before[0]["needs_retraining"] is True
    assert "erasure request" in before[0]["retrain_reason"]
    assert after == {1: True, 2: False}
    listed = omni_in_process("models", "list", "test-erasure", home=erased_home)
    rows = [line for line in listed.stdout.splitlines() if "test-erasure" in line]
    assert len(rows) == 2 and sum("after erasure" in line for line in rows) == 1
