"""Each person as the source systems know them: records, identifiers and the traps between.

Three kinds of difficulty are planted on purpose, for the identity graph to get right:

- shared identifiers that must not merge people: a family iPad (one device and install
  used by several relatives), store kiosk tablets (one device logged into by many
  shoppers) and family phones (one number on several relatives' loyalty cards);
- linkage records: a second CRM contact or loyalty card with no identifier in common with
  the person's other records, only a similar name, birth date, postcode and address;
- ordinary fragmentation: several cookies per person, app installs, WeChat ids, social
  handles and marketplace buyer ids, joined only through logins and shared contacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from omnichannel.demo.codes import hex_tokens, uuids
from omnichannel.demo.model import DemoConfig, child_rng
from omnichannel.demo.names import (
    CITIES,
    abbreviate_address,
    drop_char,
    nickname,
    postcode_digit,
    swap_day_month,
    transpose,
)
from omnichannel.demo.people import People

SOCIAL_PLATFORMS = ("weibo", "douyin", "xiaohongshu")
RECORD_COLUMNS = (
    "source",
    "record_id",
    "first_name",
    "last_name",
    "birth_date",
    "gender",
    "email",
    "phone",
    "address",
    "city",
    "postcode",
    "created_at",
    "updated_at",
    "attributes",
)
KIOSKS_PER_STORE = 2


@dataclass
class IdentifierLog:
    """Identifier rows as they are observed, plus which true person each belongs to."""

    source: list[str] = field(default_factory=list)
    record_id: list[str] = field(default_factory=list)
    id_type: list[str] = field(default_factory=list)
    id_value: list[str] = field(default_factory=list)
    observed_at: list[int] = field(default_factory=list)
    person: list[int] = field(default_factory=list)

    def add(
        self, source: str, record_id: str, id_type: str, value: str, at: int, person: int
    ) -> None:
        self.source.append(source)
        self.record_id.append(record_id)
        self.id_type.append(id_type)
        self.id_value.append(value)
        self.observed_at.append(at)
        self.person.append(person)


@dataclass
class Identities:
    """Per-person identifier pools used by behaviour, and the static records."""

    user_id: list[str | None]
    crm_id: list[str | None]
    loyalty_record: list[str | None]
    anon_values: pa.Array
    cookie_ptr: np.ndarray
    cookie_idx: np.ndarray
    device_values: pa.Array
    device_anon: np.ndarray
    device_os: np.ndarray
    device_ptr: np.ndarray
    device_idx: np.ndarray
    kiosk_devices: np.ndarray
    openid_anon: np.ndarray
    records: dict[str, list[object]]
    record_person: list[int]
    identifiers: IdentifierLog
    owned: list[tuple[str, str, int]]
    linkage_records: list[str]
    marketplace_record: list[str | None]
    marketplace_source: list[str | None]


def build_identities(config: DemoConfig, people: People, n_stores: int) -> Identities:
    rng = child_rng(config, "identities")
    n = people.n
    has = people.has
    owned: list[tuple[str, str, int]] = []  # (id_type, id_value, person) for the truth
    log = IdentifierLog()
    records: dict[str, list[object]] = {k: [] for k in RECORD_COLUMNS}
    record_person: list[int] = []
    created = (-rng.integers(30, 1500, size=n) * 86_400).astype(np.int64)
    created = np.where(people.signup_day >= 0, people.signup_day * 86_400, created)

    user_hex = hex_tokens(rng, n, 5).to_pylist()
    user_id = [f"u{h}" if m else None for h, m in zip(user_hex, has["member"], strict=True)]
    crm_id = [f"CRM-{i + 100_001}" if c else None for i, c in enumerate(has["crm"])]
    cards = rng.choice(10**11, size=n, replace=False)

    # Anonymous ids: web cookies (a few per person: browsers, cleared cookies), then app
    # installs, kiosk installs and WeChat openids, all in one table events index into.
    n_cookies = np.where(has["web"], 1 + rng.poisson(0.9, size=n), 0)
    cookie_ptr = np.concatenate([[0], np.cumsum(n_cookies)])
    cookie_owner = np.repeat(np.arange(n), n_cookies)
    anon_parts = [uuids(rng, int(cookie_ptr[-1]))]
    for owner, value in zip(cookie_owner.tolist(), anon_parts[0].to_pylist(), strict=True):
        owned.append(("anonymous_id", value, owner))

    device_owner, device_kind = _devices(rng, people)
    n_dev = len(device_owner)
    n_kiosk = n_stores * KIOSKS_PER_STORE
    device_values = uuids(rng, n_dev + n_kiosk, upper=True)
    install_anon = uuids(rng, n_dev + n_kiosk)
    anon_base = int(cookie_ptr[-1])
    anon_parts.append(install_anon)
    device_anon = anon_base + np.arange(n_dev + n_kiosk)
    device_os = np.concatenate([device_kind, np.full(n_kiosk, 2)])
    dev_values_py = device_values.to_pylist()
    install_py = install_anon.to_pylist()
    for d, owners in enumerate(device_owner):
        for p in owners:
            owned.append(("device_id", dev_values_py[d], p))
            owned.append(("anonymous_id", install_py[d], p))
    pairs = [(p, d) for d, owners in enumerate(device_owner) for p in owners]
    pairs.sort()
    device_idx = np.array([d for _, d in pairs], dtype=np.int64)
    counts = np.bincount(np.array([p for p, _ in pairs], dtype=np.int64), minlength=n)
    device_ptr = np.concatenate([[0], np.cumsum(counts)])
    kiosk_devices = (n_dev + np.arange(n_kiosk)).reshape(n_stores, KIOSKS_PER_STORE)

    openids = hex_tokens(rng, n, 12, prefix="oLP").to_pylist()
    unionids = hex_tokens(rng, n, 12, prefix="oU").to_pylist()
    openid_base = anon_base + n_dev + n_kiosk
    anon_parts.append(pa.array(openids))
    openid_anon = np.where(has["wechat"], openid_base + np.arange(n), -1)

    heads = _heads(people.household)
    marketplace_record: list[str | None] = [None] * n
    marketplace_source: list[str | None] = [None] * n
    buyer = hex_tokens(rng, n, 5).to_pylist()
    handles = hex_tokens(rng, n * len(SOCIAL_PLATFORMS), 4).to_pylist()
    bound_phone = rng.random(n) < 0.5
    pos_birth = rng.random(n) < 0.6
    crm_lists_social = rng.random(n) < 0.45

    def record(source: str, rid: str, person: int, at: int, **fields: object) -> None:
        for key in RECORD_COLUMNS:
            records[key].append(fields.get(key))
        records["source"][-1] = source
        records["record_id"][-1] = rid
        records["created_at"][-1] = at
        records["updated_at"][-1] = at + 86_400 * 3
        record_person.append(person)

    for i in range(n):
        at = int(created[i])
        base = {
            "first_name": people.first_name[i],
            "last_name": people.last_name[i],
            "gender": "female" if people.gender[i] == 0 else "male",
            "city": CITIES[people.city[i]].name,
            "postcode": people.postcode[i],
        }
        owned.append(("phone", people.phone[i], i))
        uid = user_id[i]
        if uid is not None:
            owned.append(("user_id", uid, i))
        cid = crm_id[i]
        if cid is not None:
            owned += [("crm_id", cid, i), ("email", people.email[i], i)]
            record(
                "crm",
                cid,
                i,
                at,
                birth_date=people.birth_date[i],
                email=people.email[i],
                phone=people.phone[i],
                address=people.address[i],
                **base,
                attributes='{"consent_email":true,"consent_sms":true}',
            )
            log.add("crm", cid, "crm_id", cid, at, i)
            log.add("crm", cid, "email", people.email[i], at, i)
            log.add("crm", cid, "phone", people.phone[i], at, i)
            if uid is not None:
                log.add("crm", cid, "user_id", uid, at, i)
        if has["loyalty"][i]:
            rid = f"LOY-{i + 500_001}"
            card = f"8860{cards[i]:011d}"
            phone = people.phone[heads[i]] if people.family_phone[i] else people.phone[i]
            owned += [("loyalty_card", card, i), ("phone", phone, i)]
            record(
                "pos",
                rid,
                i,
                at + 3_600,
                phone=phone,
                birth_date=people.birth_date[i] if pos_birth[i] else None,
                **base,
                attributes=f'{{"card":"{card}","home_store":{int(people.home_store[i])}}}',
            )
            log.add("pos", rid, "loyalty_card", card, at + 3_600, i)
            log.add("pos", rid, "phone", phone, at + 3_600, i)
        if has["wechat"][i]:
            oid, unid = openids[i], unionids[i]
            owned += [("wechat_openid", oid, i), ("wechat_unionid", unid, i)]
            record(
                "wechat",
                oid,
                i,
                at + 7_200,
                phone=people.phone[i] if bound_phone[i] else None,
                attributes=f'{{"nickname":"{people.first_name[i]}{i % 100}"}}',
            )
            log.add("wechat", oid, "wechat_openid", oid, at + 7_200, i)
            log.add("wechat", oid, "wechat_unionid", unid, at + 7_200, i)
            if bound_phone[i]:
                log.add("wechat", oid, "phone", people.phone[i], at + 7_200, i)
        if has["social"][i]:
            k = 1 + int(rng.random() < 0.35)
            for platform in rng.choice(len(SOCIAL_PLATFORMS), size=k, replace=False):
                handle = f"@{people.first_name[i].lower()}_{handles[i * 3 + platform]}"
                src = SOCIAL_PLATFORMS[platform]
                owned.append(("social_handle", handle, i))
                followers = int(rng.integers(5, 3000))
                record(src, handle, i, at, attributes=f'{{"followers":{followers}}}')
                log.add(src, handle, "social_handle", handle, at, i)
                if cid is not None and crm_lists_social[i]:
                    log.add("crm", cid, "social_handle", handle, at, i)
        if has["marketplace"][i]:
            src = "tmall" if rng.random() < 0.65 else "jd"
            rid = f"{('tb', 'jd')[src == 'jd']}_{buyer[i]}"
            marketplace_record[i], marketplace_source[i] = rid, src
            owned.append(("user_id", rid, i))
            with_phone = rng.random() < 0.6
            record(
                src,
                rid,
                i,
                at,
                phone=people.phone[i] if with_phone else None,
                address=people.address[i],
                **base,
            )
            log.add(src, rid, "user_id", rid, at, i)
            if with_phone:
                log.add(src, rid, "phone", people.phone[i], at, i)

    linkage = _linkage_records(rng, people, record, log, owned)
    return Identities(
        user_id=user_id,
        crm_id=crm_id,
        loyalty_record=[f"LOY-{i + 500_001}" if h else None for i, h in enumerate(has["loyalty"])],
        anon_values=pa.concat_arrays(anon_parts),
        cookie_ptr=cookie_ptr,
        cookie_idx=np.arange(int(cookie_ptr[-1])),
        device_values=device_values,
        device_anon=device_anon,
        device_os=device_os,
        device_ptr=device_ptr,
        device_idx=device_idx,
        kiosk_devices=kiosk_devices,
        openid_anon=openid_anon,
        records=records,
        record_person=record_person,
        identifiers=log,
        owned=owned,
        linkage_records=linkage,
        marketplace_record=marketplace_record,
        marketplace_source=marketplace_source,
    )


def _heads(household: np.ndarray) -> np.ndarray:
    head: dict[int, int] = {}
    out = np.arange(len(household))
    for i, hh in enumerate(household):
        if hh >= 0:
            out[i] = head.setdefault(int(hh), i)
    return out


def _devices(rng: np.random.Generator, people: People) -> tuple[list[list[int]], np.ndarray]:
    """Phones and tablets; a family iPad belongs to every app user in the household."""
    owners: list[list[int]] = []
    kind: list[int] = []  # 0 ios, 1 android, 2 ipados
    family_pad: dict[int, int] = {}
    for i in range(people.n):
        if not people.has["app"][i]:
            continue
        owners.append([i])
        kind.append(int(rng.random() < 0.62))
        if rng.random() < 0.18:  # a second phone or a new one
            owners.append([i])
            kind.append(int(rng.random() < 0.62))
        hh = int(people.household[i])
        if hh >= 0 and people.family_ipad[i]:
            if hh not in family_pad:
                family_pad[hh] = len(owners)
                owners.append([])
                kind.append(2)
            owners[family_pad[hh]].append(i)
    return owners, np.array(kind, dtype=np.int64)


def _linkage_records(
    rng: np.random.Generator,
    people: People,
    add: Callable[..., None],
    log: IdentifierLog,
    owned: list[tuple[str, str, int]],
) -> list[str]:
    """Second records sharing no identifier with the person's others, only fuzzy details."""
    eligible = np.flatnonzero(people.has["crm"] | people.has["loyalty"])
    chosen = np.sort(rng.choice(eligible, size=max(1, int(0.07 * people.n)), replace=False))
    ids: list[str] = []
    for k, i in enumerate(chosen):
        first, last = people.first_name[i], people.last_name[i]
        birth: date = people.birth_date[i]
        postcode, address = people.postcode[i], people.address[i]
        for mistake in rng.choice(6, size=int(rng.integers(1, 3)), replace=False):
            if mistake == 0 and len(last) > 2:
                last = transpose(rng, last)
            elif mistake == 0:  # two-letter surnames (Wu, Li) cannot transpose: misspell the name
                first = drop_char(rng, first)
            elif mistake == 1:
                first = drop_char(rng, first) if len(first) > 3 else transpose(rng, first)
            elif mistake == 2:
                first = nickname(rng, first)
            elif mistake == 3:
                birth = swap_day_month(birth)
            elif mistake == 4:
                postcode = postcode_digit(rng, postcode)
            else:
                address = abbreviate_address(address)
        at = int(rng.integers(-900, -30)) * 86_400
        base = {
            "first_name": first,
            "last_name": last,
            "birth_date": birth,
            "gender": "female" if people.gender[i] == 0 else "male",
            "city": CITIES[people.city[i]].name,
            "postcode": postcode,
            "address": address,
        }
        if rng.random() < 0.55:
            rid = f"CRM-9{k + 1:05d}"
            old_email = f"{last.lower()}{first.lower()}{int(rng.integers(1, 99))}@sohu.com"
            add(
                "crm",
                rid,
                int(i),
                at,
                email=old_email,
                **base,
                attributes='{"imported_from":"2019 newsletter"}',
            )
            log.add("crm", rid, "crm_id", rid, at, int(i))
            log.add("crm", rid, "email", old_email, at, int(i))
            owned += [("crm_id", rid, int(i)), ("email", old_email, int(i))]
        else:
            rid = f"LOY-9{k + 1:05d}"
            card = f"8861{int(rng.integers(0, 10**11)):011d}"
            add("pos", rid, int(i), at, **base, attributes=f'{{"card":"{card}"}}')
            log.add("pos", rid, "loyalty_card", card, at, int(i))
            owned.append(("loyalty_card", card, int(i)))
        ids.append(rid)
    return ids
