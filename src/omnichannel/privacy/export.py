"""Export of everything held about one person: a zip of JSON files with a manifest.

The archive has one file per store table that holds rows about the person
(``warehouse/<table>.json``, ``opstore/<table>.json``: events, orders, deliveries,
customer records, profiles, consents, the outbox, comments naming them...), the
footprint itself (``identities.json``) and one file per **exporter** another capability
registered: ``register_exporter("surveys", answers_of)`` adds ``surveys.json`` to every
export from then on. ``manifest.json`` lists each file with its row count and SHA-256.

Example::

    register_exporter("loyalty", lambda platform, footprint: [{"points": 120}])
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, or_, select

from omnichannel.jsonable import jsonable
from omnichannel.privacy.erase_stores import (
    SKIPPED_TABLES,
    opstore_conditions,
    warehouse_predicate,
)
from omnichannel.privacy.footprint import Footprint
from omnichannel.privacy.matching import Matcher
from omnichannel.privacy.sealed_rows import matching_rows, sealed_tables

if TYPE_CHECKING:
    from omnichannel.platform import Platform

Exporter = Callable[["Platform", Footprint], Any]
EXPORTERS: dict[str, Exporter] = {}
FORMAT = "omnichannel-subject-export/1"


def register_exporter(name: str, exporter: Exporter) -> None:
    """Add ``<name>.json`` (what ``exporter(platform, footprint)`` returns) to exports."""
    EXPORTERS[name] = exporter


def _consents(platform: Platform, footprint: Footprint) -> Any:
    from omnichannel.privacy import ledger

    with platform.opstore.session() as session:
        sealer = platform.privacy.keyring
        return [ledger.public(r, sealer) for r in ledger.history(session, footprint.subjects)]


register_exporter("consent_history", _consents)


def warehouse_rows(platform: Platform, footprint: Footprint) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    with platform.warehouse.reader() as wh:
        for name in sorted(wh.con.list_tables()):
            predicate = warehouse_predicate(wh, name, footprint)
            if predicate is None:
                continue
            result = wh.con.raw_sql(f'SELECT * FROM "{name}" WHERE {predicate}')
            columns = [d[0] for d in result.description]
            rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
            if rows:
                found[name] = rows
    return found


def opstore_rows(platform: Platform, footprint: Footprint) -> dict[str, list[dict[str, Any]]]:
    metadata = MetaData()
    metadata.reflect(platform.opstore.engine)
    found: dict[str, list[dict[str, Any]]] = {}
    with platform.opstore.session() as session:
        for table in metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            if table.name in sealed_tables():  # opened: the archive is for the person
                ring, matcher = platform.privacy.keyring, Matcher(footprint, names=True)
                matches = matching_rows(session, table, footprint, ring, matcher)
                opened = [m.opened for m in matches]
                if opened:
                    found[table.name] = opened
                continue
            equal, contains = opstore_conditions(table, footprint)
            if not equal and not contains:
                continue
            rows = session.execute(select(table).where(or_(*equal, *contains))).mappings().all()
            if rows:
                found[table.name] = [dict(r) for r in rows]
    return found


def write_archive(platform: Platform, footprint: Footprint, path: Path) -> dict[str, Any]:
    """Write the person's archive to ``path`` (mode 0600); returns the manifest."""
    files: dict[str, Any] = {"identities.json": footprint.public()}
    for name, rows in warehouse_rows(platform, footprint).items():
        files[f"warehouse/{name}.json"] = rows
    for name, rows in opstore_rows(platform, footprint).items():
        files[f"opstore/{name}.json"] = rows
    for name, exporter in sorted(EXPORTERS.items()):
        files[f"{name}.json"] = exporter(platform, footprint)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": datetime.now(UTC).isoformat(),
        "person": footprint.person,
        "files": [],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            data = json.dumps(jsonable(content), ensure_ascii=False, indent=1, default=str)
            encoded = data.encode("utf-8")
            archive.writestr(name, encoded)
            count = len(content) if isinstance(content, list) else 1
            manifest["files"].append(
                {"name": name, "rows": count, "sha256": hashlib.sha256(encoded).hexdigest()}
            )
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
    return manifest
