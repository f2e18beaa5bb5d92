"""What the segment builder and the journey editor draw their controls from.

The controls are generated in the browser (``static/builders.js``) from the documents'
own JSON Schemas, the ones published as ``docs/segment.schema.json`` and
``docs/journey.schema.json`` (``segments.definition.json_schema``,
``journeys.definition.json_schema``): a condition kind or a step kind is an option of
the schema's ``oneOf``, a field an object's property, an operator a property of the
value test. No second copy of either language lives here, only what the schema cannot
say: suggestions for some fields (the installation's segments, trait columns, templates,
enabled channels) and the labels of the kinds in the visitor's language.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from omnichannel.errors import ValidationError
from omnichannel.web.i18n import gettext as _

if TYPE_CHECKING:
    from omnichannel.platform import Platform

# The document a new segment starts from: one condition, to change or add to.
NEW_SEGMENT: dict[str, Any] = {
    "name": "",
    "description": "",
    "condition": {"all": [{"trait": {"field": "orders", "gte": 1}}]},
}
# A new journey: entered by an event, one wait, one exit.
NEW_JOURNEY: dict[str, Any] = {
    "name": "",
    "description": "",
    "entry": {"event": {"name": "Signed Up"}},
    "reentry": {"mode": "never"},
    "start": "wait",
    "steps": {"wait": {"wait": "1d", "next": "done"}, "done": {"exit": {}}},
}


@cache  # the models do not change while the process runs
def segment_schema() -> dict[str, Any]:
    from omnichannel.segments.definition import json_schema

    return json_schema()


@cache
def journey_schema() -> dict[str, Any]:
    from omnichannel.journeys.definition import json_schema

    return json_schema()


def labels() -> dict[str, str]:
    """The kinds' and groups' names as the builder shows them (translated)."""
    return {
        "all": _("all of (and)"),
        "any": _("any of (or)"),
        "not": _("not"),
        "trait": _("trait"),
        "tag": _("tag"),
        "consent": _("consent"),
        "affinity": _("affinity"),
        "event": _("event performed"),
        "sequence": _("event sequence"),
        "order": _("orders"),
        "message": _("message received"),
        "device": _("device property"),
        "segment": _("segment membership"),
        "wait": _("wait"),
        "wait_until": _("wait until"),
        "wait_send_time": _("wait for the best send time"),
        "wait_for": _("wait for an event"),
        "condition": _("condition"),
        "split": _("split"),
        "send": _("send"),
        "update": _("update profile"),
        "webhook": _("webhook"),
        "enter": _("enter another journey"),
        "exit": _("exit"),
        "date": _("date"),
        "schedule": _("schedule"),
        "name": _("Name"),
        "description": _("Description"),
        "add": _("Add"),
        "add field": _("Add a field…"),
        "remove": _("Remove"),
        "up": _("Move up"),
        "down": _("Move down"),
        "add step": _("Add a step"),
        "step name": _("Step name"),
        "kind": _("Kind"),
        "invalid json": _("Not valid JSON"),
        "people": _("people"),
    }


def segment_hints(platform: Platform, *, own: str | None = None) -> dict[str, list[str]]:
    """Suggestions per field name: other segments, the profile columns a trait reads."""
    from omnichannel.segments.definition import TRAIT_FIELDS

    segments = [s.name for s in platform.segments.store.list() if s.name != own]
    return {"segment": segments, "field": sorted(TRAIT_FIELDS), "status": []}


def journey_hints(platform: Platform, *, own: str | None = None) -> dict[str, list[str]]:
    """Suggestions per field name: segments, templates, enabled channels, journeys."""
    hints = segment_hints(platform)
    segments = hints["segment"]
    hints.update(
        {
            "audience": segments,
            "entered": segments,
            "exited": segments,
            "template": [t["name"] for t in platform.templates.list()],
            "channel": list(platform.messages.config.enabled()),
            "journey": [j.name for j in platform.journeys.store.list() if j.name != own],
        }
    )
    return hints


def parse_document(text: str) -> dict[str, Any]:
    """The JSON the editor posted, as an object; a ValidationError naming ``document``."""
    try:
        loaded = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "document", (text or "")[:60], f"a JSON object ({exc.msg} at line {exc.lineno})"
        ) from None
    if not isinstance(loaded, dict):
        raise ValidationError("document", loaded, "a JSON object")
    return loaded


def pretty(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)
