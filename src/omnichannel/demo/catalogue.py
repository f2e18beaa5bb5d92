"""What the retailer sells, what it publishes, and where its shops are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from omnichannel.demo.model import COUNTRY, CURRENCY, DOMAIN, TIMEZONE, DemoConfig, child_rng
from omnichannel.demo.money import decimal_array
from omnichannel.demo.names import CITIES

# (category, subcategories, median price CNY, price spread): the spread is what lets spend
# level differ between people without them buying different things entirely.
CATEGORIES: tuple[tuple[str, tuple[str, ...], float, float], ...] = (
    ("womenswear", ("dresses", "knitwear", "blouses", "trousers", "coats"), 329.0, 0.55),
    ("menswear", ("shirts", "knitwear", "trousers", "jackets", "t-shirts"), 299.0, 0.55),
    ("shoes", ("sneakers", "loafers", "boots", "sandals"), 459.0, 0.45),
    ("bags & accessories", ("totes", "backpacks", "scarves", "belts", "hats"), 199.0, 0.7),
    ("home & living", ("bedding", "tableware", "candles", "cushions", "storage"), 129.0, 0.7),
    ("beauty", ("skincare", "fragrance", "body care"), 159.0, 0.5),
    ("tea & snacks", ("green tea", "oolong", "gift boxes", "snacks"), 89.0, 0.6),
    ("kids", ("kidswear", "toys", "school bags"), 149.0, 0.5),
)
BRANDS = (
    "Lotus & Pine",
    "Pine Outdoor",
    "Lotus Home",
    "Bamboo Lane",
    "Jade River",
    "Silk Harbour",
    "North Peak",
    "Little Lotus",
)
CONTENT_TYPES = ("article", "review", "photo_gallery", "video", "store_page")
ADJECTIVES = (
    "Linen",
    "Cotton",
    "Silk",
    "Wool",
    "Cashmere",
    "Classic",
    "Relaxed",
    "Slim",
    "Everyday",
    "Weekend",
    "Travel",
    "Garden",
    "Mountain",
    "Harbour",
    "Spring",
)
PRODUCTS_PER_CATEGORY = 80


@dataclass(frozen=True)
class Catalogue:
    """The catalogue as Arrow tables (for the warehouse) and arrays (for the generators)."""

    products: pa.Table
    content_items: pa.Table
    stores: pa.Table
    product_ids: pa.Array
    product_skus: pa.Array
    product_names: pa.Array
    product_category: np.ndarray
    product_price_cents: np.ndarray
    by_category_sorted: tuple[np.ndarray, ...]
    content_ids: pa.Array
    content_type: np.ndarray
    content_category: np.ndarray
    store_ids: pa.Array
    store_city: np.ndarray

    @property
    def n_categories(self) -> int:
        return len(CATEGORIES)


def build_catalogue(config: DemoConfig) -> Catalogue:
    rng = child_rng(config, "catalogue")
    created = np.datetime64(config.epoch - timedelta(days=365), "ms")

    n = len(CATEGORIES) * PRODUCTS_PER_CATEGORY
    category = np.repeat(np.arange(len(CATEGORIES)), PRODUCTS_PER_CATEGORY)
    median = np.array([c[2] for c in CATEGORIES])[category]
    spread = np.array([c[3] for c in CATEGORIES])[category]
    # Retail prices end in 9: round the drawn price to the nearest 10 and take one yuan off.
    raw = median * np.exp(rng.normal(0.0, spread))
    price_cents = (np.maximum(np.round(raw / 10.0), 2) * 10 - 1).astype(np.int64) * 100
    names, subcats, brands = [], [], []
    for i in range(n):
        _, subs, _, _ = CATEGORIES[category[i]]
        sub = subs[int(rng.integers(len(subs)))]
        subcats.append(sub)
        brands.append(BRANDS[int(rng.integers(len(BRANDS)))] if i % 3 else BRANDS[0])
        noun = sub[:-2] if sub.endswith("sses") else sub
        names.append(
            f"{ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]} {noun} "
            f"{chr(65 + i % 26)}{i // 26:02d}"
        )
    product_ids = pa.array([f"PRD-{i + 1:05d}" for i in range(n)])
    skus = pa.array([f"LP{category[i]:02d}{i + 1:05d}" for i in range(n)])
    product_names = pa.array(names)
    products = pa.table(
        {
            "product_id": product_ids,
            "sku": skus,
            "name": product_names,
            "category": pa.array([CATEGORIES[c][0] for c in category]),
            "subcategory": pa.array(subcats),
            "brand": pa.array(brands),
            "price": decimal_array(price_cents),
            "currency": pa.array([CURRENCY] * n),
            "created_at": pa.array(np.full(n, created)),
            "attributes": pa.array([f'{{"season":"{("SS", "AW")[i % 2]}26"}}' for i in range(n)]),
        }
    )
    by_category = tuple(
        np.flatnonzero(category == c)[np.argsort(price_cents[category == c], kind="stable")]
        for c in range(len(CATEGORIES))
    )

    stores, store_city = _stores(config)
    content = _content(config, rng, category, product_ids, stores)
    content_category = np.array(content.column("category_index").to_pylist())
    content = content.drop_columns(["category_index"])
    return Catalogue(
        products=products,
        content_items=content,
        stores=stores,
        product_ids=product_ids,
        product_skus=skus,
        product_names=product_names,
        product_category=category,
        product_price_cents=price_cents,
        by_category_sorted=by_category,
        content_ids=content.column("content_id").combine_chunks(),
        content_type=np.array(
            [CONTENT_TYPES.index(t) for t in content.column("content_type").to_pylist()]
        ),
        content_category=content_category,
        store_ids=stores.column("store_id").combine_chunks(),
        store_city=store_city,
    )


def _stores(config: DemoConfig) -> tuple[pa.Table, np.ndarray]:
    rng = child_rng(config, "stores")
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "store_id",
            "name",
            "city",
            "region",
            "country",
            "postcode",
            "latitude",
            "longitude",
            "timezone",
            "opened_at",
        )
    }
    city_of_store: list[int] = []
    for ci, city in enumerate(CITIES):
        for k in range(city.stores):
            rows["store_id"].append(f"ST-{len(city_of_store) + 1:03d}")
            rows["name"].append(f"{city.name} {('Flagship', 'Mall', 'Station', 'Riverside')[k]}")
            rows["city"].append(city.name)
            rows["region"].append(city.region)
            rows["country"].append(COUNTRY)
            rows["postcode"].append(f"{city.postcode_prefix}{int(rng.integers(0, 999)):03d}")
            rows["latitude"].append(round(city.latitude + rng.normal(0, 0.04), 5))
            rows["longitude"].append(round(city.longitude + rng.normal(0, 0.04), 5))
            rows["timezone"].append(TIMEZONE)
            opened = config.epoch - timedelta(days=int(rng.integers(200, 3000)))
            rows["opened_at"].append(opened)
            city_of_store.append(ci)
    return pa.table(rows), np.array(city_of_store)


def _content(
    config: DemoConfig,
    rng: np.random.Generator,
    product_category: np.ndarray,
    product_ids: pa.Array,
    stores: pa.Table,
) -> pa.Table:
    """Articles and videos per category, reviews and galleries per product, a page per store."""
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "content_id",
            "content_type",
            "title",
            "category",
            "tags",
            "url",
            "product_id",
            "published_at",
            "category_index",
        )
    }

    def add(kind: str, title: str, cat: int, product: str | None) -> None:
        cid = f"CNT-{len(rows['content_id']) + 1:05d}"
        rows["content_id"].append(cid)
        rows["content_type"].append(kind)
        rows["title"].append(title)
        rows["category"].append(CATEGORIES[cat][0] if cat >= 0 else "stores")
        rows["tags"].append(f'["{kind}","{CATEGORIES[cat][0] if cat >= 0 else "store"}"]')
        rows["url"].append(f"https://www.{DOMAIN}/{kind.replace('_', '-')}/{cid.lower()}")
        rows["product_id"].append(product)
        days_before = int(rng.integers(0, 400))
        rows["published_at"].append(config.epoch - timedelta(days=days_before))
        rows["category_index"].append(cat)

    for cat, (name, subs, _, _) in enumerate(CATEGORIES):
        for k in range(12):
            add("article", f"How to style {subs[k % len(subs)]}: {name} guide #{k + 1}", cat, None)
        for k in range(6):
            add("video", f"{name.title()} lookbook {k + 1}", cat, None)
    ids = product_ids.to_pylist()
    for p in range(0, len(ids), 2):
        add("review", f"Customer reviews of {ids[p]}", int(product_category[p]), ids[p])
    for p in range(1, len(ids), 3):
        add("photo_gallery", f"Photos of {ids[p]}", int(product_category[p]), ids[p])
    for sid, sname in zip(
        stores.column("store_id").to_pylist(), stores.column("name").to_pylist(), strict=True
    ):
        add("store_page", f"{sname} - opening hours and directions ({sid})", -1, None)
    return pa.table(rows)
