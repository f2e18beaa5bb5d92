"""One JSON rule for every face: the CLI's --json, service answers, job history details."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from omnichannel.cli.output import emit_json
from omnichannel.jobs import JobHistory
from omnichannel.jsonable import jsonable
from omnichannel.opstore import open_opstore
from omnichannel.segments.service import _json_ready

VALUE = {
    "clv": Decimal("1234567890123456.78"),  # 18 digits: a double keeps about 15
    "price": Decimal("19.99"),
    "at": datetime(2026, 12, 1, 9, 30),
    "day": date(2026, 12, 1),
    "path": Path("/tmp/x.csv"),
    "channels": {"sms", "email"},
    "counts": (1, 2),
}
EXPECTED = {
    "clv": "1234567890123456.78",
    "price": "19.99",
    "at": "2026-12-01T09:30:00",
    "day": "2026-12-01",
    "path": "/tmp/x.csv",
    "channels": ["email", "sms"],
    "counts": [1, 2],
}


def test_money_keeps_every_digit_and_every_face_writes_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jsonable(VALUE) == EXPECTED
    # A segment answer (API and CLI), the CLI's --json, a job run's stored detail.
    assert _json_ready(VALUE) == EXPECTED
    emit_json(VALUE)
    assert json.loads(capsys.readouterr().out) == EXPECTED
    store = open_opstore(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    try:
        history = JobHistory(store)
        run = history.finish(history.start("profiles", "manual", "test"), detail=VALUE)
        assert run.detail == EXPECTED
        assert history.get(run.id).detail == EXPECTED  # type: ignore[union-attr]
    finally:
        store.close()
    # Read back as a decimal, the text is the amount that was stored.
    assert Decimal(EXPECTED["clv"]) == VALUE["clv"]
