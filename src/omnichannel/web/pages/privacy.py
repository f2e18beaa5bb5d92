"""Privacy (``/privacy``): data-subject requests with their legal deadline and status, one
person's consent history, the erasure receipts, and the files exchanged with partners.

Everything comes from ``platform.privacy``, ``platform.consent`` and
``platform.partners``, what ``omni privacy|consent|partners`` and ``/api/privacy``,
``/api/consent``, ``/api/partners`` call. The page reads (``privacy:read``, the access
layer's area for ``/privacy``) and changes nothing; every table has its CSV
(``?format=csv&table=requests|consent|receipts|partners``). Contact details are masked
for roles that may not read them, as on the Customer 360 page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import OmniError
from omnichannel.privacy.masking import mask_data
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.pages.people import masked_for
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

REQUEST_COLUMNS = ["id", "kind", "regulation", "status", "received_at", "due_at", "days_left"]
REQUEST_COLUMNS += ["completed_at", "requested_by", "note"]
CONSENT_COLUMNS = ["at", "subject", "purpose", "channel", "status", "lawful_basis", "source"]
CONSENT_COLUMNS += ["actor", "text_version"]
RECEIPT_COLUMNS = ["request", "completed_at", "warehouse_rows", "opstore_rows_deleted"]
RECEIPT_COLUMNS += ["opstore_rows_redacted", "files_rewritten", "files_removed"]
RECEIPT_COLUMNS += ["identifiers_suppressed", "warehouse_file", "models_to_retrain"]
PARTNER_COLUMNS = ["id", "partner", "direction", "audience", "rows", "created_at"]
PARTNER_COLUMNS += ["expires_at", "expired", "created_by"]
STATUSES = ("open", "overdue", "done", "failed")


def _words_in_templates() -> None:
    """Statuses and kinds as the library names them, for ``pybabel extract``."""
    _("open"), _("overdue"), _("done"), _("failed"), _("export"), _("erasure")
    _("sent"), _("received"), _("granted"), _("denied"), _("withdrawn"), _("unsubscribed")


def _receipts(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per finished erasure: what its receipt counted."""
    rows = []
    for r in requests:
        receipt = r.get("receipt") or {}
        if r["kind"] != "erasure" or r["status"] != "done" or not receipt:
            continue
        models = receipt.get("model_versions_to_retrain") or receipt.get("models_to_retrain", [])
        rows.append(
            {
                "request": r["id"],
                "completed_at": r["completed_at"],
                **receipt.get("summary", {}),
                "identifiers_suppressed": receipt.get("identifiers_suppressed", 0),
                "warehouse_file": receipt.get("warehouse_file", ""),
                "models_to_retrain": ", ".join(models),
            }
        )
    return rows


def _history(
    request: Request, platform: Any, person: str
) -> tuple[list[dict[str, Any]], str | None]:
    try:
        rows: list[dict[str, Any]] = platform.consent.history(person)
    except OmniError as exc:
        with speaking(pick(request)):
            return [], str(exc)
    return (mask_data(rows) if masked_for(request) else rows), None


@router.get("/privacy")
async def privacy_page(request: Request, services: ServicesDep) -> Response:
    platform = services.platform
    q = request.query_params
    status = q.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    person = (q.get("person") or "").strip()
    requests = await run_in_threadpool(platform.privacy.requests)
    shown = [r for r in requests if status is None or r["status"] == status]
    receipts = _receipts(requests)
    partners = await run_in_threadpool(platform.partners.exchanges)
    history, error = (
        await run_in_threadpool(_history, request, platform, person) if person else ([], None)
    )
    if wants_csv(request):
        table = table_of(request, "requests")
        if table == "consent":
            return csv_response(history, CONSENT_COLUMNS, "consent-history")
        if table == "receipts":
            return csv_response(receipts, RECEIPT_COLUMNS, "erasure-receipts")
        if table == "partners":
            return csv_response(partners, PARTNER_COLUMNS, "partner-exchanges")
        return csv_response(shown, REQUEST_COLUMNS, "privacy-requests")
    counts = {s: sum(r["status"] == s for r in requests) for s in STATUSES}
    return render(
        request,
        "privacy.html",
        {
            "title": _("Privacy"),
            "requests": shown,
            "status": status or "",
            "statuses": STATUSES,
            "counts": counts,
            "person": person,
            "history": history,
            "error": error,
            "receipts": receipts,
            "partners": partners,
        },
    )
