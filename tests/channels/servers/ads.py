"""Stand-ins for the ad platforms' audience APIs: Meta's usersreplace and Google Ads' jobs.

Both check what the real ones check (the token, the schema, that every identifier is a
SHA-256 hex digest) and keep the audience as the platform would have it after the
upload, so a test can compare it with the segment.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from tests.channels.servers.http_standin import Answer, Request, StandIn

HEX64 = re.compile(r"^[0-9a-f]{64}$")
META_TOKEN = "meta-test-token"
AUDIENCE = "23850000000000001"
GOOGLE_TOKEN = "ya29.google-ads"
DEVELOPER_TOKEN = "dev-token"
CUSTOMER = "1234567890"
USER_LIST = "987654321"
META_KEYS = {"EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY"}


def _meta_error(code: int, message: str, kind: str = "OAuthException") -> Answer:
    return Answer.of_json(400, {"error": {"message": message, "type": kind, "code": code}})


class MetaStandIn(StandIn):
    """``POST /v19.0/{audience_id}/usersreplace``: a session of batches replaces the audience."""

    def __init__(self) -> None:
        super().__init__()
        self.audience: list[dict[str, str]] = []  # rows as {key: hash}, after the last batch
        self._pending: dict[int, list[dict[str, str]]] = {}
        self.throttle = 0

    def handle(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != f"/v19.0/{AUDIENCE}/usersreplace":
            return _meta_error(803, f"Unknown path {request.path}", "GraphMethodException")
        if request.query.get("access_token") != META_TOKEN:
            return _meta_error(190, "Invalid OAuth access token - Cannot parse access token")
        if self.throttle > 0:
            self.throttle -= 1
            return _meta_error(17, "User request limit reached")
        body = request.json()
        payload, session = body.get("payload", {}), body.get("session", {})
        schema = payload.get("schema", [])
        if not schema or set(schema) - META_KEYS:
            return _meta_error(100, f"Invalid schema {schema}", "OAuthException")
        invalid = 0
        rows = []
        for row in payload.get("data", []):
            if len(row) != len(schema):
                invalid += 1
                continue
            if any(v and not HEX64.match(v) for v in row):
                invalid += 1
                continue
            rows.append({k: v for k, v in zip(schema, row, strict=True) if v})
        sid = int(session.get("session_id", 0))
        with self._lock:
            if session.get("batch_seq") == 1:
                self._pending[sid] = []
            self._pending.setdefault(sid, []).extend(rows)
            if session.get("last_batch_flag"):
                self.audience = self._pending.pop(sid)
        return Answer.of_json(
            200,
            {
                "account_id": "act_1",
                "session_id": str(sid),
                "num_received": len(rows),
                "num_invalid_entries": invalid,
                "invalid_entry_samples": {},
            },
        )


def _google_error(status: int, word: str, message: str) -> Answer:
    return Answer.of_json(status, {"error": {"code": status, "message": message, "status": word}})


class GoogleAdsStandIn(StandIn):
    """``offlineUserDataJobs:create``, ``:addOperations``, ``:run`` on one customer's user list."""

    def __init__(self) -> None:
        super().__init__()
        self.members: list[list[dict[str, Any]]] = [
            [{"hashedEmail": "0" * 64}]  # someone uploaded before, no longer in the segment
        ]
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        self.unavailable = 0
        self._ids = itertools.count(1)

    def handle(self, request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {GOOGLE_TOKEN}":
            return _google_error(
                401, "UNAUTHENTICATED", "Request is missing required authentication credential."
            )
        if request.headers.get("developer-token") != DEVELOPER_TOKEN:
            return _google_error(403, "PERMISSION_DENIED", "The developer token is not valid.")
        if self.unavailable > 0:
            self.unavailable -= 1
            return _google_error(503, "UNAVAILABLE", "The service is currently unavailable.")
        prefix = f"/v17/customers/{CUSTOMER}/offlineUserDataJobs"
        if request.path == prefix + ":create":
            job = request.json().get("job", {})
            wanted = f"customers/{CUSTOMER}/userLists/{USER_LIST}"
            if job.get("type") != "CUSTOMER_MATCH_USER_LIST" or (
                job.get("customerMatchUserListMetadata", {}).get("userList") != wanted
            ):
                return _google_error(400, "INVALID_ARGUMENT", f"Bad job {job}")
            name = f"customers/{CUSTOMER}/offlineUserDataJobs/{next(self._ids)}"
            with self._lock:
                self.jobs[name] = []
            return Answer.of_json(200, {"resourceName": name})
        match = re.fullmatch(
            r"/v17/(customers/\d+/offlineUserDataJobs/\d+):(addOperations|run)", request.path
        )
        if match is None or match.group(1) not in self.jobs:
            return _google_error(404, "NOT_FOUND", f"{request.path} not found")
        name, verb = match.groups()
        if verb == "addOperations":
            for op in request.json().get("operations", []):
                if op.get("removeAll") is True:
                    self.jobs[name].append({"removeAll": True})
                    continue
                identifiers = op.get("create", {}).get("userIdentifiers", [])
                for identifier in identifiers:
                    for key in ("hashedEmail", "hashedPhoneNumber"):
                        if key in identifier and not HEX64.match(identifier[key]):
                            return _google_error(
                                400, "INVALID_ARGUMENT", f"{key} is not SHA-256 hex"
                            )
                self.jobs[name].append({"create": identifiers})
            return Answer.of_json(200, {})
        with self._lock:
            for op in self.jobs.pop(name):
                if "removeAll" in op:
                    self.members = []
                else:
                    self.members.append(op["create"])
        return Answer.of_json(200, {"name": f"customers/{CUSTOMER}/operations/{next(self._ids)}"})
