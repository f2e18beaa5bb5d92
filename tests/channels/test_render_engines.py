"""What a template sees, read the same way from each warehouse engine and opstore database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pytest

from omnichannel.channels.render import profile_contexts, render_parts
from omnichannel.channels.templates import TemplateStore
from omnichannel.opstore import OpStore
from omnichannel.warehouse import Warehouse

T = datetime(2026, 5, 1)


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    with Warehouse.open(warehouse_url) as warehouse:
        yield warehouse


def test_a_batch_of_people_is_read_alike_on_every_engine(wh: Warehouse) -> None:
    wh.append(
        "profile_identifiers",
        pa.table(
            {
                "profile_id": ["p1", "p1", "p2", "p2"],
                "id_type": ["email", "email", "email", "phone"],
                "id_value": ["b@mail.cn", "a@mail.cn", "c@mail.cn", "+8613800000001"],
                "status": ["linked", "linked", "linked", "blocked_value"],
            }
        ),
    )
    wh.append(
        "record_profiles",
        pa.table({"source": ["crm", "pos"], "record_id": ["c1", "s1"], "profile_id": ["p1", "p1"]}),
    )
    wh.append(
        "customer_records",
        pa.table(
            {
                "source": ["crm", "pos"],
                "record_id": ["c1", "s1"],
                "first_name": [" Zoë ", None],
                "city": ["Shanghai", "Hangzhou"],
                "updated_at": [T, datetime(2026, 6, 1)],
                "loaded_at": [T, T],
            }
        ),
    )
    wh.append(
        "profiles",
        pa.table({"profile_id": ["p1", "p2"], "orders": [3, 0], "tags": ['["vip"]', "[]"]}),
    )
    people = profile_contexts(wh, ["p2", "p1", "p1", "p3"])
    ann = people["p1"]
    # The newest record's city, the only record's name; JSON traits as lists.
    assert (ann["profile"]["first_name"], ann["profile"]["city"]) == ("Zoë", "Hangzhou")
    assert (ann["profile"]["orders"], ann["profile"]["tags"]) == (3, ["vip"])
    assert ann["identifiers"] == {"email": ["a@mail.cn", "b@mail.cn"]}
    assert people["p2"]["identifiers"] == {"email": ["c@mail.cn"]}  # the refused phone is not
    assert people["p3"]["profile"]["first_name"] is None  # resolved, not built: no traits
    text = "{{ profile.first_name }} {{ profile.tags[0] }} {{ identifiers.email | join(',') }}"
    assert render_parts("sms", {"body": text}, ann) == {"body": "Zoë vip a@mail.cn,b@mail.cn"}


def test_template_versions_on_every_opstore_database(store: OpStore) -> None:
    templates = TemplateStore(store)
    first, changed = templates.save("hi", channel="sms", content={"body": "Hi"}, created_by="a")
    assert (first.version, changed) == (1, True)
    second, _ = templates.save("hi", channel="sms", content={"body": "Hi!"}, created_by="b")
    assert second.version == 2 and templates.get("hi").content == {"body": "Hi!"}
    assert [t.content for t in templates.versions("hi")] == [{"body": "Hi"}, {"body": "Hi!"}]
    templates.archive("hi", actor="a")
    assert templates.list() == [] and templates.get("hi").archived_at is not None
