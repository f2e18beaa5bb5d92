"""The collector: Segment's HTTP Tracking API, so analytics.js, analytics-python and
RudderStack SDKs send here unchanged.

A request is answered only after what it carried (accepted calls and refused ones alike)
is fsync'd in the event log; the loader moves it into the warehouse afterwards. See
docs/collector.md for limits, responses and the durability design.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from omnichannel.access.ratelimit import RateLimited
from omnichannel.api.services import Services
from omnichannel.ingest.deadletter import DeadLetter
from omnichannel.ingest.loader import encode_record
from omnichannel.ingest.runtime import IngestRuntime
from omnichannel.ingest.segment import EVENT_TYPES, Parsed, Refusal, Refused, parse_calls, show
from omnichannel.ingest.storable import Cut, loads_bounded
from omnichannel.ingest.unauthorized import INVALID_KEY, MISSING_KEY
from omnichannel.privacy.collector_guard import CollectorGuard, collector_guard

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["collector"])

# Read at most this much of a body before answering 413, so a huge upload costs little.
READ_CAP = 4 * 1024 * 1024


class RequestRefused(Exception):
    """The request as a whole cannot be used (status, field, value, reason)."""

    def __init__(
        self, status: int, code: str, field: str, value: object, accepted: str, *, key: str = ""
    ) -> None:
        self.status = status
        # For a request without a valid write key: MISSING_KEY or INVALID_KEY.
        self.key = key
        self.code = code
        self.field = field
        self.value = value if isinstance(value, str) else show(value)
        self.reason = accepted if accepted.startswith("expected ") else f"expected {accepted}"
        super().__init__(f"{field}={self.value} is not accepted: {self.reason}")


def _answer(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def _read(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > READ_CAP:
            break
    return b"".join(chunks)


def _gunzip(raw: bytes, limit: int) -> bytes:
    # Bounded, so a small gzip bomb cannot expand into gigabytes here.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise RequestRefused(
            400, "invalid_gzip", "Content-Encoding", "gzip", f"a body that is valid gzip ({exc})"
        ) from None
    return data


def _header_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        user, _, _password = base64.b64decode(credentials).decode("utf-8").partition(":")
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 inside
        return None
    return user or None


def _limit_for(path_type: str | None, runtime: IngestRuntime) -> int:
    limits = runtime.limits
    return limits.max_event_bytes if path_type is not None else limits.max_batch_bytes


def _decode_body(
    encoding: str, raw: bytes, path_type: str | None, runtime: IngestRuntime
) -> tuple[bytes, object, Cut]:
    limit = _limit_for(path_type, runtime)
    data = raw
    if encoding.lower() == "gzip":
        data = _gunzip(raw, limit)
    if len(data) > limit:
        what = "a call" if path_type is not None else "a batch"
        status = 400 if path_type is not None else 413
        shown = f"{len(data)} bytes" if len(data) <= READ_CAP else f"over {READ_CAP} bytes"
        raise RequestRefused(
            status,
            "too_large",
            "(body)",
            shown,
            f"at most {limit // 1024} KB for {what}; split it into smaller requests",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestRefused(
            400,
            "invalid_utf8",
            "(body)",
            f"byte 0x{data[exc.start]:02x} at position {exc.start}",
            "UTF-8 encoded JSON",
        ) from None
    try:
        # Deep nesting and giant integers do not fail the parse: each call carrying one
        # is refused on its own by parse_calls, so the calls beside it are kept.
        body, cut = loads_bounded(text, cut_depth=runtime.limits.max_depth + 2)
    except json.JSONDecodeError as exc:
        raise RequestRefused(
            400,
            "invalid_json",
            "(body)",
            f"line {exc.lineno} column {exc.colno}: {exc.msg}",
            "a valid JSON document",
        ) from None
    return data, body, cut


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def _durable(runtime: IngestRuntime, payload: bytes) -> None:
    await asyncio.wrap_future(runtime.log.submit(payload))


def _letter(
    source: str,
    origin: str,
    payload: bytes | str,
    refusal: Refusal | RequestRefused,
    received_at: datetime,
) -> DeadLetter:
    where = (
        ""
        if not isinstance(refusal, Refusal) or refusal.index is None
        else f" (batch index {refusal.index})"
    )
    return DeadLetter(
        source=source,
        kind="event",
        origin=origin + where,
        payload=payload,
        field=refusal.field,
        value=refusal.value,
        reason=refusal.reason,
        received_at=received_at,
        dead_letter_id=uuid.uuid4().hex,
    )


@dataclass
class _Prepared:
    """A request's body checked, off the event loop: the log record to make durable
    (None: nothing to keep), and either the parsed calls or why the request is refused."""

    record: bytes | None
    parsed: Parsed | None = None
    source: str = ""
    refused: RequestRefused | None = None


async def collect(request: Request, path_type: str | None) -> JSONResponse:
    """Shared body of every collector route (``path_type`` None for batch/import).

    The event loop only reads the body and answers; the body's checks and its log record
    (a few ms of Python for 100 calls) run in one worker-thread call, so a lookup's
    answer beside the collector waits for the loop at most one hand-off per batch.
    """
    services: Services = request.app.state.services
    runtime = services.ingest
    if runtime is None:
        return _answer(
            503,
            {
                "success": False,
                "code": "unavailable",
                "message": "the collector is not running (server starting?)",
            },
        )
    received_at = _now()
    route = request.scope["route"].path
    origin = f"collector {request.url.path}"
    header_key = _header_key(request)
    raw = await _read(request)
    prepared = await run_in_threadpool(
        _prepare_guarded,
        collector_guard(services),
        runtime,
        raw,
        request.headers.get("content-encoding", ""),
        path_type,
        header_key,
        origin,
        received_at,
    )
    if prepared.refused is not None:
        if prepared.record is not None:
            await _durable(runtime, prepared.record)
        services.metrics.collector_request_refused(route, prepared.refused.code)
        refused_answer = _refused_answer(prepared.refused)
        if isinstance(prepared.refused, _OverRate):
            refused_answer.headers["Retry-After"] = str(prepared.refused.retry_after)
        return refused_answer
    assert prepared.parsed is not None and prepared.record is not None
    answer = await _store(runtime, prepared.record, prepared.parsed)
    services.metrics.collector_answered(
        route, answer.status_code, len(prepared.parsed.rows), len(prepared.parsed.refusals)
    )
    return answer


def _prepare(
    runtime: IngestRuntime,
    raw: bytes,
    encoding: str,
    path_type: str | None,
    header_key: str | None,
    origin: str,
    received_at: datetime,
) -> _Prepared:
    """Key, decode, check and encode a request's body (on a worker thread)."""
    source = runtime.keys.source_of(header_key) if header_key else None
    payload: bytes = raw
    try:
        payload, body, cut = _decode_body(encoding, raw, path_type, runtime)
        key = header_key or (body.get("writeKey") if isinstance(body, dict) else None)
        if source is None and isinstance(key, str) and _plausible_key(key):
            source = runtime.keys.source_of(key)
        if source is None:
            raise _unauthorized(key)
        try:
            parsed = parse_calls(
                body,
                source=source,
                received_at=received_at,
                limits=runtime.limits,
                path_type=path_type,
                body_bytes=len(payload),
                cut=cut,
            )
        except Refused as exc:
            raise RequestRefused(400, "invalid_request", exc.field, exc.value, exc.reason) from None
    except RequestRefused as refused:
        if source is None and not refused.key:
            # Unusable before any key was found (too large, not JSON): no source vouches.
            refused.key = INVALID_KEY if header_key else MISSING_KEY
        record = _refused_record(runtime, refused, source, origin, payload, raw, received_at)
        return _Prepared(record, refused=refused)
    letters = [_letter(source, origin, r.payload, r, received_at) for r in parsed.refusals]
    record = encode_record(source=source, origin=origin, events=parsed.rows, dead_letters=letters)
    return _Prepared(record, parsed, source)


class _OverRate(RequestRefused):
    """A write key over its rate (OMNI_COLLECTOR_RATE_PER_KEY): 429 with Retry-After."""

    def __init__(self, limited: RateLimited) -> None:
        super().__init__(429, "rate_limited", "writeKey", "(this key)", str(limited))
        self.retry_after = limited.retry_after


def _prepare_guarded(guard: CollectorGuard, runtime: IngestRuntime, *args: Any) -> _Prepared:
    """``_prepare`` behind the guards of ``privacy/collector_guard.py``: a source over its
    rate is refused (nothing logged); calls naming an erased person are dropped before the
    record is logged, so nothing of theirs is written anywhere."""
    prepared = _prepare(runtime, *args)
    if prepared.parsed is None:
        return prepared
    try:
        guard.admit(prepared.source)
    except RateLimited as limited:
        return _Prepared(None, refused=_OverRate(limited))
    kept = guard.drop_erased(prepared.parsed.rows)
    if len(kept) != len(prepared.parsed.rows) and prepared.record is not None:
        prepared.parsed.rows[:] = kept
        record = json.loads(prepared.record)
        record["events"] = kept
        prepared.record = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    return prepared


def _plausible_key(key: str) -> bool:
    return 0 < len(key) <= 256


def _unauthorized(key: object) -> RequestRefused:
    given = isinstance(key, str) and bool(key)
    return RequestRefused(
        401,
        "unauthorized",
        "writeKey",
        show(key[:10]) + "..." if isinstance(key, str) and key else "(missing)",
        "an active write key, as the HTTP Basic user name or as writeKey in the body "
        "(create one with `omni sources create NAME`)",
        key=INVALID_KEY if given else MISSING_KEY,
    )


def _refused_record(
    runtime: IngestRuntime,
    refused: RequestRefused,
    source: str | None,
    origin: str,
    payload: bytes,
    raw: bytes,
    received_at: datetime,
) -> bytes | None:
    """The dead letter of a refused request: every one with a key, a sample without."""
    if refused.key:
        limit = runtime.unauthorized.sample_bytes
        keep = runtime.unauthorized.note(refused.key, size=len(raw))
        if runtime.unauthorized.flush_due():
            _flush_counts(runtime)
        if not keep:
            return None
        if len(payload) > limit:
            origin += f" (first {limit} of {len(payload)} bytes kept)"
            payload = payload[:limit]
    letter = _letter(source or "unknown", origin, payload[:READ_CAP], refused, received_at)
    return encode_record(
        source=source or "unknown", origin=origin, events=[], dead_letters=[letter]
    )


def _flush_counts(runtime: IngestRuntime) -> None:
    try:
        runtime.unauthorized.flush()
    except Exception:
        log.exception("collector: could not store the count of unauthenticated requests")


def _refused_answer(refused: RequestRefused) -> JSONResponse:
    return _answer(
        refused.status,
        {
            "success": False,
            "code": refused.code,
            "message": str(refused),
            "errors": [
                {
                    "index": None,
                    "field": refused.field,
                    "value": refused.value,
                    "reason": refused.reason,
                }
            ],
        },
    )


async def _store(runtime: IngestRuntime, record: bytes, parsed: Parsed) -> JSONResponse:
    try:
        await _durable(runtime, record)
    except Exception as exc:
        log.exception("collector: could not make %d events durable", len(parsed.rows))
        # 503 is retryable for the SDKs; the same messageIds dedupe the retry.
        return _answer(
            503,
            {
                "success": False,
                "code": "log_unavailable",
                "message": f"events were not stored, retry later: {exc}",
            },
        )
    if not parsed.refusals:
        return _answer(200, {"success": True})
    first = parsed.refusals[0]
    message = (
        f"{len(parsed.refusals)} of {len(parsed.rows) + len(parsed.refusals)} calls "
        f"refused (kept in dead letters), {len(parsed.rows)} accepted; first: "
        f"{first.field}={first.value} is not accepted: {first.reason}"
    )
    return _answer(
        400,
        {
            "success": False,
            "code": "invalid_events",
            "message": message,
            "accepted": len(parsed.rows),
            "errors": [r.public() for r in parsed.refusals],
        },
    )


_DOC = (
    "Segment Tracking API `{kind}` call. Write key as HTTP Basic user name or `writeKey`"
    ' in the body; gzip accepted. 200 `{{"success": true}}` once durable; 400 lists '
    "refused calls (index, field, value, reason); 401 unknown or revoked key; 413 "
    "batch over 500 KB."
)


def _route(kind: str | None) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        return await collect(request, kind)

    endpoint.__name__ = f"collect_{kind or 'batch'}"
    endpoint.__doc__ = _DOC.format(kind=kind or "batch")
    return endpoint


class Accepted(BaseModel):
    success: bool = Field(True, description="Every call is durable in the event log.")


class CallError(BaseModel):
    index: int | None = Field(description="Position in `batch`; null for the whole request.")
    field: str = Field(description="Segment's spelling: userId, properties, timestamp...")
    value: str = Field(description="The value received, as JSON, shortened.")
    reason: str = Field(description="What would be accepted.")


class CollectorError(BaseModel):
    success: bool = False
    code: str = Field(description="invalid_events, invalid_json, too_large, unauthorized...")
    message: str
    accepted: int | None = Field(
        None, description="Calls stored from a partly refused batch (400 invalid_events)."
    )
    errors: list[CallError] = Field(default_factory=list)


def _error(text: str) -> dict[str, Any]:
    return {"model": CollectorError, "description": text}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Accepted, "description": "Everything accepted and durable."},
    400: _error(
        "Some calls refused (each with its index, field, value and reason; the others are "
        "stored), or the body is not usable JSON."
    ),
    401: _error("Unknown, missing or revoked write key."),
    413: _error("A batch over 500 KB (after gunzip)."),
    503: _error("The event log cannot be written now; retry (messageId dedupes)."),
}

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}}
        },
    }
}

for _kind in EVENT_TYPES:
    router.add_api_route(
        f"/{_kind}",
        _route(_kind),
        methods=["POST"],
        openapi_extra=_BODY,
        responses=RESPONSES,
        summary=f"Collect a {_kind} call",
    )
router.add_api_route(
    "/batch",
    _route(None),
    methods=["POST"],
    openapi_extra=_BODY,
    responses=RESPONSES,
    summary="Collect a batch of calls",
)
# analytics.js and older server libraries post batches to /v1/import.
router.add_api_route(
    "/import",
    _route(None),
    methods=["POST"],
    openapi_extra=_BODY,
    responses=RESPONSES,
    summary="Collect a batch of calls (alias of /v1/batch)",
)
