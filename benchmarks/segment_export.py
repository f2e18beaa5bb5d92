"""Audience export: a Google Customer Match file of N members, against a hand-written baseline.

``segments.export.export_members`` (read contacts and names through Ibis, read consent,
normalise each value as Google documents, SHA-256, write the CSV) is timed side by side,
in the same process, with a baseline that does the least such a file needs: one DuckDB
SQL query for each member's first email, phone and newest names, then ``hashlib`` on
lower-cased values and ``csv.writer``. The ratio is what our normalisation, consent and
several-contacts handling cost over that floor.

The inputs (profiles with an email and a phone each, a CRM record with names and an
address, 5 % of people refusing ads) are made with DuckDB SQL generators in a temporary
warehouse.

Run: ``python benchmarks/segment_export.py [--members 200000 --rounds 3]``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa

from omnichannel.segments.export import export_members
from omnichannel.warehouse import Warehouse


def build(wh: Warehouse, n: int) -> pa.Table:
    """N profiles with contacts and a record each; returns the consent rows (5 % refuse ads)."""
    con = wh.con.con  # type: ignore[attr-defined]
    con.execute(
        f"""
        INSERT INTO profile_identifiers (profile_id, id_type, id_value, status, records,
                                         first_seen, last_seen)
        SELECT 'p_' || i, 'email', 'Person.' || i || '@gmail.com', 'linked', 1,
               TIMESTAMP '2026-01-01', TIMESTAMP '2026-06-01' FROM range({n}) t(i)
        UNION ALL
        SELECT 'p_' || i, 'phone', '+86139' || lpad(CAST(i AS VARCHAR), 8, '0'), 'linked', 1,
               TIMESTAMP '2026-01-01', TIMESTAMP '2026-06-01' FROM range({n}) t(i);
        INSERT INTO record_profiles (source, record_id, profile_id)
        SELECT 'crm', 'c' || i, 'p_' || i FROM range({n}) t(i);
        INSERT INTO customer_records (source, record_id, first_name, last_name, city, region,
                                      postcode, country, updated_at, loaded_at)
        SELECT 'crm', 'c' || i, ' Ann ' || (i % 97), 'Li', 'Shanghai', 'Shanghai',
               '2000' || (i % 10), 'CN', TIMESTAMP '2026-05-01', TIMESTAMP '2026-05-01'
        FROM range({n}) t(i);
        INSERT INTO profiles (profile_id) SELECT 'p_' || i FROM range({n}) t(i);
        """
    )
    refusing = [f"p_{i}" for i in range(0, n, 20)]
    return pa.table(
        {
            "subject_type": ["profile"] * len(refusing),
            "subject_value": refusing,
            "channel": ["ads"] * len(refusing),
            "status": ["denied"] * len(refusing),
            "updated_at": pa.array([None] * len(refusing), pa.timestamp("us")),
        }
    )


BASELINE_SQL = """
WITH e AS (SELECT profile_id, min(id_value) AS email FROM profile_identifiers
           WHERE id_type = 'email' AND status = 'linked' GROUP BY 1),
     p AS (SELECT profile_id, min(id_value) AS phone FROM profile_identifiers
           WHERE id_type = 'phone' AND status = 'linked' GROUP BY 1),
     r AS (SELECT rp.profile_id, arg_max(cr.first_name, cr.updated_at) AS first_name,
                  arg_max(cr.last_name, cr.updated_at) AS last_name,
                  arg_max(cr.country, cr.updated_at) AS country,
                  arg_max(cr.postcode, cr.updated_at) AS postcode
           FROM record_profiles rp JOIN customer_records cr USING (source, record_id)
           GROUP BY 1)
SELECT m.profile_id, e.email, p.phone, r.first_name, r.last_name, r.country, r.postcode
FROM profiles m LEFT JOIN e USING (profile_id) LEFT JOIN p USING (profile_id)
LEFT JOIN r USING (profile_id) ORDER BY 1
"""


def baseline(wh: Warehouse, refused: set[str]) -> int:
    rows = wh.con.con.execute(BASELINE_SQL).fetchall()  # type: ignore[attr-defined]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Email", "Phone", "First Name", "Last Name", "Country", "Zip"])

    def h(v: str | None) -> str:
        return hashlib.sha256(v.strip().lower().encode()).hexdigest() if v else ""

    written = 0
    for profile_id, email, phone, first, last, country, postcode in rows:
        if profile_id in refused:
            continue
        writer.writerow([h(email), h(phone), h(first), h(last), country or "", postcode or ""])
        written += 1
    return written


def ours(wh: Warehouse, consents: pa.Table) -> int:
    out = io.StringIO()
    result = export_members(
        wh, wh.table("profiles").select("profile_id"), fmt="google", out=out, consents=consents
    )
    return result.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Warehouse.open(f"duckdb:///{tmp}/b.duckdb") as wh:
        consents = build(wh, args.members)
        refused = set(consents.column("subject_value").to_pylist())
        times: dict[str, list[float]] = {"ours": [], "baseline": []}
        counts: dict[str, int] = {}
        for _ in range(args.rounds):  # interleaved, so load changes hit both alike
            for name, run in (
                ("baseline", lambda: baseline(wh, refused)),
                ("ours", lambda: ours(wh, consents)),
            ):
                started = time.perf_counter()
                counts[name] = run()
                times[name].append(time.perf_counter() - started)
        assert counts["ours"] == counts["baseline"], counts
        ours_s, base_s = (statistics.median(times[k]) for k in ("ours", "baseline"))
        print(f"members: {args.members:,}; rows written: {counts['ours']:,} (5 % refused ads)")
        print(f"export_members google: {ours_s:.2f} s ({counts['ours'] / ours_s:,.0f} rows/s)")
        print(f"baseline (one SQL query + hashlib): {base_s:.2f} s")
        print(f"ratio: {ours_s / base_s:.2f}x (median of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
