"""Comments on a segment, journey or report, as the ``_comments.html`` partial shows them:
the list and the form, loaded and posted in place with htmx (a page of their own
without JavaScript). The library (``platform.collaboration``) checks, audits and
notifies the users @mentioned."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.collaboration.service import subject_link
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.web.render import csv_response, form_of, render, wants_csv

router = APIRouter(include_in_schema=False)

COMMENT_COLUMNS = ["id", "created_at", "author", "body", "mentions", "edited_at"]


def _context(
    services: ServicesDep, subject: str, *, error: str | None = None, draft: str = ""
) -> dict[str, Any]:
    return {
        "subject": subject,
        "comments": services.platform.collaboration.comments(subject),
        "comment_error": error,
        "draft": draft,
        "back": subject_link(subject),
    }


def _answer(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx answers: a refused comment comes back as the form with its
        # error (and the text kept), which is what the person needs to see.
        return render(request, "comments_fragment.html", context)
    return render(request, "comments_page.html", context, status=status)


@router.get("/comments/{kind}/{ident}")
def comments_fragment(request: Request, kind: str, ident: str, services: ServicesDep) -> Response:
    subject = f"{kind}:{ident}"
    try:
        context = _context(services, subject)
    except ValidationError as exc:
        return render(request, "error.html", {"error": str(exc)}, status=400)
    if wants_csv(request):
        return csv_response(context["comments"], COMMENT_COLUMNS, f"comments-{kind}-{ident}")
    return _answer(request, context)


@router.post("/comments/{kind}/{ident}")
async def add_comment(request: Request, kind: str, ident: str, services: ServicesDep) -> Response:
    subject = f"{kind}:{ident}"
    form = await form_of(request)
    body = form.get("body", "")
    author = request.state.principal.actor
    collaboration = services.platform.collaboration
    try:
        email = form.get("email") == "1"
        added = await run_in_threadpool(
            lambda: collaboration.add(subject, body, author=author, email=email)
        )
    except (ValidationError, NotFoundError) as exc:
        message = str(exc)
        context = await run_in_threadpool(
            lambda: _context(services, subject, error=message, draft=body)
        )
        return _answer(request, context, status=404 if isinstance(exc, NotFoundError) else 400)
    if request.headers.get("hx-request"):
        context = await run_in_threadpool(lambda: _context(services, subject))
        return _answer(request, context)
    return RedirectResponse(f"{subject_link(subject)}#comment-{added['id']}", status_code=303)
