"""App push through Firebase Cloud Messaging's HTTP v1 API (Android, iOS through APNs, web).

Sending is ``POST {base_url}/v1/projects/{project_id}/messages:send`` with a JSON body
``{"message": {"token", "notification": {"title", "body", "image"}, "data": {...}}}`` and
``Authorization: Bearer <OAuth2 access token>``. The token comes from the project's
service account: a JWT (RS256, signed with the account's private key, ``kid`` its key id)
claiming the ``firebase.messaging`` scope for ``token_uri`` is exchanged there
(``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``) for an access token, which
is cached until a minute before it expires and fetched again once if FCM answers 401.

What FCM answers (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):

- 200 with the message's ``name``: sent;
- ``UNREGISTERED`` (404: the app was uninstalled or the token expired),
  ``SENDER_ID_MISMATCH`` (403: a token of another project), ``INVALID_ARGUMENT`` about
  the token (400): rejected and the token suppressed on ``push``;
- ``INVALID_ARGUMENT`` about anything else (a data value, a payload over 4 KB): rejected,
  the token kept: the message is wrong, not the device;
- ``QUOTA_EXCEEDED`` (429), ``UNAVAILABLE`` (503), ``INTERNAL`` (500): retried, after
  ``Retry-After`` when given; ``THIRD_PARTY_AUTH_ERROR`` (APNs credentials) and a 401
  that a fresh token does not cure: retried (settings to fix), the breaker opens meanwhile.

Addresses are device push tokens, read from events (``context.device.token``, as
Segment's mobile SDKs send it): ``lookup_addresses`` gives each profile every token its
events carried, newest first, so a person with a phone and a tablet is reached on both.
FCM HTTP v1 takes one token per request, so the message stays one outbox message (one
idempotency key, one count against the caps) whose ``devices`` the channel's worker sends
one request each and settles token by token: an ``UNREGISTERED`` tablet is suppressed
while the phone's copy is sent (``channels.dispatcher``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import jwt
from pydantic import Field, SecretStr, model_validator

from omnichannel.channels.adapter import (
    AdapterContext,
    ChannelSettings,
    Delivery,
    Rejected,
    RetryLater,
    SendOutcome,
    Sent,
    trim_response,
)
from omnichannel.channels.provider_http import (
    CachedToken,
    ProviderClient,
    ProviderResponse,
    TransportError,
    client_for,
    describe,
    retry_after,
    unreachable,
    with_token,
)
from omnichannel.errors import ConfigError
from omnichannel.opstore.models import MessageKind

if TYPE_CHECKING:
    from omnichannel.identity.rules import IdentityRules
    from omnichannel.warehouse import Warehouse

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# An access token is fetched again this long before it expires.
REFRESH_MARGIN = 60.0
DEAD_TOKEN_ERRORS = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
RETRIED_ERRORS = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "THIRD_PARTY_AUTH_ERROR"})
SERVICE_ACCOUNT_KEYS = ("client_email", "private_key", "token_uri")


class PushSettings(ChannelSettings):
    """The ``push`` section of channels.yaml."""

    base_url: str = "https://fcm.googleapis.com"
    project_id: str = Field(min_length=1, max_length=128)
    # The service account's JSON key: a file, or the JSON itself (``${FCM_SERVICE_ACCOUNT}``).
    service_account_file: Path | None = None
    service_account_json: SecretStr | None = None
    # FCM checks the message and answers as for a send, without delivering it.
    validate_only: bool = False
    # How long a platform keeps trying to reach an offline device (None: its default, 4 weeks).
    ttl: timedelta | None = Field(default=None, gt=timedelta(0), le=timedelta(days=28))

    @model_validator(mode="after")
    def _one_key(self) -> PushSettings:
        if (self.service_account_file is None) == (self.service_account_json is None):
            raise ValueError(
                "exactly one of service_account_file (a path to the JSON key) or "
                "service_account_json (its content, e.g. ${FCM_SERVICE_ACCOUNT})"
            )
        return self

    def service_account(self) -> dict[str, Any]:
        """The key's fields, checked; a ConfigError naming what is missing or unreadable."""
        where = "push.service_account_json"
        try:
            if self.service_account_file is not None:
                where = f"push.service_account_file ({self.service_account_file})"
                text = self.service_account_file.read_text(encoding="utf-8")
            else:
                assert self.service_account_json is not None
                text = self.service_account_json.get_secret_value()
            account = json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}: cannot read the service account key: {exc}") from None
        missing = [k for k in SERVICE_ACCOUNT_KEYS if not isinstance(account.get(k), str)]
        if not isinstance(account, dict) or missing:
            raise ConfigError(
                f"{where}: expected a Google service account key (JSON with "
                f"{', '.join(SERVICE_ACCOUNT_KEYS)}); missing {', '.join(missing)}"
            )
        return account


class AccessTokens(CachedToken):
    """OAuth2 access tokens for a service account: a signed JWT exchanged at ``token_uri``."""

    def __init__(self, account: Mapping[str, Any], client: ProviderClient) -> None:
        super().__init__(self._exchange, REFRESH_MARGIN)
        self.account = account
        self.client = client

    def assertion(self, now: float) -> str:
        claims = {
            "iss": self.account["client_email"],
            "scope": SCOPE,
            "aud": self.account["token_uri"],
            "iat": int(now),
            "exp": int(now) + 3600,
        }
        headers = {"kid": self.account.get("private_key_id", "")}
        return jwt.encode(claims, self.account["private_key"], algorithm="RS256", headers=headers)

    async def _exchange(self) -> tuple[str, float]:
        response = await self.client.post(
            self.account["token_uri"],
            data={"grant_type": JWT_GRANT, "assertion": self.assertion(time.time())},
        )
        answer = response.json() if response.is_success else {}
        if not answer.get("access_token"):
            raise TokenRefused(describe(response))
        return str(answer["access_token"]), float(answer.get("expires_in", 3600))


class TokenRefused(Exception):
    """The token endpoint gave no access token (its answer is the message)."""


def fcm_error(response: ProviderResponse) -> tuple[str, str]:
    """(FCM error code or the HTTP status word, message) from an error body."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return "", response.text
    code = ""
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = str(detail["errorCode"])
    return code or str(error.get("status", "")), str(error.get("message", ""))


def _about_token(response: ProviderResponse, message: str) -> bool:
    # INVALID_ARGUMENT names its field in a BadRequest detail ("message.token"), and FCM's
    # own message says "registration token" when the token is what is wrong.
    try:
        details = response.json().get("error", {}).get("details", []) or []
    except (ValueError, AttributeError):
        details = []
    for detail in details:
        for violation in (detail or {}).get("fieldViolations", []) or []:
            if "token" in str(violation.get("field", "")):
                return True
    return "registration token" in message.lower()


def platform_options(delivery: Delivery, ttl: timedelta | None) -> dict[str, Any]:
    """Android, APNs and web push options: urgency by the message's kind, and its lifetime.

    A transactional message (a receipt, a code) wakes the device at once; a marketing one
    goes at normal priority, which the platforms may batch to save battery. ``ttl``: an
    offer that cannot reach the phone within it is dropped rather than shown late.
    """
    urgent = delivery.kind == MessageKind.TRANSACTIONAL
    android: dict[str, Any] = {"priority": "HIGH" if urgent else "NORMAL"}
    apns_headers = {"apns-priority": "10" if urgent else "5"}
    web_headers = {"Urgency": "high" if urgent else "normal"}
    if ttl is not None:
        seconds = int(ttl.total_seconds())
        android["ttl"] = f"{seconds}s"
        apns_headers["apns-expiration"] = str(int(time.time()) + seconds)
        web_headers["TTL"] = str(seconds)
    webpush: dict[str, Any] = {"headers": web_headers}
    link = str(delivery.content.get("link") or "")
    if link.startswith("https://"):
        webpush["fcm_options"] = {"link": link}  # web push opens only HTTPS links
    return {"android": android, "apns": {"headers": apns_headers}, "webpush": webpush}


def message_body(
    delivery: Delivery, validate_only: bool = False, ttl: timedelta | None = None
) -> dict[str, Any]:
    """FCM's ``message`` for one delivery: notification parts, data values as strings."""
    content = delivery.content
    notification = {
        key: str(content[key]) for key in ("title", "body", "image") if content.get(key)
    }
    message: dict[str, Any] = {"token": delivery.address, **platform_options(delivery, ttl)}
    if notification:
        message["notification"] = notification
    data = dict(content.get("data") or {})
    if content.get("link"):
        # The app's deep link, read by its notification handler (FCM has no common field).
        data.setdefault("link", str(content["link"]))
    if data:
        # FCM data values must be strings; structured values go as JSON text.
        message["data"] = {
            str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in dict(data).items()
        }
    body: dict[str, Any] = {"message": message}
    if validate_only:
        body["validate_only"] = True
    return body


class PushAdapter:
    channel: ClassVar[str] = "push"
    address_types: ClassVar[tuple[str, ...]] = ("push_token",)
    required_parts: ClassVar[tuple[str, ...]] = ("title", "body")
    optional_parts: ClassVar[tuple[str, ...]] = ("data", "image", "link")

    def __init__(self, settings: PushSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        self.url = (
            f"{settings.base_url.rstrip('/')}/v1/projects/{settings.project_id}/messages:send"
        )
        self._client: ProviderClient | None = None
        self.tokens: AccessTokens | None = None

    async def open(self) -> None:
        self._client = client_for(self.settings)
        self.tokens = AccessTokens(self.settings.service_account(), self._client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def send(self, delivery: Delivery) -> SendOutcome:
        if not (delivery.content.get("title") or delivery.content.get("body")):
            return Rejected("the message has neither a title nor a body", reason="empty")
        assert self._client is not None and self.tokens is not None, "open() the adapter first"
        body = message_body(delivery, self.settings.validate_only, self.settings.ttl)
        try:
            response = await with_token(
                self.tokens,
                lambda token: self._client_or_fail().post(
                    self.url, json=body, headers={"Authorization": f"Bearer {token}"}
                ),
                refused=lambda answer: answer.status_code == 401,
            )
        except TokenRefused as exc:
            return RetryLater(f"the OAuth token endpoint refused the service account: {exc}")
        except TransportError as exc:
            return unreachable(exc, "FCM")
        return self._outcome(response)

    def _client_or_fail(self) -> ProviderClient:
        assert self._client is not None, "open() the adapter first"
        return self._client

    def _outcome(self, response: ProviderResponse) -> SendOutcome:
        text = describe(response)
        if response.is_success:
            name = response.json().get("name")
            return Sent(provider_message_id=name, response=trim_response(text))
        code, message = fcm_error(response)
        if code in DEAD_TOKEN_ERRORS or response.status_code == 404:
            return Rejected(text, reason="unregistered", suppress=True)
        if (
            code in RETRIED_ERRORS
            or response.status_code in (401, 429)
            or (response.status_code >= 500)
        ):
            return RetryLater(text, retry_after=retry_after(response))
        if code == "INVALID_ARGUMENT" and _about_token(response, message):
            return Rejected(text, reason="invalid_address", suppress=True)
        return Rejected(text, reason="invalid_message")

    @staticmethod
    def lookup_addresses(
        wh: Warehouse, profile_ids: Iterable[str], rules: IdentityRules | None = None
    ) -> dict[str, list[str]]:
        """Each profile's device tokens, the one its most recent event carried first."""
        return push_tokens(wh, profile_ids, rules)


def push_tokens(
    wh: Warehouse, profile_ids: Iterable[str], rules: IdentityRules | None = None
) -> dict[str, list[str]]:
    """``{profile_id: [token, ...]}`` from ``context.device.token`` of the profiles' events,
    each device once, the most recently seen first (one query for the batch).

    An event belongs to the profile holding its user id (as the rules type it for its
    source), else the one holding its anonymous id, as everywhere else. Only the events that
    name one of the profiles' identifiers and mention a token are parsed and joined to the
    identity graph, so a send batch does not join every event of the warehouse.
    """
    from omnichannel.identity.rules import load_rules

    ids = sorted(set(profile_ids))
    if not ids:
        return {}
    rules = rules or load_rules()
    if wh.engine in ("duckdb", "postgres"):
        return _push_tokens_sql(wh, ids, rules)
    return _push_tokens_ibis(wh, ids, rules)


def _push_tokens_ibis(wh: Warehouse, ids: list[str], rules: IdentityRules) -> dict[str, list[str]]:
    """``push_tokens`` as one Ibis query, for the engines without the SQL below."""
    import ibis
    import pyarrow as pa

    from omnichannel.profiles.traits.base import linked_identifiers, typed_id

    wanted = ibis.memtable(pa.table({"profile_id": pa.array(ids, pa.string())}))
    known = linked_identifiers(wh)
    # Their identifiers' values: an event naming none of them cannot be theirs (a superset
    # test, typed properly by the joins below), so only their events are parsed and joined.
    theirs = known.semi_join(wanted, "profile_id").id_value
    e = wh.table("events")
    e = e.filter(
        e.user_id.strip().isin(theirs) | e.anonymous_id.strip().isin(theirs),
        e.context.cast("string").contains('"token"'),
    )
    e = e.mutate(
        _token=e.context.cast("json")["device"]["token"].str.strip(),
        _user_type=typed_id(e.source, "user_id", rules),
        _anon_type=typed_id(e.source, "anonymous_id", rules),
    )
    e = e.filter(e._token.notnull(), e._token != "")
    by_user = known.rename(user_profile="profile_id", user_type="id_type", user_value="id_value")
    by_anon = known.rename(anon_profile="profile_id", anon_type="id_type", anon_value="id_value")
    joined = e.left_join(
        by_user, [e._user_type == by_user.user_type, e.user_id.strip() == by_user.user_value]
    ).left_join(
        by_anon,
        [e._anon_type == by_anon.anon_type, e.anonymous_id.strip() == by_anon.anon_value],
    )
    found = joined.select(
        profile_id=joined.user_profile.coalesce(joined.anon_profile),
        token=joined._token,
        at=joined.timestamp.coalesce(joined.received_at),
        seq=joined.load_seq,
    )
    found = found.filter(found.profile_id.notnull()).semi_join(wanted, "profile_id")
    devices = found.group_by(["profile_id", "token"]).agg(at=found.at.max(), seq=found.seq.max())
    devices = devices.order_by(
        ["profile_id", ibis.desc(devices.at), ibis.desc(devices.seq), "token"]
    )
    tokens: dict[str, list[str]] = {}
    for row in wh.query(devices.select("profile_id", "token")).to_pylist():
        tokens.setdefault(row["profile_id"], []).append(row["token"])
    return tokens


def _push_tokens_sql(wh: Warehouse, ids: list[str], rules: IdentityRules) -> dict[str, list[str]]:
    """``push_tokens`` on DuckDB and PostgreSQL: the batch's identifiers (one read), then
    one scan of the events naming them with a token, owned and ranked here.

    Why not the Ibis query: joining the events to the identity graph inside the engine
    took 5 times the scan itself (0.99 s against 0.19 s for 1,000 people among a million
    events, ``benchmarks/push_tokens.py``; 0.53 s this way); the batch's few thousand
    identifiers are a parameter list, and ownership is a dictionary look-up.
    """
    from omnichannel.channels.addresses import identifiers_of
    from omnichannel.profiles.timeline_sql import query

    owner: dict[tuple[str, str], str] = {}
    for profile_id, pairs in identifiers_of(wh, ids).items():
        for pair in pairs:
            owner.setdefault(pair, profile_id)
    values = sorted({v for _, v in owner})
    if not values:
        return {}
    marks = ", ".join("?" for _ in values)
    token = (
        "json_extract_string(context, '$.device.token')"
        if wh.engine == "duckdb"
        else "(context::json -> 'device' ->> 'token')"
    )
    rows = query(
        wh,
        f"SELECT user_id, anonymous_id, source, {token} AS token, "
        'COALESCE("timestamp", received_at) AS at, load_seq FROM events '
        f"WHERE (trim(user_id) IN ({marks}) OR trim(anonymous_id) IN ({marks})) "
        "AND context LIKE ?",  # a parameter: psycopg reads a literal % as a placeholder
        [*values, *values, '%"token"%'],
    )

    def typed(source: str | None, column: str) -> str:
        return rules.source_id_types.get(source or "", {}).get(column, column)

    owned: list[tuple[str, dict[str, Any]]] = []
    by_cookie: list[tuple[str, dict[str, Any]]] = []
    for r in rows:
        if not (r["token"] or "").strip():
            continue
        user = (r["user_id"] or "").strip()
        cookie = (r["anonymous_id"] or "").strip()
        pid = owner.get((typed(r["source"], "user_id"), user)) if user else None
        if pid is not None:
            owned.append((pid, r))
            continue
        pid = owner.get((typed(r["source"], "anonymous_id"), cookie)) if cookie else None
        if pid is not None:
            by_cookie.append((pid, r))
    owned += _not_claimed(wh, rules, by_cookie)
    seen: dict[tuple[str, str], tuple[Any, int]] = {}
    for pid, r in owned:
        key = (pid, r["token"].strip())
        at, seq = r["at"], r["load_seq"] or 0
        before = seen.get(key)
        if before is None or (at, seq) > before:
            seen[key] = (at, seq)
    ranked = sorted(seen.items(), key=lambda kv: (kv[0][0], _desc(kv[1][0]), -kv[1][1], kv[0][1]))
    tokens: dict[str, list[str]] = {}
    for (pid, device), _ in ranked:
        tokens.setdefault(pid, []).append(device)
    return tokens


def _desc(at: Any) -> float:
    return -at.timestamp() if at is not None else float("inf")


def _not_claimed(
    wh: Warehouse, rules: IdentityRules, rows: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    """Events matched by their anonymous id whose user id no other profile holds (a user
    id linked elsewhere makes the event that profile's, as the build attributes it)."""
    from omnichannel.profiles.timeline_sql import query

    users = sorted({(r["user_id"] or "").strip() for _, r in rows} - {""})
    if not users:
        return rows
    linked = query(
        wh,
        "SELECT id_type, id_value, profile_id FROM profile_identifiers WHERE status = ? "
        f"AND id_value IN ({', '.join('?' for _ in users)})",
        ["linked", *users],
    )
    holders = {(str(r["id_type"]), str(r["id_value"])): r["profile_id"] for r in linked}
    kept = []
    for pid, r in rows:
        source_type = rules.source_id_types.get(r["source"] or "", {}).get("user_id", "user_id")
        holder = holders.get((source_type, (r["user_id"] or "").strip()))
        if holder is None or holder == pid:
            kept.append((pid, r))
    return kept
