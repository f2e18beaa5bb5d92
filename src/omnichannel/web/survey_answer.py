"""The hosted answer page of a survey link: ``/s/<token>``, public, no sign-in.

Mounted beside the dashboard on the same server but outside its sign-in gate
(``api/app.py``: ``public("signed survey links")``): the signed token is the only
credential, and it names one invitation, so one person's link answers for that person
only. Everything goes through ``platform.surveys.open`` and ``.answer``, as the in-app
API does.

- **Phones first**: one column, large touch targets, ``<meta viewport>``; English and
  Chinese (``?lang=``, the cookie, ``Accept-Language``) for the page's words and for the
  survey's own texts.
- **Accessible**: each question is a ``<fieldset>`` with its ``<legend>``, every input
  has its ``<label>``, native radios and checkboxes (keyboard and screen readers work
  without scripts); errors are announced (``role="alert"``) and name the question.
- **Conditional questions** appear as the answers that show them are given: a few lines
  of script toggle them at once; without a script, *Save* re-renders the page with them.
- **CSRF and replays**: the form posts back a token derived from the link with the
  installation's secret (``surveys/links.py``), which a page on another site cannot
  read; a completed link answers nothing more (409 page).

The app posts JSON to the same URL: ``{"answers": {...}, "complete": true,
"form_token": ...}`` (the token from ``POST /api/surveys/{name}/prompt``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.channels.tracking import InvalidLinkError
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.surveys.answers import AlreadyAnsweredError
from omnichannel.surveys.definition import localised
from omnichannel.web import i18n
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import render

router = APIRouter(include_in_schema=False)
FORM_FIELD = "form_token"


def _emit(services: Any) -> Any:
    from omnichannel.api.ingest_calls import emitter

    return emitter(services, origin="survey /s")


def _questions(page: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    definition = page["definition"]
    answers = page["answers"]
    visible = set(page["visible"])
    out = []
    for q in definition.questions:
        given = answers.get(q.id)
        chosen = (
            {str(v) for v in given}
            if isinstance(given, list)
            else {str(given)}
            if given is not None
            else set()
        )
        choices: list[dict[str, Any]] = []
        if q.type == "scale":
            assert q.min is not None and q.max is not None
            choices = [{"value": str(v), "label": str(v)} for v in range(q.min, q.max + 1)]
        elif q.options:
            choices = [{"value": o.value, "label": localised(o.label, lang)} for o in q.options]
        out.append(
            {
                "id": q.id,
                "type": q.type,
                "text": localised(q.text, lang),
                "required": q.required,
                "choices": choices,
                "chosen": chosen,
                "given": given if isinstance(given, str) else "",
                "visible": q.id in visible,
                "show_if": q.show_if.model_dump(by_alias=True, exclude_none=True)
                if q.show_if
                else None,
                "min_label": localised(q.min_label, lang),
                "max_label": localised(q.max_label, lang),
                "max_length": q.max_length,
            }
        )
    return out


def _page(
    request: Request,
    token: str,
    page: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
    done: bool = False,
) -> HTMLResponse:
    lang = i18n.pick(request)
    return render(
        request,
        "survey_answer.html",
        {
            "token": token,
            "page": page,
            "questions": _questions(page, lang),
            "error": error,
            "done": done or page["completed"],
            "form_field": FORM_FIELD,
            "title": page["title"],
        },
        status=status,
    )


def _gone(request: Request, message: str, status: int) -> HTMLResponse:
    return render(
        request,
        "survey_answer.html",
        {"page": None, "message": message, "title": _("Survey")},
        status=status,
    )


@router.get("/s/{token}")
async def survey_page(token: str, request: Request, services: ServicesDep) -> Response:
    lang = i18n.pick(request)
    try:
        page = await run_in_threadpool(services.platform.surveys.open, token, lang=lang)
    except (InvalidLinkError, NotFoundError):
        return _gone(request, _("This survey link is not valid."), 404)
    return _page(request, token, page)


@router.post("/s/{token}")
async def survey_answer(token: str, request: Request, services: ServicesDep) -> Response:
    lang = i18n.pick(request)
    surveys = services.platform.surveys
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    raw = await request.body()
    try:
        if wants_json:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValidationError("body", type(body).__name__, "a JSON object with answers")
            answers = body.get("answers") or {}
            if not isinstance(answers, dict):
                raise ValidationError("answers", answers, "an object of question id to answer")
            complete = bool(body.get("complete"))
            form_token = body.get(FORM_FIELD)
        else:
            answers, complete, form_token = _form(raw)
        if not surveys.links.check_form(token, form_token):
            raise ValidationError(
                FORM_FIELD, form_token, "the token of the page this link opened (reload it)"
            )
        result = await run_in_threadpool(
            lambda: surveys.answer(
                token, answers, complete=complete, lang=lang, emit=_emit(services)
            )
        )
    except (InvalidLinkError, NotFoundError) as exc:
        if wants_json:
            return JSONResponse({"detail": {"message": str(exc)}}, status_code=404)
        return _gone(request, _("This survey link is not valid."), 404)
    except AlreadyAnsweredError as exc:
        if wants_json:
            return JSONResponse({"detail": {"message": str(exc)}}, status_code=409)
        return _gone(request, _("This survey was answered already: thank you."), 409)
    except (ValidationError, ValueError) as exc:
        if wants_json:
            detail: dict[str, Any] = {"message": str(exc)}
            if isinstance(exc, ValidationError):
                detail.update(field=exc.field, value=exc.value)
            return JSONResponse({"detail": jsonable_detail(detail)}, status_code=400)
        page = await run_in_threadpool(surveys.open, token, lang=lang)
        return _page(request, token, page, error=_message(exc, page, lang), status=400)
    if wants_json:
        from omnichannel.jsonable import jsonable

        return JSONResponse(jsonable(result))
    page = await run_in_threadpool(surveys.open, token, lang=lang)
    return _page(request, token, page, done=complete)


def _form(raw: bytes) -> tuple[dict[str, Any], bool, str | None]:
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    answers: dict[str, Any] = {}
    for key, values in fields.items():
        if key.startswith("q_"):
            qid = key[2:]
            if qid.endswith("[]"):
                answers[qid[:-2]] = [v for v in values if v]
            else:
                answers[qid] = values[0]
    complete = fields.get("action", ["save"])[0] == "submit"
    return answers, complete, fields.get(FORM_FIELD, [None])[0]


def _message(exc: Exception, page: dict[str, Any], lang: str) -> str:
    if isinstance(exc, ValidationError) and exc.field.startswith("answers."):
        question = page["definition"].question(exc.field.split(".", 1)[1])
        name = localised(question.text, lang) if question is not None else exc.field
        if exc.value is None:
            return _("Please answer: %(question)s") % {"question": name}
        return _("Please check your answer to: %(question)s") % {"question": name}
    if isinstance(exc, ValidationError) and exc.field == FORM_FIELD:
        return _("This page is out of date: reload it and answer again.")
    return str(exc)


def jsonable_detail(detail: dict[str, Any]) -> dict[str, Any]:
    from omnichannel.jsonable import jsonable

    return dict(jsonable(detail))
