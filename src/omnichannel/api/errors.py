"""Errors to HTTP answers, in one place: a 400 that names the field, never a bare 500.

Validation errors on every route (a query parameter that is not a number, a body that
is not JSON, one of our ``ValidationError``) answer 400 with the body the Profile API
documents, ``{"detail": {"field", "value", "message", "errors": [...]}}``, instead of
pydantic's 422 list. The collector routes answer their own Segment-style bodies.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from omnichannel.errors import (
    ConflictError,
    NotFoundError,
    OmniError,
    SchemaVersionError,
    ValidationError,
    WarehouseError,
)
from omnichannel.opstore import OpStoreError

log = logging.getLogger(__name__)


class Problem(BaseModel):
    field: str = Field(description="The parameter or body field, e.g. limit, name, identifier.")
    value: str = Field(description="The value received, as JSON, shortened; (missing) if absent.")
    reason: str = Field(description="What would be accepted.")


class ProblemDetail(BaseModel):
    field: str
    value: str | None = None
    reason: str | None = None
    message: str = Field(description="One line: field=value is not accepted: expected ...")
    errors: list[Problem] = Field(default_factory=list, description="Every problem found.")


class ErrorBody(BaseModel):
    """The body of every 400 and 401 outside the collector (which answers Segment's shape)."""

    detail: ProblemDetail


def _shown(value: Any, limit: int = 200) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        text = f"({type(value).__name__})"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(location: Sequence[Any]) -> str:
    # ("query", "limit") -> "limit"; ("body", "kind") -> "kind"; ("body",) -> "(body)".
    parts = [str(part) for part in location[1:]] if len(location) > 1 else []
    return ".".join(parts) or f"({location[0] if location else 'request'})"


def _reason(error: Any) -> str:
    # Pydantic says "Input should be a valid integer"; we say what is expected, as elsewhere.
    message = str(error.get("msg", "a valid value"))
    if error.get("type") == "missing":
        return "expected a value (this field is required)"
    if message.startswith("Input should be "):
        return "expected " + message.removeprefix("Input should be ")
    return f"expected a valid value ({message})"


def validation_body(errors: Sequence[Any]) -> dict[str, Any]:
    """Pydantic's error list as our 400 body: the first problem in full, then each one."""
    listed = []
    for error in errors:
        field = _field(error.get("loc", ()))
        value = "(missing)" if error.get("type") == "missing" else _shown(error.get("input"))
        listed.append({"field": field, "value": value, "reason": _reason(error)})
    first = listed[0] if listed else {"field": "(request)", "value": "", "reason": "invalid"}
    message = f"{first['field']}={first['value']} is not accepted: {first['reason']}"
    return {"detail": {**first, "message": message, "errors": listed}}


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(validation_body(exc.errors()), status_code=400)


async def _our_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    detail = {"field": exc.field, "value": _shown(exc.value), "message": str(exc)}
    return JSONResponse({"detail": detail}, status_code=400)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    # The store cannot be reached or read right now: retryable, and not the caller's fault.
    message = f"the service cannot answer now, retry later: {exc}"
    return JSONResponse({"detail": {"message": message}}, status_code=503)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    reference = uuid.uuid4().hex[:12]
    log.error(
        "unexpected error on %s %s (reference %s)",
        request.method,
        request.url.path,
        reference,
        exc_info=exc,
    )
    message = f"internal error; the server log has the details under reference {reference}"
    return JSONResponse({"detail": {"message": message}}, status_code=500)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": {"message": str(exc)}}, status_code=409)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": {"message": str(exc)}}, status_code=404)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    # Any other error we raise on purpose: the request cannot be done as asked, and the
    # message (one line, as the CLI prints it) says why.
    return JSONResponse({"detail": {"message": str(exc)}}, status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    """Every error type to its HTTP status, here and nowhere else."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ValidationError, _our_validation)
    for unavailable in (WarehouseError, OpStoreError, SchemaVersionError):
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(OmniError, _refused)
    app.add_exception_handler(Exception, _unexpected)


def _answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def install_openapi(app: FastAPI) -> None:
    """The contract says what the handlers above answer: 400 with ``ErrorBody``, not 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["ErrorBody"] = body
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for item in spec["paths"].values():
            for operation in item.values():
                answers = operation.get("responses", {})
                if answers.pop("422", None) is not None:
                    answers.setdefault(
                        "400", _answer("A parameter or field is not accepted (which, and why).")
                    )
                if operation.get("security"):
                    answers.setdefault("401", _answer("No valid admin token (Bearer)."))
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
