"""What Lotus & Pine's source systems export, written as files in their own formats.

Each export is read back by a connector (``omni ingest``) with a shipped mapping, so the
demo's customers, orders, spend and catalogue reach the warehouse the way a real
business's would. Formats follow the systems: the storefront's Shopify-layout order CSV
(order columns on the first line item only, times with their offset), the tills'
GB18030 ticket export with Chinese headers in shop time, the marketplace order report,
a CRM contact CSV, the loyalty member list, WeChat ``user/info`` JSONL, platform fan
lists and the agency's media report.

A few records are wrong on purpose, as in any real export: loyalty sign-ups typed at the
till with a digit missing from the mobile number. They are extra rows (no person of the
truth loses a record) and land in ``dead_letters``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from omnichannel.demo.model import UTC_OFFSET_HOURS

# One malformed loyalty sign-up per this many members (at least one).
BAD_PHONE_EVERY = 1_000


@dataclass(frozen=True)
class Export:
    """One file and how it is loaded: ``omni ingest PATH --kind KIND --source SOURCE``."""

    path: Path
    kind: str
    source: str
    mapping: str | None  # a shipped mapping; None for files in canonical columns
    rows: int
    bad_rows: int = 0


def local_time(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Naive UTC timestamps as China shop time with its offset: ``2026-03-08 21:15:02 +0800``."""
    text = _local(values)
    return pc.if_else(pc.is_valid(values), pc.binary_join_element_wise(text, " +0800", ""), None)


def shop_time(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Naive UTC timestamps as China shop time without an offset (tills, marketplaces)."""
    return pc.if_else(pc.is_valid(values), _local(values), None)


def _local(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if len(values) == 0:  # np.char on an empty array loses its string dtype
        return pa.array([], pa.string())
    moments = values.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    shifted = moments + np.timedelta64(UTC_OFFSET_HOURS, "h")
    text = np.char.replace(np.datetime_as_string(shifted, unit="s"), "T", " ")
    return pa.array(text, pa.string())


def utc_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if len(values) == 0:
        return pa.array([], pa.string())
    moments = values.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    text = np.char.replace(np.datetime_as_string(moments, unit="s"), "T", " ")
    return pc.if_else(pc.is_valid(values), pa.array(text, pa.string()), None)


def _str(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return array.cast(pa.string())


def write_csv(path: Path, columns: Mapping[str, pa.Array], *, encoding: str = "utf-8") -> int:
    """A CSV as exports write it: a header, text in quotes, nothing between commas if missing."""
    table = pa.table({name: _str(values) for name, values in columns.items()})
    options = pacsv.WriteOptions(quoting_style="needed")
    path.parent.mkdir(parents=True, exist_ok=True)
    if encoding == "utf-8":
        pacsv.write_csv(table, str(path), write_options=options)
    else:
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, write_options=options)
        path.write_bytes(buffer.getvalue().decode("utf-8").encode(encoding))
    return table.num_rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(rows)


def _attribute(records: pa.Table, key: str) -> pa.Array:
    """One key of the generator's ``attributes`` JSON, as text (null where absent)."""
    values = []
    for text in records.column("attributes").to_pylist():
        value = json.loads(text).get(key) if text else None
        if isinstance(value, bool):
            value = "true" if value else "false"
        values.append(None if value is None else str(value))
    return pa.array(values, pa.string())


def _filter(table: pa.Table, column: str, value: str) -> pa.Table:
    return table.filter(pc.equal(table.column(column), value))


# -- customers -----------------------------------------------------------------------------


def members(directory: Path, records: pa.Table, identifiers: pa.Table) -> Export:
    """The CRM contact export; a second social handle gets a continuation row."""
    crm = _filter(records, "source", "crm")
    ids = _filter(identifiers, "source", "crm")
    user = _id_of(crm, ids, "user_id")
    handles = _filter(ids, "id_type", "social_handle")
    first_handle = _id_of(crm, ids, "social_handle")
    columns = {
        "Member ID": crm.column("record_id"),
        "First Name": crm.column("first_name"),
        "Last Name": crm.column("last_name"),
        "Birthday": crm.column("birth_date"),
        "Gender": crm.column("gender"),
        "Email": crm.column("email"),
        "Mobile": crm.column("phone"),
        "Address": crm.column("address"),
        "City": crm.column("city"),
        "Postcode": crm.column("postcode"),
        "Country": crm.column("country"),
        "Created": local_time(crm.column("created_at")),
        "Updated": local_time(crm.column("updated_at")),
        "Online User ID": user,
        "Social Handle": first_handle,
        "Email Consent": _attribute(crm, "consent_email"),
        "SMS Consent": _attribute(crm, "consent_sms"),
        "Imported From": _attribute(crm, "imported_from"),
    }
    table = pa.table({k: _str(v) for k, v in columns.items()})
    # Further handles of the same contact: only the id and the handle are filled.
    seen = set(zip(crm.column("record_id").to_pylist(), first_handle.to_pylist(), strict=True))
    extra = [
        (r, h)
        for r, h in zip(
            handles.column("record_id").to_pylist(),
            handles.column("id_value").to_pylist(),
            strict=True,
        )
        if (r, h) not in seen
    ]
    if extra:
        # The contact's dates are repeated: they date the identifiers the row carries.
        dates = {
            r: (c, u)
            for r, c, u in zip(
                *(table.column(n).to_pylist() for n in ("Member ID", "Created", "Updated")),
                strict=True,
            )
        }
        more = {name: pa.nulls(len(extra), pa.string()) for name in table.column_names}
        more["Member ID"] = pa.array([r for r, _ in extra], pa.string())
        more["Social Handle"] = pa.array([h for _, h in extra], pa.string())
        more["Created"] = pa.array([dates[r][0] for r, _ in extra], pa.string())
        more["Updated"] = pa.array([dates[r][1] for r, _ in extra], pa.string())
        table = pa.concat_tables([table, pa.table(more)])
    path = directory / "crm" / "members.csv"
    rows = write_csv(path, {name: table.column(name) for name in table.column_names})
    return Export(path, "crm", "crm", "lotus-pine-members", rows)


def _id_of(records: pa.Table, ids: pa.Table, id_type: str) -> pa.Array:
    """Each record's first identifier of ``id_type`` (null if it has none)."""
    chosen: dict[str, str] = {}
    typed = _filter(ids, "id_type", id_type)
    for rid, value in zip(
        typed.column("record_id").to_pylist(), typed.column("id_value").to_pylist(), strict=True
    ):
        chosen.setdefault(rid, value)
    return pa.array([chosen.get(r) for r in records.column("record_id").to_pylist()], pa.string())


def loyalty(directory: Path, records: pa.Table, identifiers: pa.Table) -> Export:
    """Loyalty members, plus the sign-ups typed at the till with a digit missing."""
    pos = _filter(records, "source", "pos")
    ids = _filter(identifiers, "source", "pos")
    columns: dict[str, pa.Array] = {
        "Member No": _str(pos.column("record_id")),
        "Card No": _id_of(pos, ids, "loyalty_card"),
        "First Name": _str(pos.column("first_name")),
        "Last Name": _str(pos.column("last_name")),
        "Birthday": _str(pos.column("birth_date")),
        "Gender": _str(pos.column("gender")),
        "Mobile": _str(pos.column("phone")),
        "Address": _str(pos.column("address")),
        "City": _str(pos.column("city")),
        "Postcode": _str(pos.column("postcode")),
        "Country": _str(pos.column("country")),
        "Joined": local_time(pos.column("created_at")),
        "Updated": local_time(pos.column("updated_at")),
        "Home Store": _attribute(pos, "home_store"),
    }
    bad = _mistyped_signups(columns, max(1, pos.num_rows // BAD_PHONE_EVERY))
    table = pa.concat_tables([pa.table(columns), bad])
    path = directory / "pos" / "loyalty_members.csv"
    rows = write_csv(path, {name: table.column(name) for name in table.column_names})
    return Export(path, "crm", "pos", "lotus-pine-loyalty", rows, bad_rows=bad.num_rows)


def _mistyped_signups(columns: dict[str, pa.Array], n: int) -> pa.Table:
    """Copies of real members' details under new member numbers, mobile one digit short."""
    picked = pa.table(columns).slice(0, n)
    phones = [None if p is None else p[:-1] for p in picked.column("Mobile").to_pylist()]
    return (
        picked.set_column(
            picked.schema.get_field_index("Member No"),
            "Member No",
            pa.array([f"LOY-T{k + 1:05d}" for k in range(n)], pa.string()),
        )
        .set_column(
            picked.schema.get_field_index("Mobile"),
            "Mobile",
            pa.array([p if p else "+86138001380" for p in phones], pa.string()),
        )
        .set_column(picked.schema.get_field_index("Card No"), "Card No", pa.nulls(n, pa.string()))
    )


def wechat_followers(directory: Path, records: pa.Table, identifiers: pa.Table) -> Export:
    wx = _filter(records, "source", "wechat")
    ids = _filter(identifiers, "source", "wechat")
    unionid = _id_of(wx, ids, "wechat_unionid").to_pylist()
    created = _epoch_seconds(wx.column("created_at"))
    updated = _epoch_seconds(wx.column("updated_at"))
    rows = []
    for k, (openid, phone, attributes) in enumerate(
        zip(
            wx.column("record_id").to_pylist(),
            wx.column("phone").to_pylist(),
            wx.column("attributes").to_pylist(),
            strict=True,
        )
    ):
        row: dict[str, object] = {
            "subscribe": 1,
            "openid": openid,
            "nickname": json.loads(attributes).get("nickname"),
            "subscribe_time": int(created[k]),
            "unionid": unionid[k],
            "update_time": int(updated[k]),
        }
        if phone:
            row["phone"] = phone
        rows.append(row)
    path = directory / "wechat" / "followers.jsonl"
    return Export(path, "crm", "wechat", "lotus-pine-wechat-followers", write_jsonl(path, rows))


def _epoch_seconds(values: pa.ChunkedArray) -> np.ndarray:
    moments = values.to_numpy().astype("datetime64[s]")
    return moments.astype(np.int64)


def social_followers(directory: Path, records: pa.Table, platform: str) -> Export:
    fans = _filter(records, "source", platform)
    path = directory / platform / "followers.csv"
    rows = write_csv(
        path,
        {
            "Handle": fans.column("record_id"),
            "Followers": _attribute(fans, "followers"),
            "Followed At": local_time(fans.column("created_at")),
            "Updated At": local_time(fans.column("updated_at")),
        },
    )
    return Export(path, "crm", platform, "lotus-pine-social-followers", rows)


def marketplace_buyers(directory: Path, records: pa.Table, platform: str) -> Export:
    buyers = _filter(records, "source", platform)
    path = directory / platform / "buyers.csv"
    rows = write_csv(
        path,
        {
            "Buyer ID": buyers.column("record_id"),
            "First Name": buyers.column("first_name"),
            "Last Name": buyers.column("last_name"),
            "Gender": buyers.column("gender"),
            "Mobile": buyers.column("phone"),
            "Address": buyers.column("address"),
            "City": buyers.column("city"),
            "Postcode": buyers.column("postcode"),
            "Country": buyers.column("country"),
            "First Seen": local_time(buyers.column("created_at")),
            "Updated": local_time(buyers.column("updated_at")),
        },
    )
    return Export(path, "crm", platform, "lotus-pine-marketplace-buyers", rows)
