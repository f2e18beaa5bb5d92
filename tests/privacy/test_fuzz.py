"""Fuzz: random documents through the parsers a user's text reaches (hypothesis, bounded).

The collector's payloads have their own fuzz test (tests/ingest/test_collector_fuzz.py);
here: file mappings, the segment and journey languages, message templates and the
consent events. Whatever comes in, a parser answers or refuses with one of our own
errors (``OmniError``: field, value and what is accepted), never with anything else.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnichannel.channels.render import check_template
from omnichannel.errors import OmniError
from omnichannel.ingest.mapping import parse_mapping
from omnichannel.journeys.definition import parse_journey
from omnichannel.privacy.consent_events import decisions_of
from omnichannel.segments.definition import parse_definition

BOUNDED = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
WORDS = st.sampled_from(
    ["type", "kind", "all", "any", "not", "event", "trait", "within", "days", "count", "steps",
     "name", "source", "columns", "email", "to", "from", "wait", "send", "channel", "id",
     "segment", "entry", "exit", "value", "op", "gte", "lte", "equals", "in", "orders", "*"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True),
    WORDS, st.text(max_size=12),
)  # fmt: skip
KEYS = st.one_of(WORDS, st.text(max_size=6))
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def _refuses_only_clearly(parse: Any, doc: Any) -> None:
    try:
        parse(doc)
    except OmniError as exc:
        assert str(exc)  # a message naming what was wrong


@BOUNDED
@given(DOCS)
def test_mappings_refuse_only_with_clear_errors(doc: Any) -> None:
    _refuses_only_clearly(parse_mapping, doc)


@BOUNDED
@given(st.one_of(DOCS, st.text(max_size=200)))
def test_segment_documents_refuse_only_with_clear_errors(doc: Any) -> None:
    _refuses_only_clearly(parse_definition, doc if isinstance(doc, dict | str) else {"x": doc})


@BOUNDED
@given(st.one_of(DOCS, st.text(max_size=200)))
def test_journey_documents_refuse_only_with_clear_errors(doc: Any) -> None:
    _refuses_only_clearly(parse_journey, doc if isinstance(doc, dict | str) else {"x": doc})


@BOUNDED
@given(
    st.text(
        alphabet=st.sampled_from(list("{}%#|.()[]'\"_ abcxyz0123+-*/<>=!\n")) | st.characters(),
        max_size=80,
    )
)
def test_templates_refuse_only_with_clear_errors(text: str) -> None:
    _refuses_only_clearly(
        lambda body: check_template("email", {"subject": "Hi", "text": body}), text
    )


@BOUNDED
@given(DOCS)
def test_consent_events_never_break_the_consumer(props: Any) -> None:
    batch = pa.Table.from_pylist(
        [
            {
                "type": "track",
                "event": "Consent Updated",
                "user_id": "u1",
                "properties": json.dumps(props, allow_nan=True),
                "message_id": "m",
                "source": "web",
            }
        ]
    )
    for decision in decisions_of(batch):
        assert decision["subject_value"] == "u1"
