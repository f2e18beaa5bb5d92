"""Audience files from a set of profiles: CSV, Google Customer Match, Meta Custom Audiences.

Where the contact details come from: a profile's emails and phones are its linked
``profile_identifiers`` (``id_type`` email / phone, ``status = 'linked'``; the most
recently seen first, up to three of each, as both platforms take up to three columns);
names, city, region, postcode and country come from its ``customer_records`` (through
``record_profiles``), each field from the most recently updated record that has it.

Each platform's normalisation, as its documentation gives it, then SHA-256 (hex):

- Google Customer Match (support.google.com/google-ads/answer/7659867 and 7476159):
  headers ``Email, Phone, First Name, Last Name, Country, Zip``; emails trimmed and
  lower-cased, and for gmail.com / googlemail.com the periods before the ``@`` removed;
  phones in E.164 with the leading ``+``; names lower-cased with spaces collapsed;
  Email, Phone, First Name and Last Name hashed, Country (ISO alpha-2) and Zip in clear.
- Meta Custom Audiences (the Marketing API's customer-file keys): ``EMAIL, PHONE, FN,
  LN, ZIP, CT, ST, COUNTRY``, every value hashed; emails trimmed and lower-cased; phones
  digits only with the country code, no ``+`` and no leading zeros; names, city and
  region lower-cased without punctuation or spaces; US states as their two-letter code;
  US zips their first five digits; country the lower-case ISO alpha-2 code.

Consent is read from the operational store at export time (the same rule as the
profile's ``consent`` trait: the profile's own decision per channel wins, else the
latest decision on one of its identifiers). For an ad audience (``google``, ``meta``)
the ``ads`` channel decides: withheld (``denied`` / ``unsubscribed``) leaves the profile
out; granted lets every contact go. With no ``ads`` decision, a contact whose own
channel is withheld is not sent (an email when ``email`` is withheld, a phone when
``sms`` or ``phone`` is); a profile left with nothing to match on is left out. A CSV
export honours the consent of ``channel`` when one is given. Every profile left out is
counted with its reason.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import ibis

from omnichannel.errors import ValidationError
from omnichannel.segments.audience_rules import PER_KIND, RECORD_FIELDS, TAILS, hashed_contacts
from omnichannel.warehouse.tables import PROFILES

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from omnichannel.warehouse import Warehouse

FORMATS = ("csv", "google", "meta")
AD_FORMATS = ("google", "meta")
AD_CHANNEL = "ads"
WITHHELD = frozenset({"denied", "unsubscribed"})
# The channels that use a contact: refusing any of them keeps that contact from an audience.
CONTACT_CHANNELS = {"email": ("email",), "phone": ("sms", "phone")}
NO_CONTACT = "no email, phone or full name and address"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: rows, members it started from, and who was left out and why."""

    format: str
    members: int
    rows: int
    columns: list[str]
    left_out: dict[str, int]

    def public(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "members": self.members,
            "rows": self.rows,
            "columns": self.columns,
            "left_out": dict(self.left_out),
            "left_out_total": sum(self.left_out.values()),
        }


# --- reading what a profile holds ---------------------------------------------------


def _member_ids(wh: Warehouse, members: ir.Table | Iterable[str]) -> ir.Table:
    if isinstance(members, ibis.Table):
        return members.select("profile_id").distinct()
    import pyarrow as pa

    ids = sorted(set(members))
    return ibis.memtable(pa.table({"profile_id": pa.array(ids, pa.string())}))


def _identifiers(wh: Warehouse, ids: ir.Table) -> pa.Table:
    """The members' linked emails and phones, ranked most recently seen first."""
    pi = wh.table("profile_identifiers")
    linked = pi.filter(pi.status == "linked", pi.id_type.isin(("email", "phone")))
    linked = linked.semi_join(ids, "profile_id")
    order = [ibis.desc(linked.last_seen), linked.id_value]
    rank = ibis.row_number().over(group_by=["profile_id", "id_type"], order_by=order) + 1
    return wh.query(linked.select("profile_id", "id_type", "id_value", rank=rank))


def _records(wh: Warehouse, ids: ir.Table) -> pa.Table:
    """The members' customer records' name and address fields, ranked newest first."""
    rp = wh.table("record_profiles").semi_join(ids, "profile_id")
    records = wh.table("customer_records").join(rp, ["source", "record_id"])
    order = [
        records.updated_at.desc(nulls_first=False),
        records.loaded_at.desc(nulls_first=False),
    ]
    rank = ibis.row_number().over(group_by="profile_id", order_by=order) + 1
    return wh.query(records.select("profile_id", *RECORD_FIELDS, rank=rank))


def read_consent(
    wh: Warehouse, ids: ir.Table, consents: pa.Table | None
) -> dict[str, dict[str, str]]:
    """Each member's current decision per channel (``{"ads": "denied"}``), from ``consents``."""
    if consents is None or consents.num_rows == 0:
        return {}
    from omnichannel.profiles.traits.consent import consent_traits

    traits = consent_traits(wh, consents)
    if traits is None:
        return {}
    rows = wh.query(traits.semi_join(ids, "profile_id")).to_pylist()
    return {r["profile_id"]: json.loads(r["consent"]) for r in rows if r["consent"]}


# --- deciding who goes and what is written ------------------------------------------


def _withheld(decisions: dict[str, str], channels: Sequence[str]) -> str | None:
    for channel in channels:
        status = decisions.get(channel)
        if status in WITHHELD:
            return f"{channel} consent {status}"
    return None


def _consented(row: dict[str, Any], decisions: dict[str, str]) -> tuple[bool, bool, str | None]:
    """Whether consent lets the emails and the phones go, and why nothing can, if so."""
    refused = _withheld(decisions, (AD_CHANNEL,))
    if refused:
        return True, True, refused
    if decisions.get(AD_CHANNEL) == "granted":
        return True, True, None
    keep = {"email": True, "phone": True}
    reasons = []
    for kind, channels in CONTACT_CHANNELS.items():
        reason = _withheld(decisions, channels)
        if reason and row[f"has_{kind}"]:
            keep[kind] = False
            reasons.append(reason)
    emails = keep["email"] and row["e1"] is not None
    phones = keep["phone"] and row["p1"] is not None
    if reasons and not (emails or phones):
        # Every contact was refused: a name-and-address match would go round the refusal.
        return keep["email"], keep["phone"], reasons[0]
    return keep["email"], keep["phone"], None


def _ad_file(
    contacts: pa.Table, decisions: dict[str, dict[str, str]], fmt: str
) -> tuple[list[str], list[pa.Array], Counter[str]]:
    """The header, the columns and who was left out and why, of an ad audience file.

    Column by column (Arrow), not row by row: building a mapping per member and a list
    per contact cost more than all the SQL of a hundred thousand people. Only the
    members with a consent decision are read as rows. ``hashed_contacts`` packs each
    person's emails and phones to the left (``e1`` is the first), so ``e1`` says whether
    there is any.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = contacts.num_rows
    keep_e, keep_p = [True] * n, [True] * n
    reasons: list[str | None] = [None] * n
    if decisions:
        ids = contacts.column("profile_id").to_pylist()
        decided = [i for i, profile in enumerate(ids) if profile in decisions]
        for i, row in zip(decided, contacts.take(decided).to_pylist(), strict=True):
            keep_e[i], keep_p[i], reasons[i] = _consented(row, decisions[row["profile_id"]])
    emails = [
        pc.if_else(pa.array(keep_e, pa.bool_()), contacts.column(f"e{k}"), None)
        for k in range(1, PER_KIND + 1)
    ]
    phones = [
        pc.if_else(pa.array(keep_p, pa.bool_()), contacts.column(f"p{k}"), None)
        for k in range(1, PER_KIND + 1)
    ]
    reason = pa.array(reasons, pa.string())
    reachable = pc.or_(
        pc.or_(pc.is_valid(emails[0]), pc.is_valid(phones[0])), contacts.column("addressable")
    )
    reason = pc.if_else(pc.or_(pc.is_valid(reason), reachable), reason, NO_CONTACT)
    counts = pc.value_counts(pc.drop_null(reason)).to_pylist()
    left_out: Counter[str] = Counter({str(r["values"]): int(r["counts"]) for r in counts})
    kept = pc.is_null(reason)

    def used(cols: list[Any]) -> list[pa.Array]:
        present = [pc.filter(c, kept) for c in cols]
        width = max([1, *(k + 1 for k, c in enumerate(present) if c.null_count < len(c))])
        return [pc.fill_null(c, "") for c in present[:width]]

    picked_e, picked_p = used(emails), used(phones)
    tail_columns = list(TAILS[fmt])
    tails = [pc.fill_null(pc.filter(contacts.column(c), kept), "") for c in tail_columns]
    email, phone = ("Email", "Phone") if fmt == "google" else ("EMAIL", "PHONE")
    header = [*[email] * len(picked_e), *[phone] * len(picked_p), *tail_columns]
    return header, [*picked_e, *picked_p, *tails], left_out


def check_columns(columns: Sequence[str]) -> list[str]:
    """Profile columns a CSV export may carry; anything else is refused, naming them all."""
    known = [name for name in PROFILES.schema.names if name != "profile_id"]
    for name in columns:
        if name not in known:
            raise ValidationError("columns", name, "columns of profiles: " + ", ".join(known))
    return [name for name in columns if name != "profile_id"]


def export_members(
    wh: Warehouse,
    members: ir.Table | Iterable[str],
    *,
    fmt: str,
    out: TextIO,
    columns: Sequence[str] = (),
    consents: pa.Table | None = None,
    region: str = "CN",
    channel: str | None = None,
) -> ExportResult:
    """Write the audience file of ``members`` (profile ids) to ``out``; say who was left out.

    ``fmt`` is ``csv`` (``profile_id`` plus ``columns`` of ``profiles``; consent of
    ``channel`` honoured when given), ``google`` or ``meta`` (hashed contact details;
    consent for ``ads`` honoured, see the module docstring).
    """
    if fmt not in FORMATS:
        raise ValidationError("format", fmt, "one of " + ", ".join(FORMATS))
    ids = _member_ids(wh, members)
    total = int(ids.count().to_pyarrow().as_py())
    decisions = read_consent(wh, ids, consents)
    left_out: Counter[str] = Counter()
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        wanted = check_columns(columns)
        header = ["profile_id", *wanted]
        profiles = wh.table("profiles").semi_join(ids, "profile_id")
        table = wh.query(profiles.select("profile_id", *wanted).order_by("profile_id"))
        writer.writerow(header)
        rows = 0
        for row in table.to_pylist():
            reason = (
                _withheld(decisions.get(row["profile_id"], {}), (channel,)) if channel else None
            )
            if reason:
                left_out[reason] += 1
                continue
            writer.writerow(["" if row[c] is None else row[c] for c in header])
            rows += 1
        missing = total - rows - sum(left_out.values())
        if missing:
            left_out["no profile row (profiles not built since it joined)"] += missing
        return ExportResult(fmt, total, rows, header, dict(left_out))

    members = wh.query(ids.select("profile_id"))
    contacts = hashed_contacts(
        members, _identifiers(wh, ids), _records(wh, ids), fmt=fmt, region=region
    )
    header, columns_out, left_out = _ad_file(contacts, decisions, fmt)
    writer.writerow(header)
    rows = _write_lines(out, columns_out)
    return ExportResult(fmt, total, rows, header, dict(left_out))


def _write_lines(out: TextIO, columns: list[pa.Array]) -> int:
    """Write the rows of ``columns`` (strings, no NULL) as ``csv.writer`` writes them
    (minimal quoting, ``\n`` line ends), joined by Arrow: ``writerows`` of a hundred
    thousand rows took a second of the export."""
    import pyarrow.compute as pc

    fields = []
    for column in columns:
        # What Python's csv quotes with lineterminator "\n": a comma, a quote, a newline.
        special = pc.match_substring_regex(column, '[,"\n]')
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        fields.append(pc.if_else(special, quoted, column))
    lines = pc.binary_join_element_wise(*fields, ",")
    if len(lines):
        out.write("\n".join(lines.to_pylist()))
        out.write("\n")
    return len(lines)
