"""The signed-in user's own page: their notifications (mentions of them in comments),
and the bell in the header that counts the unread ones."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.collaboration.service import subject_link
from omnichannel.web.render import csv_response, render, wants_csv

router = APIRouter(include_in_schema=False)

NOTIFICATION_COLUMNS = ["id", "created_at", "kind", "actor", "subject", "text", "read_at"]


def _me(request: Request) -> str:
    return str(request.state.principal.actor)


@router.get("/me/notifications")
def notifications_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.collaboration.notifications(_me(request), limit=200)
    if wants_csv(request):
        return csv_response(rows, NOTIFICATION_COLUMNS, "notifications")
    for row in rows:
        row["link"] = subject_link(row["subject"]) + f"#comment-{row['comment_id']}"
    unread = sum(1 for r in rows if r["read_at"] is None)
    return render(request, "notifications.html", {"notifications": rows, "unread": unread})


@router.get("/me/notifications/bell")
def bell(request: Request, services: ServicesDep) -> Response:
    """The header's bell (htmx loads it into every page): the unread count."""
    count = services.platform.collaboration.unread_count(_me(request))
    return render(request, "bell.html", {"unread": count})


@router.post("/me/notifications/read")
async def mark_read(request: Request, services: ServicesDep) -> Response:
    me = _me(request)
    await run_in_threadpool(services.platform.collaboration.mark_read, me)
    return RedirectResponse("/me/notifications", status_code=303)
