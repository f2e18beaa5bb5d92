"""Ad audiences: a segment's members uploaded, hashed, to an ad platform's audience API.

The rows are the segment's audience file for that platform (``segments/export.py``: the
platform's normalisation, SHA-256, and consent: a profile that refused ``ads``, or whose
every contact is withheld, is left out and counted with its reason). Each sync replaces
the platform's list with the segment as it is now, so people who left the segment (or
withdrew consent) leave the audience too, with no state kept here between syncs:

- **Meta** (Marketing API, Custom Audiences): ``POST {base_url}/{audience_id}/usersreplace``
  with ``{"payload": {"schema": [...], "data": [[...], ...]}, "session": {"session_id",
  "batch_seq", "last_batch_flag", "estimated_num_total"}}`` in batches of ``batch_size``
  rows (Meta takes at most 10,000 a request); the first batch of a session starts the
  replacement, the last one (``last_batch_flag``) ends it. Meta takes one value per key
  in a row: a member's second and third email or phone go as rows of their own.
- **Google Ads** (Customer Match through ``OfflineUserDataJobService``): ``POST
  {base_url}/customers/{customer_id}/offlineUserDataJobs:create`` for the user list,
  ``:addOperations`` with a ``removeAll`` operation and then one ``create`` per member
  (``userIdentifiers``: ``hashedEmail``, ``hashedPhoneNumber``, ``addressInfo``) in batches,
  and ``:run``; Google processes the job in the background (hours, by its documentation).

Destinations are named in ``<home>/audiences.yaml``; secrets as ``${ENV_VAR}``::

    destinations:
      meta-vip: {platform: meta, audience_id: "2385...", access_token: "${META_TOKEN}"}
      google-vip:
        platform: google
        customer_id: "1234567890"
        user_list_id: "987654321"
        developer_token: "${GOOGLE_ADS_DEVELOPER_TOKEN}"
        access_token: "${GOOGLE_ADS_ACCESS_TOKEN}"

A sync is recorded in the audit log (who, which segment, which destination, counts).
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic import ValidationError as PydanticValidationError

from omnichannel.errors import ConfigError, NotFoundError, OmniError
from omnichannel.textfiles import read_utf8

if TYPE_CHECKING:
    from omnichannel.platform import Platform

FILE_NAME = "audiences.yaml"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Answers after which the same request is tried again (with a growing pause).
TRANSIENT = frozenset({429, 500, 502, 503, 504})
# Meta's throttling codes (an HTTP 400 with one of these is "slow down", not "wrong").
META_THROTTLED = frozenset({4, 17, 32, 613, 80003})
META_KEYS = ("EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY")


class AudienceSyncError(OmniError):
    """The platform refused the upload; the message has its answer."""


class _Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The segment the ``audiences`` job keeps this destination in step with (optional).
    segment: str | None = None
    batch_size: int = Field(default=10_000, ge=1, le=100_000)
    timeout: float = Field(default=60.0, gt=0)
    # Transient answers (429, 5xx, Meta's throttling codes) tried again this often.
    retries: int = Field(default=3, ge=0, le=10)
    retry_pause: float = Field(default=2.0, ge=0)


class MetaDestination(_Destination):
    platform: Literal["meta"]
    base_url: str = "https://graph.facebook.com/v19.0"
    audience_id: str = Field(min_length=1)
    access_token: SecretStr
    batch_size: int = Field(default=10_000, ge=1, le=10_000)


class GoogleDestination(_Destination):
    platform: Literal["google"]
    base_url: str = "https://googleads.googleapis.com/v17"
    customer_id: str = Field(pattern=r"^\d{10}$", description="Ten digits, no dashes.")
    user_list_id: str = Field(pattern=r"^\d+$")
    developer_token: SecretStr
    access_token: SecretStr
    login_customer_id: str | None = Field(default=None, pattern=r"^\d{10}$")


Destination = Annotated[MetaDestination | GoogleDestination, Field(discriminator="platform")]


class AudiencesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: dict[str, Destination] = Field(default_factory=dict)


def _substitute(value: Any, path: str, environ: dict[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {
            k: _substitute(v, f"{path}.{k}" if path else str(k), environ, where)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, f"{path}[{i}]", environ, where) for i, v in enumerate(value)]
    if isinstance(value, str) and _ENV_REFERENCE.search(value):

        def lookup(match: re.Match[str]) -> str:
            if match.group(1) not in environ:
                raise ConfigError(
                    f"{where}: {path}={value!r} refers to the environment variable "
                    f"{match.group(1)}, which is not set"
                )
            return environ[match.group(1)]

        return _ENV_REFERENCE.sub(lookup, value)
    return value


def parse_audiences(
    text: str, *, where: str = FILE_NAME, environ: dict[str, str] | None = None
) -> AudiencesConfig:
    """``audiences.yaml`` checked; every error names the place, the value and what is accepted."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: expected a mapping with `destinations:`")
    document = _substitute(document, "", dict(os.environ) if environ is None else environ, where)
    try:
        return AudiencesConfig.model_validate(document)
    except PydanticValidationError as exc:
        problems = []
        for error in exc.errors():
            # Drop the discriminator's own step ("meta"/"google") from the place.
            parts = [str(p) for p in error["loc"] if p not in ("meta", "google")]
            place = ".".join(parts)
            value = error.get("input")
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                place += ".platform"
                value = value.get("platform") if isinstance(value, dict) else value
                message = "meta or google"
            elif error["type"] == "extra_forbidden":
                message = "not a setting here (misspelt?)"
            secret = any(w in place for w in ("token", "secret"))
            shown = "[redacted]" if secret else repr(value)
            problems.append(f"{where}: {place}={shown} is not accepted: expected {message}")
        raise ConfigError("\n".join(problems)) from None


def load_audiences(path: Path | None) -> AudiencesConfig:
    if path is None:
        return AudiencesConfig()
    try:
        text = read_utf8(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_audiences(text, where=str(path))


# --- rows from the audience file --------------------------------------------------------


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def meta_rows(
    header: Sequence[str], rows: Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """The Meta file's columns (EMAIL repeated up to three times...) as one value per key:
    a member's first email and phone in their row, the others as rows of their own."""
    schema = list(META_KEYS)
    out: list[list[str]] = []
    for row in rows:
        values: dict[str, list[str]] = {}
        for key, value in zip(header, row, strict=True):
            if value:
                values.setdefault(key, []).append(value)
        out.append([values.get(k, [""])[0] for k in schema])
        for key in ("EMAIL", "PHONE"):
            for extra in values.get(key, [])[1:]:
                out.append([extra if k == key else "" for k in schema])
    return schema, out


def google_operations(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """One ``create`` operation per member, with every identifier the file gives."""
    operations = []
    for row in rows:
        identifiers: list[dict[str, Any]] = []
        named: dict[str, str] = {}
        for key, value in zip(header, row, strict=True):
            if not value:
                continue
            if key == "Email":
                identifiers.append({"hashedEmail": value})
            elif key == "Phone":
                identifiers.append({"hashedPhoneNumber": value})
            else:
                named[key] = value
        address = ("First Name", "Last Name", "Country", "Zip")
        if all(named.get(k) for k in address):
            # Google matches on an address only with all four parts.
            identifiers.append(
                {
                    "addressInfo": {
                        "hashedFirstName": named["First Name"],
                        "hashedLastName": named["Last Name"],
                        "countryCode": named["Country"],
                        "postalCode": named["Zip"],
                    }
                }
            )
        if identifiers:
            operations.append({"create": {"userIdentifiers": identifiers}})
    return operations


# --- talking to the platforms -----------------------------------------------------------


@dataclass
class SyncResult:
    destination: str
    platform: str
    segment: str
    members: int
    rows: int
    uploaded: int
    batches: int
    left_out: dict[str, int]
    reference: str  # Meta's session id, Google's job resource name
    answers: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "platform": self.platform,
            "segment": self.segment,
            "members": self.members,
            "rows": self.rows,
            "uploaded": self.uploaded,
            "batches": self.batches,
            "left_out": dict(self.left_out),
            "left_out_total": sum(self.left_out.values()),
            "reference": self.reference,
            "answers": self.answers,
        }


def _post(
    client: httpx.Client, url: str, destination: _Destination, what: str, **kwargs: Any
) -> dict[str, Any]:
    """POST, trying transient failures again; a permanent one raises with the answer."""
    for attempt in range(destination.retries + 1):
        try:
            response = client.post(url, **kwargs)
        except httpx.HTTPError as exc:
            if attempt < destination.retries:
                time.sleep(destination.retry_pause * 2**attempt)
                continue
            raise AudienceSyncError(f"{what}: {url.split('?')[0]} unreachable: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        throttled = (body.get("error") or {}).get("code") in META_THROTTLED
        if response.is_success:
            return body
        if (response.status_code in TRANSIENT or throttled) and attempt < destination.retries:
            time.sleep(destination.retry_pause * 2**attempt)
            continue
        raise AudienceSyncError(
            f"{what} refused: HTTP {response.status_code} {response.text[:500]}"
        )
    raise AssertionError("unreachable")


def _sync_meta(
    client: httpx.Client, destination: MetaDestination, header: list[str], rows: list[list[str]]
) -> tuple[str, int, int, list[dict[str, Any]]]:
    schema, data = meta_rows(header, rows)
    session_id = int(uuid.uuid4().int % 10**15)
    url = f"{destination.base_url.rstrip('/')}/{destination.audience_id}/usersreplace"
    token = destination.access_token.get_secret_value()
    chunks = list(_batches(data, destination.batch_size)) or [[]]
    answers: list[dict[str, Any]] = []
    for seq, chunk in enumerate(chunks, start=1):
        body = {
            "payload": {"schema": schema, "data": list(chunk)},
            "session": {
                "session_id": session_id,
                "batch_seq": seq,
                "last_batch_flag": seq == len(chunks),
                "estimated_num_total": len(data),
            },
        }
        answer = _post(
            client, url, destination, f"Meta batch {seq}", params={"access_token": token}, json=body
        )
        answers.append(
            {k: answer.get(k) for k in ("num_received", "num_invalid_entries") if k in answer}
        )
    return str(session_id), len(data), len(chunks), answers


def _sync_google(
    client: httpx.Client, destination: GoogleDestination, header: list[str], rows: list[list[str]]
) -> tuple[str, int, int, list[dict[str, Any]]]:
    base = destination.base_url.rstrip("/")
    cid = destination.customer_id
    headers = {
        "Authorization": f"Bearer {destination.access_token.get_secret_value()}",
        "developer-token": destination.developer_token.get_secret_value(),
    }
    if destination.login_customer_id:
        headers["login-customer-id"] = destination.login_customer_id
    job = _post(
        client,
        f"{base}/customers/{cid}/offlineUserDataJobs:create",
        destination,
        "Google job create",
        headers=headers,
        json={
            "job": {
                "type": "CUSTOMER_MATCH_USER_LIST",
                "customerMatchUserListMetadata": {
                    "userList": f"customers/{cid}/userLists/{destination.user_list_id}"
                },
            }
        },
    )
    name = job.get("resourceName")
    if not name:
        raise AudienceSyncError(f"Google job create answered no resourceName: {job}")
    # The job replaces the list: remove everyone first, then add the members as they are.
    operations: list[dict[str, Any]] = [{"removeAll": True}, *google_operations(header, rows)]
    chunks = list(_batches(operations, destination.batch_size))
    answers = []
    for seq, chunk in enumerate(chunks, start=1):
        answer = _post(
            client,
            f"{base}/{name}:addOperations",
            destination,
            f"Google operations batch {seq}",
            headers=headers,
            json={"enablePartialFailure": True, "operations": list(chunk)},
        )
        if answer.get("partialFailureError"):
            answers.append({"partial_failure": answer["partialFailureError"].get("message", "")})
    run = _post(
        client, f"{base}/{name}:run", destination, "Google job run", headers=headers, json={}
    )
    answers.append({"operation": run.get("name")})
    return str(name), len(operations) - 1, len(chunks), answers


class AudiencesCapability:
    """``platform.audiences``: the destinations of audiences.yaml, and syncing a segment to one."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def config(self) -> AudiencesConfig:
        return load_audiences(self._platform.settings.home_file(FILE_NAME))

    def destinations(self) -> list[dict[str, Any]]:
        """Each destination with its platform and target (never its secrets)."""
        listed = []
        for name, d in sorted(self.config().destinations.items()):
            target = (
                f"audience {d.audience_id}"
                if isinstance(d, MetaDestination)
                else f"customer {d.customer_id} user list {d.user_list_id}"
            )
            listed.append(
                {"name": name, "platform": d.platform, "target": target, "segment": d.segment}
            )
        return listed

    def sync_followed(self, *, actor: str = "job") -> dict[str, Any]:
        """Sync every destination that names its ``segment``; one failing costs no other.

        Returns ``{"synced": [results], "failed": {destination: error}}``.
        """
        synced: list[dict[str, Any]] = []
        failed: dict[str, str] = {}
        for name, destination in sorted(self.config().destinations.items()):
            if destination.segment is None:
                continue
            try:
                synced.append(self.sync(destination.segment, name, actor=actor))
            except OmniError as exc:
                failed[name] = str(exc)
        return {"synced": synced, "failed": failed}

    def sync(self, segment: str, destination: str, *, actor: str = "system") -> dict[str, Any]:
        """Replace the destination's audience with ``segment``'s members now (hashed)."""
        from omnichannel.opstore.audit import record

        config = self.config()
        chosen = config.destinations.get(destination)
        if chosen is None:
            known = ", ".join(sorted(config.destinations)) or "none configured"
            raise NotFoundError(
                f"no audience destination named {destination!r} in {FILE_NAME} ({known})"
            )
        out = io.StringIO()
        exported = self._platform.segments.export(segment, fmt=chosen.platform, out=out)
        table = list(csv.reader(io.StringIO(out.getvalue())))
        header, rows = table[0], table[1:]
        with httpx.Client(timeout=chosen.timeout) as client:
            if isinstance(chosen, MetaDestination):
                reference, uploaded, batches, answers = _sync_meta(client, chosen, header, rows)
            else:
                reference, uploaded, batches, answers = _sync_google(client, chosen, header, rows)
        result = SyncResult(
            destination=destination,
            platform=chosen.platform,
            segment=segment,
            members=exported.members,
            rows=exported.rows,
            uploaded=uploaded,
            batches=batches,
            left_out=dict(exported.left_out),
            reference=reference,
            answers=answers,
        )
        public = result.public()
        with self._platform.opstore.session() as session:
            record(
                session,
                actor=actor,
                action="audience.sync",
                object_type="segment",
                object_id=segment,
                details={k: v for k, v in public.items() if k != "answers"},
            )
        return public
