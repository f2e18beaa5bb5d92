"""Canonical warehouse tables: explicit schemas, one place, one version number.

Conventions, chosen so the same schema works on DuckDB, PostgreSQL, Spark and ClickHouse:

- Column names are snake_case, as Segment writes them to warehouses
  (``message_id``, ``anonymous_id``, ``context_campaign_name``...).
- Timestamps are naive and in UTC; local time comes from ``context_timezone`` or a
  store's ``timezone``. (Spark and ClickHouse treat zoned timestamps differently;
  UTC-naive reads the same everywhere.)
- Money is ``decimal(18, 2)`` with an ISO 4217 ``currency`` column beside it.
- Nested documents (an event's whole ``context``, its ``properties`` and ``traits``)
  are JSON text; query them with ``col.cast("json")["key"]``, which Ibis compiles for
  each engine. Spark has no JSON type, so text is the portable form.

Bump ``SCHEMA_VERSION`` whenever a table changes. Additive changes (a new table, a new
nullable column) are applied to older warehouses automatically by ``versioning``;
anything else needs an upgrade step registered there.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
from ibis.expr.schema import Schema

# 4: the profile build's profile_timeline carries each delivery's outbox_id.
SCHEMA_VERSION = 4

MONEY = dt.Decimal(18, 2)
TS = dt.Timestamp()


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its name, its schema, its key, and what a row is."""

    name: str
    schema: Schema
    key: tuple[str, ...]
    doc: str


def _spec(name: str, key: tuple[str, ...], doc: str, columns: dict[str, object]) -> TableSpec:
    return TableSpec(name=name, schema=ibis.schema(columns), key=key, doc=doc)


EVENTS = _spec(
    "events",
    ("message_id",),
    "Every Segment-spec call (track, identify, page, screen, group, alias) from every source.",
    {
        "message_id": "string",
        "type": "string",
        "event": "string",
        "user_id": "string",
        "anonymous_id": "string",
        "previous_id": "string",
        "group_id": "string",
        "name": "string",
        "timestamp": TS,
        "original_timestamp": TS,
        "sent_at": TS,
        "received_at": TS,
        "source": "string",
        "channel": "string",
        "context_device_id": "string",
        "context_device_type": "string",
        "context_os_name": "string",
        "context_app_name": "string",
        "context_campaign_name": "string",
        "context_campaign_source": "string",
        "context_campaign_medium": "string",
        "context_campaign_term": "string",
        "context_campaign_content": "string",
        "context_page_url": "string",
        "context_ip": "string",
        "context_locale": "string",
        "context_timezone": "string",
        "context": "string",
        "properties": "string",
        "traits": "string",
        "loaded_at": TS,
        # Order of storing, 1, 2, 3... across every path that appends events: durable
        # consumers (segments, journeys) read "after N" by it. NULL for events stored
        # before version 2, which predate every consumer.
        "load_seq": "int64",
    },
)

IDENTIFIERS = _spec(
    "identifiers",
    ("source", "record_id", "id_type", "id_value"),
    "One row per identifier seen on a record: the nodes and edges of the identity graph.",
    {
        "source": "string",
        "record_id": "string",
        "id_type": "string",
        "id_value": "string",
        "observed_at": TS,
        "loaded_at": TS,
    },
)

CUSTOMER_RECORDS = _spec(
    "customer_records",
    ("source", "record_id"),
    "A person as one source system knows them (CRM contact, loyalty member, follower...).",
    {
        "source": "string",
        "record_id": "string",
        "first_name": "string",
        "last_name": "string",
        "birth_date": dt.Date(),
        "gender": "string",
        "email": "string",
        "phone": "string",
        "address": "string",
        "address_line2": "string",
        "city": "string",
        "region": "string",
        "postcode": "string",
        "country": "string",
        "created_at": TS,
        "updated_at": TS,
        "attributes": "string",
        "loaded_at": TS,
    },
)

ORDERS = _spec(
    "orders",
    ("source", "order_id"),
    "A purchase in any channel: web, app, store, marketplace, WeChat mini-program...",
    {
        "order_id": "string",
        "source": "string",
        "channel": "string",
        "store_id": "string",
        "customer_record_id": "string",
        "user_id": "string",
        "anonymous_id": "string",
        "ordered_at": TS,
        "status": "string",
        "currency": "string",
        "subtotal": MONEY,
        "discount": MONEY,
        "tax": MONEY,
        "shipping": MONEY,
        "total": MONEY,
        "campaign_id": "string",
        "coupon": "string",
        "fulfilment": "string",
        "attributes": "string",
        "updated_at": TS,
        "loaded_at": TS,
    },
)

ORDER_LINES = _spec(
    "order_lines",
    ("source", "order_id", "line_number"),
    "The items of an order.",
    {
        "source": "string",
        "order_id": "string",
        "line_number": "int32",
        "product_id": "string",
        "sku": "string",
        "quantity": "int32",
        "unit_price": MONEY,
        "discount": MONEY,
        "line_total": MONEY,
        "currency": "string",
        "loaded_at": TS,
    },
)

PRODUCTS = _spec(
    "products",
    ("product_id",),
    "The unified catalogue.",
    {
        "product_id": "string",
        "sku": "string",
        "name": "string",
        "category": "string",
        "subcategory": "string",
        "brand": "string",
        "price": MONEY,
        "currency": "string",
        "created_at": TS,
        "attributes": "string",
        "loaded_at": TS,
    },
)

CONTENT_ITEMS = _spec(
    "content_items",
    ("content_id",),
    "Articles, reviews, photo galleries, videos and pages a person can view.",
    {
        "content_id": "string",
        "content_type": "string",
        "title": "string",
        "category": "string",
        "tags": "string",
        "url": "string",
        "product_id": "string",
        "published_at": TS,
        "loaded_at": TS,
    },
)

STORES = _spec(
    "stores",
    ("store_id",),
    "Physical stores and other offline points of sale.",
    {
        "store_id": "string",
        "name": "string",
        "city": "string",
        "region": "string",
        "country": "string",
        "postcode": "string",
        "latitude": "float64",
        "longitude": "float64",
        "timezone": "string",
        "opened_at": TS,
        "loaded_at": TS,
    },
)

CAMPAIGNS = _spec(
    "campaigns",
    ("campaign_id",),
    "Marketing campaigns; ad spend, exposures and orders refer to them.",
    {
        "campaign_id": "string",
        "name": "string",
        "channel": "string",
        "objective": "string",
        "start_date": dt.Date(),
        "end_date": dt.Date(),
        "budget": MONEY,
        "currency": "string",
        "loaded_at": TS,
    },
)

AD_SPEND = _spec(
    "ad_spend",
    ("date", "channel", "campaign_id"),
    "Daily spend, impressions and clicks per channel and campaign, as ad platforms report them.",
    {
        "date": dt.Date(),
        "channel": "string",
        "campaign_id": "string",
        "campaign_name": "string",
        "spend": MONEY,
        "currency": "string",
        "impressions": "int64",
        "clicks": "int64",
        "loaded_at": TS,
    },
)

DELIVERIES = _spec(
    "deliveries",
    ("delivery_id",),
    "The delivery log: each step of every message to a person (channels/deliveries.py).",
    {
        "delivery_id": "string",
        "channel": "string",
        "campaign_id": "string",
        "journey_id": "string",
        "step_id": "string",
        "profile_id": "string",
        "recipient": "string",
        "template": "string",
        # What happened: queued, held, dropped, sent, delivered, failed, retrying, bounced,
        # complained, opened, clicked, unsubscribed, read.
        "status": "string",
        "error": "string",
        "provider_message_id": "string",
        "queued_at": TS,
        "sent_at": TS,
        # Version 3: one row per step of a message (the outbox row it belongs to).
        "outbox_id": "int64",
        "at": TS,
        "kind": "string",
        "origin": "string",
        "template_version": "int32",
        "attempt": "int32",
        "reason": "string",
    },
)

DEAD_LETTERS = _spec(
    "dead_letters",
    ("dead_letter_id",),
    "A record we refused, kept whole with the field, value and reason, until replayed.",
    {
        "dead_letter_id": "string",
        "source": "string",
        "kind": "string",
        "origin": "string",
        "received_at": TS,
        "payload": "string",
        "payload_encoding": "string",
        "field": "string",
        "value": "string",
        "reason": "string",
        # A stable code per cause (``invalid_value``, ``missing_required``...): reasons
        # carry details such as the value or a time, so they do not group.
        "reason_code": "string",
        # ``rejected``: the record was refused; ``field_nulled``: the record was stored
        # without this field's unreadable value (``on_invalid: null``).
        "action": "string",
        # Hash of source + payload: the same row refused again, under any file name, is
        # not stored twice.
        "content_hash": "string",
    },
)

RECORD_HISTORY = _spec(
    "record_history",
    ("table_name", "record_key", "row_hash"),
    "Versions of a keyed record that are no longer current: superseded, or older on arrival.",
    {
        "table_name": "string",
        # The key as JSON (``{"source": "crm", "record_id": "42"}``).
        "record_key": "string",
        # The version's own time: its updated-at column when mapped, else its load time.
        "version_at": TS,
        "superseded_at": TS,
        # ``superseded`` (a newer version replaced it) or ``older_on_arrival`` (it arrived
        # after a newer version and never became current).
        "reason": "string",
        "row": "string",
        "row_hash": "string",
    },
)

DEAD_LETTER_REPLAYS = _spec(
    "dead_letter_replays",
    ("dead_letter_id", "replayed_at"),
    "Each attempt to re-load a dead letter, and whether it was accepted this time.",
    {
        "dead_letter_id": "string",
        "replayed_at": TS,
        "outcome": "string",
        "reason": "string",
    },
)

# --- identity (C3): written by identity/, read by profiles/ and the Profile API ---

RECORD_LINKS = _spec(
    "record_links",
    ("source_l", "record_id_l", "source_r", "record_id_r"),
    "A probabilistic link between two records that share no identifier (Splink), explained.",
    {
        "source_l": "string",
        "record_id_l": "string",
        "source_r": "string",
        "record_id_r": "string",
        "match_weight": "float64",
        "match_probability": "float64",
        "explanation": "string",
        "model": "string",
        "linked_at": TS,
    },
)

RECORD_PROFILES = _spec(
    "record_profiles",
    ("source", "record_id"),
    "Which profile (person) each record belongs to, from the deterministic identity graph.",
    {
        "source": "string",
        "record_id": "string",
        "profile_id": "string",
        "cluster_id": "string",
        "first_seen": TS,
        "resolved_at": TS,
    },
)

PROFILE_IDENTIFIERS = _spec(
    "profile_identifiers",
    ("profile_id", "id_type", "id_value"),
    "Every identifier a profile's records carry; status is linked or the rule that refused it.",
    {
        "profile_id": "string",
        "id_type": "string",
        "id_value": "string",
        "status": "string",
        "records": "int64",
        "first_seen": TS,
        "last_seen": TS,
    },
)

IDENTITY_MERGES = _spec(
    "identity_merges",
    ("profile_id", "id_type", "id_value", "source", "record_id"),
    "Why records share a profile: each record an identifier joined, with the rule that allowed it.",
    {
        "profile_id": "string",
        "id_type": "string",
        "id_value": "string",
        "source": "string",
        "record_id": "string",
        "rule": "string",
        "merged_at": TS,
    },
)

IDENTITY_REFUSALS = _spec(
    "identity_refusals",
    ("id_type", "id_value", "rule"),
    "An identifier the rules kept from linking records: blocked, over-shared or over a limit.",
    {
        "id_type": "string",
        "id_value": "string",
        "rule": "string",
        "detail": "string",
        "records": "int64",
        "refused_at": TS,
    },
)

IDENTITY_OBSERVATIONS = _spec(
    "identity_observations",
    ("source", "record_id", "id_type", "id_value"),
    "Identifier observations the identity graph has processed: an incremental run's baseline.",
    {
        "source": "string",
        "record_id": "string",
        "id_type": "string",
        "id_value": "string",
        "observed_at": TS,
        "resolved_at": TS,
    },
)

# --- profiles (C3, C4): written by profiles/build.py, read by segments and the Profile API ---

PROFILES = _spec(
    "profiles",
    ("profile_id",),
    "One row per person: identifiers, presence, consent, computed traits, CLV and rule tags.",
    {
        "profile_id": "string",
        "identifiers": "int64",
        "identifier_counts": "string",
        "first_seen": TS,
        "last_seen": TS,
        "source_systems": "string",
        "channels": "string",
        "consent": "string",
        "events": "int64",
        "orders": "int64",
        "revenue": MONEY,
        "orders_online": "int64",
        "orders_offline": "int64",
        "revenue_online": MONEY,
        "revenue_offline": MONEY,
        "average_order_value": "float64",
        "first_order_at": TS,
        "last_order_at": TS,
        "recency_days": "int64",
        "mean_purchase_interval_days": "float64",
        "r_score": "int32",
        "f_score": "int32",
        "m_score": "int32",
        "rfm_segment": "string",
        "preferred_channel_engagement": "string",
        "preferred_channel_purchase": "string",
        "active_hours": "string",
        "peak_hour": "int32",
        "peak_hour_of_week": "int32",
        "device_type": "string",
        "os_name": "string",
        "top_category": "string",
        "category_affinity": "string",
        "top_content_type": "string",
        "content_type_affinity": "string",
        "last_campaign": "string",
        "last_campaign_id": "string",
        "last_campaign_at": TS,
        "last_campaign_via": "string",
        "survey_score": "float64",
        "survey_category": "string",
        "survey_nps_category": "string",
        "survey_last_answered_at": TS,
        "survey_open_complaint": "boolean",
        "p_alive": "float64",
        "expected_purchases": "float64",
        "predicted_clv": "float64",
        # The propensity models in use (propensity/): calibrated probability of a purchase
        # in the next 30 days / of churning, decile 1-10 (10 = highest), and the top
        # reasons as JSON {"purchase_30d": [...], "churn": [...]}; from propensity_scores.
        "purchase_30d_propensity": "float64",
        "purchase_30d_decile": "int32",
        "churn_propensity": "float64",
        "churn_decile": "int32",
        "propensity_reasons": "string",
        "tags": "string",
        "built_at": TS,
    },
)

PROFILE_HOURS = _spec(
    "profile_hours",
    ("profile_id", "hour_of_week"),
    "A profile's events per local hour of the week (0 = Monday 00:00), for send time and segments.",
    {
        "profile_id": "string",
        "hour_of_week": "int32",
        "events": "int64",
    },
)

PROFILE_AFFINITIES = _spec(
    "profile_affinities",
    ("profile_id", "kind", "value"),
    "A profile's weighted interest in a product category or content type, as a share of its total.",
    {
        "profile_id": "string",
        "kind": "string",
        "value": "string",
        "weight": "float64",
        "score": "float64",
    },
)

PROFILE_BUILDS = _spec(
    "profile_builds",
    ("built_at",),
    "Each `omni profiles build`: its inputs' fingerprint (to skip an unchanged rebuild), result.",
    {
        "built_at": TS,
        "fingerprint": "string",
        "status": "string",
        "profiles": "int64",
        "seconds": "float64",
        "report": "string",
    },
)

# --- segments (C5): written by segments/refresh.py and the real-time updater ---

SEGMENT_MEMBERSHIPS = _spec(
    "segment_memberships",
    ("segment", "profile_id", "entered_at"),
    "Who is in each segment, and who was: a row per stay, open (exited_at NULL) while it lasts.",
    {
        "segment": "string",
        "profile_id": "string",
        "entered_at": TS,
        "exited_at": TS,
        # The definition version that let the person in (segment_definitions.version).
        "version": "int64",
        # What put the person in: refresh (batch, full or incremental) or realtime.
        "reason": "string",
        # When the evaluation that last changed the row read the warehouse (wall clock):
        # an older evaluation applied later leaves the row alone (membership.apply).
        "evaluated_at": TS,
    },
)

SEGMENT_REFRESHES = _spec(
    "segment_refreshes",
    ("segment", "refreshed_at"),
    "Each membership update of a segment: what it read up to (an incremental run's baseline).",
    {
        "segment": "string",
        "refreshed_at": TS,
        "version": "int64",
        # full, incremental or realtime.
        "mode": "string",
        # The newest events.load_seq and profiles build the run had seen.
        "load_seq": "int64",
        "profiles_built_at": TS,
        "members": "int64",
        "entered": "int64",
        "exited": "int64",
        "seconds": "float64",
    },
)

# --- send time (C9): written by sendtime/build.py, read by journeys (next_best) ---

SEND_TIMES = _spec(
    "send_times",
    ("profile_id", "channel"),
    "Per profile and channel: the best local hour of week to send, its evidence, own or not.",
    {
        "profile_id": "string",
        "channel": "string",
        "hour_of_week": "int32",
        # Active hours observed (those with a response on the channel among them).
        "evidence": "int64",
        "engagements": "int64",
        # Share of the estimate that is the person's own data: n / (n + prior strength).
        "weight_own": "float64",
        # own (weight_own >= 0.5) or population.
        "source": "string",
        # The person's usual time zone (most frequent of their events'); NULL: unknown.
        "timezone": "string",
        "built_at": TS,
    },
)

SEND_TIME_HOURS = _spec(
    "send_time_hours",
    ("profile_id", "channel", "hour_of_week"),
    "The evidence a send-time model was fitted on: counts per local hour of week ('*' = activity).",
    {
        "profile_id": "string",
        "channel": "string",
        "hour_of_week": "int32",
        "observations": "int64",
    },
)

SEND_TIME_PEAKS = _spec(
    "send_time_peaks",
    ("channel", "hour_of_week"),
    "Per channel, the audience's share of observations in each local hour of week, and alpha.",
    {
        "channel": "string",
        "hour_of_week": "int32",
        "share": "float64",
        # The channel's fitted prior strength (observations), the same on its 168 rows.
        "prior_strength": "float64",
    },
)

SEND_TIME_BUILDS = _spec(
    "send_time_builds",
    ("built_at",),
    "Each send-time build: what it read up to, per-channel prior strength, counts (report JSON).",
    {
        "built_at": TS,
        "until": TS,
        "profiles": "int64",
        "seconds": "float64",
        "report": "string",
    },
)

# --- propensity (C14): written by propensity/service.py, joined into profiles ---

PROPENSITY_SCORES = _spec(
    "propensity_scores",
    ("profile_id", "target"),
    "Per profile and target (purchase_30d, churn): the model in use's score, decile, reasons.",
    {
        "profile_id": "string",
        "target": "string",
        "propensity": "float64",
        "decile": "int32",
        # JSON array of the top reasons, each {feature, value, effect, direction, text}.
        "reasons": "string",
        "model_version": "int64",
        # The cut-off the features were read at (the end of the active history).
        "as_of": TS,
        "scored_at": TS,
    },
)

ALL_TABLES: tuple[TableSpec, ...] = (
    EVENTS,
    IDENTIFIERS,
    CUSTOMER_RECORDS,
    ORDERS,
    ORDER_LINES,
    PRODUCTS,
    CONTENT_ITEMS,
    STORES,
    CAMPAIGNS,
    AD_SPEND,
    DELIVERIES,
    DEAD_LETTERS,
    DEAD_LETTER_REPLAYS,
    RECORD_HISTORY,
    RECORD_LINKS,
    RECORD_PROFILES,
    PROFILE_IDENTIFIERS,
    IDENTITY_MERGES,
    IDENTITY_REFUSALS,
    IDENTITY_OBSERVATIONS,
    PROFILES,
    PROFILE_HOURS,
    PROFILE_AFFINITIES,
    PROFILE_BUILDS,
    SEGMENT_MEMBERSHIPS,
    SEGMENT_REFRESHES,
    SEND_TIMES,
    SEND_TIME_HOURS,
    SEND_TIME_PEAKS,
    SEND_TIME_BUILDS,
    PROPENSITY_SCORES,
)

BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in ALL_TABLES}

META_TABLE = "omni_meta"
META_SCHEMA = ibis.schema({"key": "string", "value": "string"})
