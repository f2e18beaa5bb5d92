"""The customers: who they are, where they live, and the habits the platform should discover.

Every habit drawn here (peak hour, content taste, purchase rate, dropout, spend level,
preferred channel) is written to the truth files, so later stages can be scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from omnichannel.demo.catalogue import CATEGORIES, CONTENT_TYPES
from omnichannel.demo.model import DemoConfig, child_rng
from omnichannel.demo.names import (
    CITIES,
    EMAIL_DOMAINS,
    GIVEN_FEMALE,
    GIVEN_MALE,
    STREETS,
    SURNAME_WEIGHTS,
    SURNAMES,
)

# (name, main peak hour local, share of activity around it, secondary peak or -1)
HOUR_TYPES: tuple[tuple[str, int, float, int], ...] = (
    ("early_bird", 7, 0.70, -1),
    ("commute", 8, 0.50, 18),
    ("lunch_break", 12, 0.65, -1),
    ("afternoon", 15, 0.60, -1),
    ("after_work", 19, 0.65, -1),
    ("evening", 21, 0.70, -1),
    ("night_owl", 23, 0.70, -1),
)
HOUR_TYPE_WEIGHTS = np.array([0.08, 0.18, 0.16, 0.10, 0.16, 0.22, 0.10])
# Everyone's leftover activity follows the population's day: asleep at 3am, busy at 9pm.
BACKGROUND = np.array(
    [2, 1, 0.5, 0.3, 0.3, 0.5, 1.5, 3, 4, 4, 4.5, 5, 6, 5, 4.5, 4.5, 5, 5.5, 6, 6.5, 7.5, 8, 6, 4],
    dtype=float,
)
BACKGROUND /= BACKGROUND.sum()
PURCHASE_CHANNELS = ("store", "web", "app", "wechat", "marketplace")
PLATFORMS = ("web", "app", "wechat")


@dataclass
class People:
    """One row per person, column-wise."""

    n: int
    person_ids: list[str]
    gender: np.ndarray
    first_name: list[str]
    last_name: list[str]
    birth_date: list[date]
    city: np.ndarray
    home_store: np.ndarray
    postcode: list[str]
    address: list[str]
    household: np.ndarray
    family_phone: np.ndarray
    family_ipad: np.ndarray
    email: list[str]
    phone: list[str]
    ip: list[str]
    signup_day: np.ndarray
    has: dict[str, np.ndarray]
    hour_type: np.ndarray
    peak_hour: np.ndarray
    hour_profile: np.ndarray
    content_affinity: np.ndarray
    category_affinity: np.ndarray
    browse_rate: np.ndarray
    purchase_rate: np.ndarray
    dropout: np.ndarray
    spend_level: np.ndarray
    platform_mix: np.ndarray
    purchase_mix: np.ndarray
    login_propensity: np.ndarray
    open_propensity: np.ndarray

    @property
    def preferred_channel(self) -> np.ndarray:
        return np.asarray(self.purchase_mix.argmax(axis=1))


def hour_profiles(peak: np.ndarray, share: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Each person's probability of acting in each local hour (rows sum to 1)."""
    hours = np.arange(24)

    def bump(centre: np.ndarray) -> np.ndarray:
        dist = np.abs(hours[None, :] - centre[:, None])
        dist = np.minimum(dist, 24 - dist)
        weight = np.exp(-0.5 * (dist / 1.2) ** 2)
        return weight / weight.sum(axis=1, keepdims=True)

    main = bump(peak)
    has_second = second >= 0
    secondary = bump(np.where(has_second, second, peak))
    focused = np.where(has_second[:, None], 0.62 * main + 0.38 * secondary, main)
    profile = share[:, None] * focused + (1 - share[:, None]) * BACKGROUND[None, :]
    return np.asarray(profile / profile.sum(axis=1, keepdims=True))


def build_people(config: DemoConfig) -> People:
    rng = child_rng(config, "people")
    n = config.people
    gender = (rng.random(n) < 0.46).astype(np.int64)  # apparel retail skews female
    city_w = np.array([c.population_weight for c in CITIES])
    city = rng.choice(len(CITIES), size=n, p=city_w / city_w.sum())
    store_offset = np.cumsum([0] + [c.stores for c in CITIES])
    home_store = store_offset[city] + (
        rng.random(n) * np.array([c.stores for c in CITIES])[city]
    ).astype(np.int64)
    surname = rng.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    given_idx = rng.integers(0, 30, size=n)
    age_days = (rng.gamma(6.0, 2000 / 6.0, size=n) + 18 * 365.25).astype(np.int64)
    age_days = np.minimum(age_days, 70 * 365)
    household, family_phone, family_ipad = _households(rng, n)

    # Family members share a surname (most of the time), an address and a home store.
    heads = _household_heads(household)
    city = np.where(household >= 0, city[heads], city)
    home_store = np.where(household >= 0, home_store[heads], home_store)
    surname = np.where((household >= 0) & (rng.random(n) < 0.75), surname[heads], surname)

    first_name = [
        (GIVEN_MALE if g else GIVEN_FEMALE)[i] for g, i in zip(gender, given_idx, strict=True)
    ]
    last_name = [SURNAMES[s] for s in surname]
    birth = [config.start - timedelta(days=int(a)) for a in age_days]
    postcode_num = rng.integers(0, 999, size=n)
    street = rng.integers(0, len(STREETS), size=n)
    house_no = rng.integers(1, 999, size=n)
    flat = rng.integers(101, 2999, size=n)
    postcode_num = np.where(household >= 0, postcode_num[heads], postcode_num)
    street = np.where(household >= 0, street[heads], street)
    house_no = np.where(household >= 0, house_no[heads], house_no)
    flat = np.where(household >= 0, flat[heads], flat)
    postcode = [
        f"{CITIES[c].postcode_prefix}{p:03d}" for c, p in zip(city, postcode_num, strict=True)
    ]
    address = [
        f"No. {h} {STREETS[s]}, Room {f}" for h, s, f in zip(house_no, street, flat, strict=True)
    ]
    email, phone, ip = _contacts(rng, n, first_name, last_name, birth)

    has = {
        "web": rng.random(n) < 0.78,
        "member": rng.random(n) < 0.5,
        "app": rng.random(n) < 0.42,
        "wechat": rng.random(n) < 0.58,
        "loyalty": rng.random(n) < 0.52,
        "crm": rng.random(n) < 0.3,
        "social": rng.random(n) < 0.38,
        "marketplace": rng.random(n) < 0.28,
    }
    # Anyone with an online account is in the CRM; app users have an account.
    has["member"] |= has["app"]
    has["crm"] |= has["member"]
    # An account is used somewhere: members with no app or WeChat shop on the website.
    has["web"] |= has["member"] & ~(has["app"] | has["wechat"])

    hour_type = rng.choice(len(HOUR_TYPES), size=n, p=HOUR_TYPE_WEIGHTS)
    shift = rng.integers(-1, 2, size=n)
    peak = (np.array([t[1] for t in HOUR_TYPES])[hour_type] + shift) % 24
    share = np.array([t[2] for t in HOUR_TYPES])[hour_type] + rng.normal(0, 0.05, size=n)
    second = np.array([t[3] for t in HOUR_TYPES])[hour_type]
    second = np.where(second >= 0, (second + shift) % 24, -1)
    profile = hour_profiles(peak, np.clip(share, 0.3, 0.9), second)

    content_aff = rng.dirichlet(np.full(len(CONTENT_TYPES), 0.6), size=n)
    category_aff = rng.dirichlet(np.full(len(CATEGORIES), 0.5), size=n)
    category_aff[:, 0] += np.where(gender == 0, 0.5, 0.0)  # womenswear
    category_aff[:, 1] += np.where(gender == 1, 0.5, 0.0)  # menswear
    category_aff /= category_aff.sum(axis=1, keepdims=True)

    platform_mix = np.stack([has["web"], has["app"], has["wechat"]], axis=1) * rng.gamma(
        1.0, 1.0, size=(n, 3)
    )
    purchase_mix = np.column_stack(
        [
            rng.gamma(1.2, 1.0, size=n) * 1.3,
            platform_mix * 1.0,
            has["marketplace"] * rng.gamma(1.0, 0.8, size=n),
        ]
    )
    purchase_mix /= purchase_mix.sum(axis=1, keepdims=True)
    platform_mix = platform_mix / np.maximum(platform_mix.sum(axis=1, keepdims=True), 1e-12)

    return People(
        n=n,
        person_ids=[f"P{i + 1:06d}" for i in range(n)],
        gender=gender,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth,
        city=city,
        home_store=home_store,
        postcode=postcode,
        address=address,
        household=household,
        family_phone=family_phone,
        family_ipad=family_ipad,
        email=email,
        phone=phone,
        ip=ip,
        signup_day=np.where(rng.random(n) < 0.85, -1, rng.integers(0, config.days, size=n)),
        has=has,
        hour_type=hour_type,
        peak_hour=peak,
        hour_profile=profile,
        content_affinity=content_aff,
        category_affinity=category_aff,
        # Heterogeneous rates (gamma across people) are what BG/NBD and Gamma-Gamma assume.
        browse_rate=rng.gamma(1.0, 0.085, size=n),
        purchase_rate=rng.gamma(0.9, 0.02, size=n),
        dropout=rng.beta(1.2, 5.0, size=n),
        spend_level=np.exp(rng.normal(np.log(260.0), 0.45, size=n)),
        platform_mix=platform_mix,
        purchase_mix=purchase_mix,
        login_propensity=rng.beta(3.0, 2.0, size=n),
        open_propensity=rng.beta(2.0, 5.0, size=n),
    )


def _households(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About a quarter of people live with family; households are consecutive people."""
    household = np.full(n, -1, dtype=np.int64)
    family_phone = np.zeros(n, dtype=bool)
    family_ipad = np.zeros(n, dtype=bool)
    i, h = 0, 0
    while i < n - 1:
        if rng.random() < 0.13:
            size = min(int(rng.choice([2, 3, 4], p=[0.5, 0.3, 0.2])), n - i)
            household[i : i + size] = h
            family_phone[i : i + size] = rng.random() < 0.5
            family_ipad[i : i + size] = rng.random() < 0.4
            i += size
            h += 1
        else:
            i += 1
    return household, family_phone, family_ipad


def _household_heads(household: np.ndarray) -> np.ndarray:
    """Index of each person's household head (themselves when alone)."""
    idx = np.arange(len(household))
    first = {}
    for i, hh in enumerate(household):
        if hh >= 0 and hh not in first:
            first[hh] = i
    return np.array([first[hh] if hh >= 0 else i for i, hh in zip(idx, household, strict=True)])


def _contacts(
    rng: np.random.Generator, n: int, first: list[str], last: list[str], birth: list[date]
) -> tuple[list[str], list[str], list[str]]:
    domains = rng.integers(0, len(EMAIL_DOMAINS), size=n)
    style = rng.integers(0, 3, size=n)
    digits = rng.integers(10, 9999, size=n)
    qq = rng.integers(10_000_000, 3_999_999_999, size=n)
    email = []
    for i in range(n):
        dom = EMAIL_DOMAINS[domains[i]]
        if dom == "qq.com" and style[i] == 0:
            email.append(f"{qq[i]}@qq.com")
        elif style[i] == 1:
            email.append(f"{first[i].lower()}.{last[i].lower()}{digits[i]}@{dom}")
        else:
            email.append(f"{last[i].lower()}{first[i].lower()}{birth[i].year}{i % 97}@{dom}")
    # Mobile numbers: 1[3-9]X XXXX XXXX; made unique per person by construction.
    prefix = rng.choice(
        [130, 131, 135, 136, 138, 139, 150, 152, 158, 159, 166, 176, 177, 180, 186, 188, 189, 199],
        size=n,
    )
    suffix = rng.choice(100_000_000, size=n, replace=False)
    phone = [f"+86{p}{s:08d}" for p, s in zip(prefix, suffix, strict=True)]
    octets = rng.integers(1, 255, size=(n, 3))
    first_octet = rng.choice(
        [
            36,
            58,
            59,
            60,
            101,
            106,
            110,
            111,
            112,
            113,
            114,
            116,
            117,
            119,
            120,
            121,
            122,
            123,
            124,
            125,
            180,
            182,
            183,
            222,
        ],
        size=n,
    )
    ip = [f"{a}.{b}.{c}.{d}" for a, (b, c, d) in zip(first_octet, octets, strict=True)]
    return email, phone, ip
