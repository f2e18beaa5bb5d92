"""Scoring record links against a ground truth: pairwise precision, recall and F1.

A link is an unordered pair of records; a true pair is two records of the same person.
Scores are taken on a *population* of pairs (for the demo: same-person pairs that share
no identifier, which only probabilistic linkage can find), so that links outside it,
which no truth covers, neither help nor hurt.

Example::

    truth = TruthPairs.from_table(records_with_person_ids)
    scores = score(predicted_pairs, truth.pairs_where(lambda p: p in population))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import pyarrow as pa

RecordKey = tuple[str, str]
Pair = tuple[RecordKey, RecordKey]


def pair_of(a: RecordKey, b: RecordKey) -> Pair:
    """The canonical (sorted) form of an unordered pair of records."""
    return (a, b) if a <= b else (b, a)


def pairs_of_links(links: pa.Table) -> set[Pair]:
    """The pairs of a ``record_links``-shaped table."""
    return {
        pair_of((sl, rl), (sr, rr))
        for sl, rl, sr, rr in zip(
            links.column("source_l").to_pylist(),
            links.column("record_id_l").to_pylist(),
            links.column("source_r").to_pylist(),
            links.column("record_id_r").to_pylist(),
            strict=True,
        )
    }


@dataclass(frozen=True)
class Scores:
    """Pairwise confusion counts and the rates a reader compares."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float | None:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else None

    @property
    def recall(self) -> float | None:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
        }


def score(predicted: Iterable[Pair], truth: set[Pair]) -> Scores:
    """Pairwise scores of predicted pairs against the true pairs."""
    found = set(predicted)
    tp = len(found & truth)
    return Scores(tp, len(found) - tp, len(truth) - tp)


class TruthPairs:
    """The true pairs among a set of records, from a record -> person mapping."""

    def __init__(self, person_of: dict[RecordKey, str]) -> None:
        self.person_of = person_of
        by_person: dict[str, list[RecordKey]] = {}
        for key, person in person_of.items():
            by_person.setdefault(person, []).append(key)
        self.pairs: set[Pair] = {
            pair_of(a, b) for keys in by_person.values() for a, b in combinations(sorted(keys), 2)
        }

    @classmethod
    def from_table(
        cls, table: pa.Table, keep: Callable[[RecordKey], bool] | None = None
    ) -> TruthPairs:
        """From a table with ``source``, ``record_id`` and ``person_id`` columns."""
        person_of = {
            (s, r): p
            for s, r, p in zip(
                table.column("source").to_pylist(),
                table.column("record_id").to_pylist(),
                table.column("person_id").to_pylist(),
                strict=True,
            )
            if keep is None or keep((s, r))
        }
        return cls(person_of)

    def is_match(self, pair: Pair) -> bool:
        a, b = pair
        person = self.person_of.get(a)
        return person is not None and person == self.person_of.get(b)

    def pairs_where(self, condition: Callable[[Pair], bool]) -> set[Pair]:
        return {p for p in self.pairs if condition(p)}


class IdentifierIndex:
    """Which identifiers each record carries; tells whether two records share one."""

    def __init__(self, identifiers: pa.Table) -> None:
        self.of: dict[RecordKey, set[tuple[str, str]]] = {}
        for s, r, t, v in zip(
            identifiers.column("source").to_pylist(),
            identifiers.column("record_id").to_pylist(),
            identifiers.column("id_type").to_pylist(),
            identifiers.column("id_value").to_pylist(),
            strict=True,
        ):
            self.of.setdefault((s, r), set()).add((t, v))

    def share(self, pair: Pair) -> bool:
        a, b = pair
        return bool(self.of.get(a, set()) & self.of.get(b, set()))

    def components(self, keys: Iterable[RecordKey]) -> dict[RecordKey, RecordKey]:
        """Connected components over shared identifiers (no limits): record -> root."""
        parent: dict[RecordKey, RecordKey] = {k: k for k in keys}

        def root(k: RecordKey) -> RecordKey:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        first_with: dict[tuple[str, str], RecordKey] = {}
        for key in parent:
            for ident in self.of.get(key, ()):
                other = first_with.setdefault(ident, key)
                ra, rb = root(key), root(other)
                if ra != rb:
                    parent[ra] = rb
        return {k: root(k) for k in parent}


def component_pairs(components: dict[RecordKey, RecordKey]) -> set[Pair]:
    """Every pair of records put in the same component."""
    members: dict[RecordKey, list[RecordKey]] = {}
    for key, root in components.items():
        members.setdefault(root, []).append(key)
    return {pair_of(a, b) for keys in members.values() for a, b in combinations(sorted(keys), 2)}


def exact_key_pairs(records: pa.Table, fields: tuple[str, ...]) -> set[Pair]:
    """Pairs of records equal on every field (none missing): the naive baseline."""
    groups: dict[tuple[Any, ...], list[RecordKey]] = {}
    columns = [records.column(f).to_pylist() for f in fields]
    keys = zip(
        records.column("source").to_pylist(), records.column("record_id").to_pylist(), strict=True
    )
    for i, key in enumerate(keys):
        values = tuple(col[i] for col in columns)
        if all(v is not None for v in values):
            groups.setdefault(values, []).append(key)
    return {pair_of(a, b) for ks in groups.values() for a, b in combinations(sorted(ks), 2)}
