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
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

import ibis

from omnichannel.errors import ValidationError
from omnichannel.ingest.normalize import normalize_country, normalize_email, normalize_phone
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
PER_KIND = 3  # Google and Meta both take up to three email and three phone columns
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
RECORD_FIELDS = ("first_name", "last_name", "city", "region", "postcode", "country")
NO_CONTACT = "no email, phone or full name and address"


@dataclass
class Contact:
    """What an audience file can say about one profile, as stored (not yet normalised)."""

    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None

    def addressable(self) -> bool:
        """Enough for a name-and-address match: first and last name, country and zip."""
        return all((self.first_name, self.last_name, self.country, self.postcode))


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


# --- normalisation ------------------------------------------------------------------


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def google_email(text: str) -> str | None:
    """``' John.Smith@GMail.com'`` -> ``'johnsmith@gmail.com'``: Google's email rule."""
    email = normalize_email(text)
    if email is None:
        return None
    local, _, domain = email.rpartition("@")
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def meta_email(text: str) -> str | None:
    """Trimmed and lower-cased, as Meta asks; None when it is not an address."""
    return normalize_email(text)


E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def e164(text: str, region: str) -> str | None:
    """``'138 1234 5678'`` -> ``'+8613812345678'``; numbers without a country code are read
    in ``region``; None when it is not a valid number."""
    value = text.strip()
    if E164.match(value):
        # Stored phone identifiers are E.164 already (ingestion normalises them with this
        # same parser); parsing each again cost 1 ms a number, most of an export's time.
        return value
    return normalize_phone(value, region)


def meta_phone(text: str, region: str) -> str | None:
    """Digits only with the country code, no '+' and no leading zeros: ``'8613812345678'``."""
    number = e164(text, region)
    return number.lstrip("+").lstrip("0") if number else None


def _letters(text: str) -> str:
    # Letters of any script (Meta: "special characters in UTF-8"), nothing else.
    return "".join(ch for ch in unicodedata.normalize("NFC", text) if ch.isalpha())


def google_name(text: str | None) -> str | None:
    """Lower-cased, spaces before, after and doubled in between removed."""
    if text is None:
        return None
    value = " ".join(text.lower().split())
    return value or None


def meta_name(text: str | None) -> str | None:
    """Lower-cased letters only (no punctuation, no spaces), accents kept."""
    if text is None:
        return None
    return _letters(text.lower()) or None


def country_code(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2, upper case (``'China'`` -> ``'CN'``)."""
    return normalize_country(text) if text else None


def meta_zip(text: str | None, country: str | None) -> str | None:
    """Lower case, no spaces or dashes; a US zip is its first five digits."""
    if text is None:
        return None
    value = re.sub(r"[\s-]", "", text.lower())
    if country == "US":
        value = value[:5]
    return value or None


@lru_cache(maxsize=1)
def _us_states() -> dict[str, str]:
    import pycountry

    names: dict[str, str] = {}
    for state in pycountry.subdivisions.get(country_code="US") or ():
        code = state.code.split("-", 1)[1].lower()
        names[state.name.casefold()] = code
        names[code] = code
    return names


def meta_state(text: str | None, country: str | None) -> str | None:
    """US states as their two-letter code in lower case; others lower-cased letters only."""
    if text is None:
        return None
    if country == "US":
        code = _us_states().get(" ".join(text.split()).casefold())
        if code:
            return code
    return _letters(text.lower()) or None


# --- reading what a profile holds ---------------------------------------------------


def _member_ids(wh: Warehouse, members: ir.Table | Iterable[str]) -> ir.Table:
    if isinstance(members, ibis.Table):
        return members.select("profile_id").distinct()
    import pyarrow as pa

    ids = sorted(set(members))
    return ibis.memtable(pa.table({"profile_id": pa.array(ids, pa.string())}))


def read_contacts(wh: Warehouse, ids: ir.Table) -> dict[str, Contact]:
    """Each member profile's linked emails and phones and its newest record fields."""
    contacts: dict[str, Contact] = {}
    pi = wh.table("profile_identifiers")
    linked = pi.filter(pi.status == "linked", pi.id_type.isin(("email", "phone")))
    linked = linked.semi_join(ids, "profile_id")
    linked = linked.order_by(
        ["profile_id", "id_type", ibis.desc(linked.last_seen), linked.id_value]
    )
    for row in wh.query(linked.select("profile_id", "id_type", "id_value")).to_pylist():
        contact = contacts.setdefault(row["profile_id"], Contact())
        listed = contact.emails if row["id_type"] == "email" else contact.phones
        listed.append(row["id_value"])
    rp = wh.table("record_profiles").semi_join(ids, "profile_id")
    cr = wh.table("customer_records")
    records = cr.join(rp, ["source", "record_id"]).select(
        "profile_id", "updated_at", "loaded_at", *RECORD_FIELDS
    )
    records = records.order_by(
        [
            "profile_id",
            records.updated_at.desc(nulls_first=False),
            records.loaded_at.desc(nulls_first=False),
        ]
    )
    for row in wh.query(records).to_pylist():
        contact = contacts.setdefault(row["profile_id"], Contact())
        for name in RECORD_FIELDS:
            value = row[name].strip() if isinstance(row[name], str) else None
            if value and getattr(contact, name) is None:
                setattr(contact, name, value)
    return contacts


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


def _consented(contact: Contact, decisions: dict[str, str]) -> tuple[Contact, str | None]:
    """The contact with what consent withholds removed, and why it cannot go at all."""
    refused = _withheld(decisions, (AD_CHANNEL,))
    if refused:
        return contact, refused
    if decisions.get(AD_CHANNEL) == "granted":
        return contact, None
    kept = Contact(
        **{**contact.__dict__, "emails": list(contact.emails), "phones": list(contact.phones)}
    )
    reasons = []
    for kind, channels in CONTACT_CHANNELS.items():
        reason = _withheld(decisions, channels)
        if reason and getattr(contact, f"{kind}s"):
            setattr(kept, f"{kind}s", [])
            reasons.append(reason)
    if reasons and not (kept.emails or kept.phones):
        # Every contact was refused: a name-and-address match would go round the refusal.
        return kept, reasons[0]
    return kept, None


def _google_row(contact: Contact, region: str, emails: int, phones: int) -> list[str]:
    hashed_emails = _unique(google_email(e) for e in contact.emails)
    hashed_phones = _unique(e164(p, region) for p in contact.phones)
    first, last = google_name(contact.first_name), google_name(contact.last_name)
    return [
        *_padded([sha256(e) for e in hashed_emails], emails),
        *_padded([sha256(p) for p in hashed_phones], phones),
        sha256(first) if first else "",
        sha256(last) if last else "",
        country_code(contact.country) or "",
        (contact.postcode or "").strip(),
    ]


def _meta_row(contact: Contact, region: str, emails: int, phones: int) -> list[str]:
    country = country_code(contact.country)
    values = [
        meta_name(contact.first_name),
        meta_name(contact.last_name),
        meta_zip(contact.postcode, country),
        meta_name(contact.city),
        meta_state(contact.region, country),
        country.lower() if country else None,
    ]
    return [
        *_padded([sha256(e) for e in _unique(meta_email(e) for e in contact.emails)], emails),
        *_padded(
            [sha256(p) for p in _unique(meta_phone(p, region) for p in contact.phones)], phones
        ),
        *(sha256(v) if v else "" for v in values),
    ]


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)[:PER_KIND]


def _padded(values: list[str], width: int) -> list[str]:
    return values + [""] * (width - len(values))


def _matchable(contact: Contact, region: str) -> bool:
    emails = _unique(normalize_email(e) for e in contact.emails)
    phones = _unique(e164(p, region) for p in contact.phones)
    return bool(emails or phones) or contact.addressable()


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

    contacts = read_contacts(wh, ids)
    member_list = [r["profile_id"] for r in wh.query(ids.order_by("profile_id")).to_pylist()]
    chosen: list[Contact] = []
    for profile_id in member_list:
        contact, reason = _consented(
            contacts.get(profile_id, Contact()), decisions.get(profile_id, {})
        )
        if reason is None and not _matchable(contact, region):
            reason = NO_CONTACT
        if reason:
            left_out[reason] += 1
            continue
        chosen.append(contact)
    emails = max([1, *(min(len(c.emails), PER_KIND) for c in chosen)])
    phones = max([1, *(min(len(c.phones), PER_KIND) for c in chosen)])
    if fmt == "google":
        header = [
            *["Email"] * emails,
            *["Phone"] * phones,
            "First Name",
            "Last Name",
            "Country",
            "Zip",
        ]
        make = _google_row
    else:
        header = [
            *["EMAIL"] * emails,
            *["PHONE"] * phones,
            "FN",
            "LN",
            "ZIP",
            "CT",
            "ST",
            "COUNTRY",
        ]
        make = _meta_row
    writer.writerow(header)
    for contact in chosen:
        writer.writerow(make(contact, region, emails, phones))
    return ExportResult(fmt, total, len(chosen), header, dict(left_out))
