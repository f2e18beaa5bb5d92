"""A small installation of people with known contact details and consent, for exports.

Built as a user's data would be: CRM records and their identifiers appended, identity
resolved, profiles built, consent recorded in the operational store.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.opstore.consent import set_consent
from omnichannel.platform import Platform
from tests.profiles.support import T0, add_events

# user -> (emails, phones, record fields); consent rows below.
PEOPLE: dict[str, dict[str, Any]] = {
    "ann": {
        "emails": [" John.Smith@GMail.com "],
        "phones": ["+8613812345678"],
        "record": {
            "first_name": " Zoë ",
            "last_name": "Pérez  Smith",
            "city": "San Francisco",
            "region": "California",
            "postcode": "94016-1234",
            "country": "US",
        },
    },
    "bob": {"emails": ["bob@mail.cn"], "phones": [], "record": {"first_name": "Bob"}},
    "cy": {"emails": ["cy@mail.cn"], "phones": ["+8613900001111"], "record": {}},
    "dee": {"emails": ["dee@mail.cn"], "phones": [], "record": {}},
    "eve": {"emails": [], "phones": [], "record": {"first_name": "Eve"}},
    "fay": {"emails": ["fay@mail.cn"], "phones": [], "record": {}},
}
# (subject email, channel, status): bob refused ads; cy and dee unsubscribed from email;
# fay unsubscribed from email but granted ads.
CONSENT = [
    ("bob@mail.cn", "ads", "denied"),
    ("cy@mail.cn", "email", "unsubscribed"),
    ("dee@mail.cn", "email", "unsubscribed"),
    ("fay@mail.cn", "email", "unsubscribed"),
    ("fay@mail.cn", "ads", "granted"),
]
RECORD_FIELDS = ("first_name", "last_name", "city", "region", "postcode", "country")


def _normalised_email(text: str) -> str:
    return text.strip().lower()


def audience_settings(home: Path, warehouse_url: str | None = None) -> Settings:
    return Settings(home=home, warehouse_url=warehouse_url)


def build_audience_home(home: Path, warehouse_url: str | None = None) -> dict[str, str]:
    """Create the installation (its warehouse at ``warehouse_url``, default the home's
    DuckDB file); returns user -> profile_id."""
    settings = audience_settings(home, warehouse_url)
    initialise(settings)
    with Platform(settings) as platform:
        with platform.warehouse.writer() as wh:
            ids: dict[str, list[Any]] = {k: [] for k in ("record_id", "id_type", "id_value")}
            records: dict[str, list[Any]] = {k: [] for k in ("record_id", *RECORD_FIELDS)}
            for user, person in PEOPLE.items():
                record_id = f"c-{user}"
                values = [("user_id", user)]
                values += [("email", _normalised_email(e)) for e in person["emails"]]
                values += [("phone", p) for p in person["phones"]]
                for id_type, id_value in values:
                    ids["record_id"].append(record_id)
                    ids["id_type"].append(id_type)
                    ids["id_value"].append(id_value)
                records["record_id"].append(record_id)
                for name in RECORD_FIELDS:
                    records[name].append(person["record"].get(name))
            n = len(ids["record_id"])
            wh.append(
                "identifiers",
                pa.table({"source": ["crm"] * n, **ids, "observed_at": [T0] * n}),
            )
            m = len(records["record_id"])
            wh.append(
                "customer_records",
                pa.table(
                    {
                        "source": ["crm"] * m,
                        **records,
                        "updated_at": [T0] * m,
                        "loaded_at": [T0] * m,
                    }
                ),
            )
            add_events(
                wh,
                [
                    {"user": user, "at": T0 + timedelta(days=i), "event": "Order Completed"}
                    for i, user in enumerate(PEOPLE)
                ],
            )
        with platform.opstore.session() as session:
            for email, channel, status in CONSENT:
                set_consent(
                    session,
                    subject_type="email",
                    subject_value=email,
                    channel=channel,
                    status=status,
                    source="test",
                    actor="test",
                )
        platform.identity.resolve()
        platform.profiles.build()
        with platform.warehouse.reader() as wh:
            pi = wh.table("profile_identifiers")
            users = pi.filter(pi.id_type == "user_id").select("profile_id", "id_value")
            return {r["id_value"]: r["profile_id"] for r in users.to_pyarrow().to_pylist()}
