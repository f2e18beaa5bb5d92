"""Connected components in Ibis: min-label hooking, pointer jumping and graph contraction.

Each round is a handful of set operations (a group-by and two or three joins) that any
engine runs, so the same code labels a graph in DuckDB, PostgreSQL or Spark:

1. *hook*: every node points at its smallest neighbour (or itself);
2. *jump*: pointers are followed to their end (``h = h∘h`` until nothing changes), so a
   long chain collapses in ``log(length)`` joins instead of ``length`` rounds;
3. *contract*: each edge is replaced by the edge between its ends' pointers; edges inside
   one component vanish. The largest node of the remaining graph always disappears, so
   the loop ends, in practice after a few rounds.

The answer is composed round by round: ``label(node) = h_k(...h_1(node))``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

Progress = Callable[[str, int, int], None]


class Scratch:
    """Temporary tables of one run, each materialised once and dropped at the end.

    Materialising every step keeps the plans small: without it the expression of round
    ``k`` would contain all ``k - 1`` rounds before it.
    """

    def __init__(self, con: BaseBackend) -> None:
        self.con = con
        self.prefix = f"omni_idr_{uuid.uuid4().hex[:10]}"
        self.count = 0
        self.live: list[str] = []

    def keep(self, expr: ir.Table) -> ir.Table:
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        table = self.con.create_table(name, expr, temp=True)
        self.live.append(name)
        return table

    def rows(self, table: ir.Table) -> int:
        return int(table.count().to_pyarrow().as_py())

    def drop(self, *tables: ir.Table) -> None:
        for table in tables:
            name = table.get_name()
            if name in self.live:
                self.live.remove(name)
                self.con.drop_table(name, force=True)

    def close(self) -> None:
        for name in list(self.live):
            self.con.drop_table(name, force=True)
        self.live.clear()


def connected_components(
    scratch: Scratch, edges: ir.Table, progress: Progress | None = None
) -> ir.Table:
    """``(node, label)`` for every node of ``edges(a, b)`` (int64); equal labels = connected.

    The label of a component is one of its nodes (not necessarily the smallest).
    """
    e = scratch.keep(edges.filter(edges.a != edges.b).select("a", "b").distinct())
    nodes = ibis.union(edges.select(node=edges.a), edges.select(node=edges.b), distinct=True)
    labels = scratch.keep(nodes.mutate(label=nodes.node))
    remaining = scratch.rows(e)
    total = max(remaining, 1)
    rounds = 0
    while remaining:
        rounds += 1
        pointer = _hook(scratch, e)
        pointer = _jump(scratch, pointer)
        e_next = scratch.keep(_contract(e, pointer))
        labels_next = scratch.keep(_compose(labels, pointer))
        scratch.drop(e, labels, pointer)
        e, labels = e_next, labels_next
        remaining = scratch.rows(e)
        if progress is not None:
            progress("components", total - min(remaining, total), total)
    scratch.drop(e)
    return labels


def _hook(scratch: Scratch, e: ir.Table) -> ir.Table:
    both = ibis.union(e.select(n=e.a, m=e.b), e.select(n=e.b, m=e.a), distinct=False)
    smallest = both.group_by("n").agg(m=both.m.min())
    return scratch.keep(smallest.mutate(m=ibis.least(smallest.n, smallest.m)))


def _jump(scratch: Scratch, pointer: ir.Table) -> ir.Table:
    """Follow pointers until every node points at a root (a node pointing at itself).

    Checked before each jump rather than after it: a jump that would change nothing is
    never materialised (after hooking, most pointers already end at a root).
    """
    while True:
        target = pointer.view()
        beyond = pointer.join(target, pointer.m == target.n).filter(lambda t: t.m_right != t.m)
        if not scratch.rows(beyond.select("n")):
            return pointer
        joined = pointer.left_join(target, pointer.m == target.n)
        jumped = joined.select(n=joined.n, m=joined.m_right.coalesce(joined.m))
        nxt = scratch.keep(jumped)
        scratch.drop(pointer)
        pointer = nxt


def _contract(e: ir.Table, pointer: ir.Table) -> ir.Table:
    pa_ = pointer.view()
    pb = pointer.view()
    step = e.join(pa_, e.a == pa_.n).select(a=pa_.m, b=e.b)
    step = step.join(pb, step.b == pb.n).select(a=step.a, b=pb.m)
    return step.filter(step.a != step.b).distinct()


def _compose(labels: ir.Table, pointer: ir.Table) -> ir.Table:
    joined = labels.left_join(pointer, labels.label == pointer.n)
    return joined.select(node=joined.node, label=joined.m.coalesce(joined.label))
