"""The audience normalisation rules, run as SQL over columns, on values a user's data holds."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from omnichannel.segments.audience_rules import hashed_contacts


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _contacts(fmt: str) -> dict[str, object]:
    emails = [
        "\u3000Ann.Lee@GMail.com\u00a0",  # ideographic and no-break spaces around it
        "ann.lee@gmail.com",  # the same address once normalised: sent once
        "not an address",
        "ann@work.cn",
        "ann@home.cn",
        "ann@old.cn",  # a fourth valid one: only three go
    ]
    phones = ["138 1234 5678", "+8613812345678"]  # the same number, typed two ways
    identifiers = pa.table(
        {
            "profile_id": ["p1"] * (len(emails) + len(phones)),
            "id_type": ["email"] * len(emails) + ["phone"] * len(phones),
            "id_value": emails + phones,
            "rank": [*range(1, len(emails) + 1), 1, 2],
        }
    )
    records = pa.table(
        {
            "profile_id": ["p1", "p1"],
            "rank": [1, 2],  # the newest record has no last name: the older one's is taken
            "first_name": ["\tZoë  Ann ", "Old"],
            "last_name": ["  ", "Pérez"],
            "city": ["San Francisco", None],
            "region": ["California", None],
            "postcode": ["94016-1234", None],
            "country": ["United States", None],
        }
    )
    members = pa.table({"profile_id": ["p1", "p2"]})
    rows = hashed_contacts(members, identifiers, records, fmt=fmt, region="CN").to_pylist()
    assert rows[1]["e1"] is None and not rows[1]["addressable"]  # p2 holds nothing
    return rows[0]


def test_google_rules_normalise_deduplicate_and_keep_three() -> None:
    p1 = _contacts("google")
    assert [p1["e1"], p1["e2"], p1["e3"]] == [
        h("annlee@gmail.com"),
        h("ann@work.cn"),
        h("ann@home.cn"),
    ]
    assert [p1["p1"], p1["p2"]] == [h("+8613812345678"), None]
    assert p1["First Name"] == h("zoë ann") and p1["Last Name"] == h("pérez")
    assert (p1["Country"], p1["Zip"], p1["addressable"]) == ("US", "94016-1234", True)


def test_meta_rules_keep_gmail_dots_and_send_digits_and_letters() -> None:
    p1 = _contacts("meta")
    assert p1["e1"] == h("ann.lee@gmail.com") and p1["p1"] == h("8613812345678")
    assert p1["FN"] == h("zoëann") and p1["ZIP"] == h("94016") and p1["ST"] == h("ca")
    assert p1["CT"] == h("sanfrancisco") and p1["COUNTRY"] == h("us")
