"""Content-based matching for the cold start: a person's affinities against item attributes.

Seed 000's hotel example: some people read many reviews, some look at the photos, some
check the location, and each is matched differently. Here, per person:

- their **content-type affinity** (shares of their ``Content Viewed`` events by type):
  a reviews reader is shown items with many reviews (reviews published and opened), a
  photo looker items with strong galleries, a store-page (location) checker what sells
  in the stores of their city;
- their **category affinity**: the categories of what they viewed, added and bought,
  and of the articles and videos they read;
- a little popularity, so two people with the same tastes are not shown noise.

Each term is a number in [0, 1] per item; the item's reason is its largest term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

CONTENT_TYPES = ("review", "photo_gallery", "store_page", "article", "video")
POPULARITY_WEIGHT = 0.2
CATEGORY_WEIGHT = 1.0


def _unit(values: np.ndarray) -> np.ndarray:
    values = np.log1p(np.maximum(values.astype(np.float64), 0.0))
    top = values.max() if len(values) else 0.0
    return values / top if top > 0 else values


@dataclass
class ContentFeatures:
    """Item strengths and each person's content affinities (see the module docstring)."""

    review_strength: np.ndarray  # per item
    gallery_strength: np.ndarray  # per item
    city_sales: dict[str, np.ndarray]  # city -> per-item strength in its stores
    people: dict[str, int] = field(default_factory=dict)
    affinity: np.ndarray = field(default_factory=lambda: np.zeros((0, len(CONTENT_TYPES))))
    category_reads: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    city: list[str | None] = field(default_factory=list)

    def person(self, profile_id: str) -> tuple[np.ndarray, np.ndarray | None, str | None]:
        """Content-type shares, category reads (or None) and city of a person."""
        i = self.people.get(profile_id)
        if i is None:
            return np.zeros(len(CONTENT_TYPES)), None, None
        return self.affinity[i], self.category_reads[i], self.city[i]

    def terms(
        self,
        profile_id: str,
        row: sp.csr_matrix,
        item_category: np.ndarray,
        popularity: np.ndarray,
        extra_types: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Each term of the score, per item (names are the reasons' keys)."""
        shares, reads, city = self.person(profile_id)
        if extra_types is not None and extra_types.sum() > 0:
            counts = shares + extra_types / max(1.0, float(extra_types.sum()))
            shares = counts / counts.sum()
        n_categories = int(item_category.max()) + 1 if len(item_category) else 0
        by_category = np.zeros(n_categories)
        if row.nnz:
            np.add.at(by_category, item_category[row.indices], row.data)
        if reads is not None and len(reads) == n_categories:
            by_category = by_category + reads
        if by_category.sum() > 0:
            by_category = by_category / by_category.max()
        terms = {
            "category": CATEGORY_WEIGHT * by_category[item_category],
            "reviews": shares[0] * self.review_strength,
            "gallery": shares[1] * self.gallery_strength,
            "popular": POPULARITY_WEIGHT * _unit(popularity * 1e6),
        }
        local = self.city_sales.get(city or "")
        if local is not None:
            terms["local"] = shares[2] * local
        return terms

    def scores(
        self,
        profile_id: str,
        row: sp.csr_matrix,
        item_category: np.ndarray,
        popularity: np.ndarray,
        extra_types: np.ndarray | None = None,
    ) -> np.ndarray:
        terms = self.terms(profile_id, row, item_category, popularity, extra_types)
        return np.asarray(sum(terms.values()), dtype=np.float64)


def build_content(
    catalogue: pa.Table,
    views: pa.Table,
    sales: pa.Table,
    reads: pa.Table,
    cities: pa.Table,
    categories: list[str],
) -> ContentFeatures:
    """Item strengths from the catalogue, content views and store sales; people's
    affinities from ``reads`` (``profile_id, content_type, category, n``) and ``cities``."""
    items = catalogue.column("product_id").to_pylist()
    index = {item: i for i, item in enumerate(items)}
    n = len(items)
    review_views = np.zeros(n)
    gallery_views = np.zeros(n)
    for row in views.to_pylist():
        i = index.get(row["product_id"])
        if i is not None:
            review_views[i] = row["review_views"] or 0
            gallery_views[i] = row["gallery_views"] or 0
    reviews = np.asarray(catalogue.column("reviews").to_pylist(), np.float64)
    galleries = np.asarray(catalogue.column("galleries").to_pylist(), np.float64)
    # Published pages count most (an item without a gallery has no gallery to show).
    review_strength = np.where(reviews > 0, 0.5 + 0.5 * _unit(review_views), 0.0)
    gallery_strength = np.where(galleries > 0, 0.5 + 0.5 * _unit(gallery_views), 0.0)
    city_sales: dict[str, np.ndarray] = {}
    for row in sales.to_pylist():
        i = index.get(row["product_id"])
        if i is None or row["city"] is None:
            continue
        city_sales.setdefault(row["city"], np.zeros(n))[i] += row["units"] or 0
    city_sales = {city: _unit(units) for city, units in city_sales.items()}

    people: dict[str, int] = {}
    category_index = {c: k for k, c in enumerate(categories)}
    ids = reads.column("profile_id").to_pylist()
    for pid in ids:
        people.setdefault(pid, len(people))
    city_of = dict(
        zip(cities.column("profile_id").to_pylist(), cities.column("city").to_pylist(), strict=True)
    )
    affinity = np.zeros((len(people), len(CONTENT_TYPES)))
    category_reads = np.zeros((len(people), len(categories)))
    type_index = {t: k for k, t in enumerate(CONTENT_TYPES)}
    for pid, ctype, category, count in zip(
        ids,
        reads.column("content_type").to_pylist(),
        reads.column("category").to_pylist(),
        reads.column("n").to_pylist(),
        strict=True,
    ):
        i = people[pid]
        if ctype in type_index:
            affinity[i, type_index[ctype]] += count
        if category in category_index:
            category_reads[i, category_index[category]] += count
    totals = affinity.sum(axis=1, keepdims=True)
    affinity = np.divide(affinity, totals, out=np.zeros_like(affinity), where=totals > 0)
    return ContentFeatures(
        review_strength=review_strength,
        gallery_strength=gallery_strength,
        city_sales=city_sales,
        people=people,
        affinity=affinity.astype(np.float32),
        category_reads=category_reads.astype(np.float32),
        city=[city_of.get(pid) for pid in people],
    )
