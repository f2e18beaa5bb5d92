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


def _consented(
    row: dict[str, Any], decisions: dict[str, str]
) -> tuple[list[str], list[str], str | None]:
    """The hashed emails and phones consent lets go, and why nothing can, if so."""
    emails, phones = _contacts(row), _contacts(row, "p")
    refused = _withheld(decisions, (AD_CHANNEL,))
    if refused:
        return emails, phones, refused
    if decisions.get(AD_CHANNEL) == "granted":
        return emails, phones, None
    reasons = []
    for kind, channels in CONTACT_CHANNELS.items():
        reason = _withheld(decisions, channels)
        if reason and row[f"has_{kind}"]:
            if kind == "email":
                emails = []
            else:
                phones = []
            reasons.append(reason)
    if reasons and not (emails or phones):
        # Every contact was refused: a name-and-address match would go round the refusal.
        return emails, phones, reasons[0]
    return emails, phones, None


def _contacts(row: dict[str, Any], kind: str = "e") -> list[str]:
    """The hashed emails (``e``) or phones (``p``) of a row of ``hashed_contacts``."""
    return [v for v in (row[f"{kind}{n}"] for n in range(1, PER_KIND + 1)) if v]


def _padded(values: list[str], width: int) -> list[str]:
    return values + [""] * (width - len(values))


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
    tail_columns = list(TAILS[fmt])
    names = contacts.column_names
    chosen: list[tuple[list[str], list[str], list[str]]] = []
    for values in zip(*(contacts.column(c).to_pylist() for c in names), strict=True):
        row = dict(zip(names, values, strict=True))
        decided = decisions.get(row["profile_id"])
        if decided:
            emails, phones, reason = _consented(row, decided)
        else:
            emails, phones, reason = _contacts(row), _contacts(row, "p"), None
        if reason is None and not (emails or phones or row["addressable"]):
            reason = NO_CONTACT
        if reason:
            left_out[reason] += 1
            continue
        chosen.append((emails, phones, [row[c] for c in tail_columns]))
    width_e = max([1, *(len(e) for e, _, _ in chosen)])
    width_p = max([1, *(len(p) for _, p, _ in chosen)])
    email, phone = ("Email", "Phone") if fmt == "google" else ("EMAIL", "PHONE")
    header = [*[email] * width_e, *[phone] * width_p, *tail_columns]
    writer.writerow(header)
    writer.writerows(
        [*_padded(emails, width_e), *_padded(phones, width_p), *tail]
        for emails, phones, tail in chosen
    )
    return ExportResult(fmt, total, len(chosen), header, dict(left_out))
