"""``platform.privacy``: data-subject requests — export, erasure, the suppression list.

Example::

    platform.privacy.export("email:ann@x.com", requested_by="dpo@shop.example")
    # -> {"request": {...}, "archive": ".../privacy/exports/request-1.zip", "manifest": {...}}
    platform.privacy.erase("email:ann@x.com", requested_by="dpo@shop.example")
    # -> {"request": {..., "receipt": {"warehouse": {"events": 112, ...}, ...}}}
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from omnichannel.errors import NotFoundError
from omnichannel.opstore.audit import record as audit
from omnichannel.opstore.models import PrivacyRequest, utcnow
from omnichannel.privacy import requests as dsr
from omnichannel.privacy.erase_files import erase_files
from omnichannel.privacy.erase_stores import compact_warehouse, erase_opstore, erase_warehouse
from omnichannel.privacy.footprint import Footprint, find_person
from omnichannel.privacy.matching import Matcher
from omnichannel.privacy.suppression import ErasedIdentifiers, identifier_hash, privacy_key

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.privacy.keyring import Keyring

log = logging.getLogger(__name__)

EXPORT_DIR = Path("privacy") / "exports"
# Models whose training data loses the person's rows: retrain before the next use.
RETRAIN = ("recommendations", "propensity", "clv", "send_times", "linkage")


class PrivacyCapability:
    """Data-subject requests of one installation (docs/privacy.md)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._erased: ErasedIdentifiers | None = None

    @property
    def key(self) -> bytes:
        return privacy_key(self._platform.settings.home)

    @cached_property
    def keyring(self) -> Keyring:
        """The envelope keys personal data is sealed with (privacy/keyring.py)."""
        from omnichannel.privacy.keyring import Keyring

        return Keyring.of_home(self._platform.settings.home)

    def keys_status(self) -> dict[str, Any]:
        """Which data keys the keyring holds and which one seals new values."""
        return self.keyring.status()

    def rotate_keys(self, *, actor: str, master: bool = False) -> dict[str, Any]:
        """A new data key seals new values from now on; older values still open. With
        ``master``, the master key is replaced instead and the data keys re-wrapped."""
        if master:
            from omnichannel.privacy.keyring import Keyring

            status = Keyring.rotate_master(self._platform.settings.home)
            self.__dict__.pop("keyring", None)  # re-read with the new master key
        else:
            status = self.keyring.rotate()
        with self._platform.opstore.session() as session:
            audit(
                session,
                actor=actor,
                action="privacy.keys.rotate_master" if master else "privacy.keys.rotate",
                object_type="keyring",
                object_id=status["active"],
                details={
                    "data_keys": len(status["data_keys"]),
                    "master_fingerprint": status["master_fingerprint"],
                },
            )
        return status

    @property
    def erased(self) -> ErasedIdentifiers:
        """The suppression list (hashes of erased people's identifiers)."""
        if self._erased is None:
            self._erased = ErasedIdentifiers(self._platform.opstore, self.key)
        return self._erased

    def compact(self) -> str:
        """Rewrite the warehouse file without deleted rows' bytes (server stopped)."""
        return compact_warehouse(self._platform)

    def footprint(self, person: str) -> Footprint:
        """Everything that names ``person``: profile, records, identifiers, names."""
        return find_person(self._platform, person)

    # -- requests -----------------------------------------------------------------------

    def open_request(
        self,
        kind: str,
        person: str,
        *,
        requested_by: str,
        regulation: str | None = None,
        received_at: datetime | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """Log a request as received; its deadline follows from the regulation."""
        settings = self._platform.settings
        kind = dsr.check_kind(kind)
        regulation = dsr.check_regulation(regulation or settings.privacy_regulation)
        received = received_at or utcnow()
        due = dsr.due_date(
            received,
            regulation,
            gdpr_days=settings.privacy_gdpr_days,
            pipl_working_days=settings.privacy_pipl_working_days,
        )
        with self._platform.opstore.session() as session:
            request = PrivacyRequest(
                kind=kind,
                regulation=regulation,
                status="open",
                subject_hash=identifier_hash(self.key, "person", person.strip().lower()),
                requested_by=requested_by,
                received_at=received,
                due_at=due,
                note=dsr.seal_note(note, self.keyring),
            )
            session.add(request)
            session.flush()
            audit(
                session,
                actor=requested_by,
                action=f"privacy.{kind}.received",
                object_type="privacy_request",
                object_id=str(request.id),
                details={"regulation": regulation, "due_at": due.isoformat()},
            )
            return dsr.public(request, self.keyring)

    def requests(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """Every request, newest first, with its deadline (``overdue`` when past it)."""
        with self._platform.opstore.session() as session:
            rows = session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id.desc()))
            found = [dsr.public(r, self.keyring) for r in rows]
        return [r for r in found if status is None or r["status"] == status]

    def _request_for(
        self,
        kind: str,
        person: str,
        request_id: int | None,
        requested_by: str,
        regulation: str | None,
    ) -> int:
        if request_id is None:
            return int(
                self.open_request(kind, person, requested_by=requested_by, regulation=regulation)[
                    "id"
                ]
            )
        with self._platform.opstore.session() as session:
            request = session.get(PrivacyRequest, request_id)
            if request is None or request.kind != kind:
                raise NotFoundError(f"no open {kind} request {request_id} (omni privacy requests)")
            return request_id

    def _finish(
        self, request_id: int, *, status: str, receipt: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            request = session.get(PrivacyRequest, request_id)
            assert request is not None
            request.status = status
            request.completed_at = utcnow()
            request.receipt = receipt
            audit(
                session,
                actor=actor,
                action=f"privacy.{request.kind}",
                object_type="privacy_request",
                object_id=str(request_id),
                details={"status": status, "summary": receipt.get("summary", {})},
            )
            return dsr.public(request, self.keyring)

    # -- export -------------------------------------------------------------------------

    def export(
        self,
        person: str,
        *,
        requested_by: str,
        out: Path | None = None,
        request_id: int | None = None,
        regulation: str | None = None,
    ) -> dict[str, Any]:
        """Write everything held about ``person`` to a zip (JSON files and a manifest)."""
        from omnichannel.privacy.export import write_archive

        footprint = self.footprint(person)
        rid = self._request_for("export", person, request_id, requested_by, regulation)
        path = out or self._platform.settings.home / EXPORT_DIR / f"request-{rid}.zip"
        manifest = write_archive(self._platform, footprint, path)
        receipt = {
            "archive": str(path),
            "files": len(manifest["files"]),
            "summary": {f["name"]: f["rows"] for f in manifest["files"]},
        }
        request = self._finish(rid, status="done", receipt=receipt, actor=requested_by)
        return {"request": request, "archive": str(path), "manifest": manifest}

    # -- erasure ------------------------------------------------------------------------

    def _erase_bus(self, matcher: Matcher) -> dict[str, int] | None:
        """The bus's entries naming the person, scrubbed (None: no bus configured)."""
        settings = self._platform.settings
        if settings.bus_url is None:
            return None
        from omnichannel.ingest.bus_redis import RedisBus
        from omnichannel.privacy.erase_bus import erase_bus

        bus = RedisBus.from_settings(settings)
        try:
            return erase_bus(bus, matcher)
        finally:
            bus.close()

    def erase(
        self,
        person: str,
        *,
        requested_by: str,
        request_id: int | None = None,
        regulation: str | None = None,
    ) -> dict[str, Any]:
        """Erase ``person`` from both stores, the event log and every file of the home;
        their identifiers' hashes go on the suppression list first. Returns the receipt."""
        footprint = self.footprint(person)
        rid = self._request_for("erasure", person, request_id, requested_by, regulation)
        platform = self._platform
        try:
            suppressed = self.erased.add(footprint.identifiers, request_id=rid)
            matcher = Matcher(footprint)
            # The log first: records not yet loaded lose the person's events before the
            # loader can store them again.
            files = erase_files(platform.settings.home, matcher)
            bus = self._erase_bus(matcher)
            warehouse = erase_warehouse(platform, footprint)
            opstore = erase_opstore(platform, footprint)
            compaction = compact_warehouse(platform)
        except Exception as exc:
            self._finish(rid, status="failed", receipt={"error": str(exc)}, actor=requested_by)
            raise
        receipt = {
            "identifiers_suppressed": suppressed,
            "identifier_hashes": sorted(
                identifier_hash(self.key, t, v) for t, v in footprint.identifiers
            ),
            "warehouse": warehouse,
            "opstore": opstore,
            "files": files,
            "bus": bus,
            "warehouse_file": compaction,
            "models_to_retrain": list(RETRAIN),
            "summary": {
                "warehouse_rows": sum(warehouse.values()),
                "opstore_rows_deleted": sum(opstore["deleted"].values()),
                "opstore_rows_redacted": sum(opstore["redacted"].values()),
                "files_rewritten": len(files["rewritten"]),
                "files_removed": len(files["removed"]),
            },
        }
        receipt["model_versions_to_retrain"] = [
            f"{v['model']} v{v['version']}"
            for v in platform.models.list()
            if v["status"] in ("active", "trained")
        ]
        request = self._finish(rid, status="done", receipt=receipt, actor=requested_by)
        if "lookup" in platform.__dict__:
            platform.lookup.close()
            del platform.__dict__["lookup"]  # its index still lists the person
        log.info("privacy: erasure request %d done: %s", rid, receipt["summary"])
        return {"request": request, "receipt": receipt}
