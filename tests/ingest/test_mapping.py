"""Mappings are checked before any row is read: bad ones fail naming key, value and options."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from omnichannel.ingest.mapping import MappingError, load_mapping, parse_mapping, shipped_mappings


def test_every_shipped_mapping_is_valid() -> None:
    names = set(shipped_mappings())
    assert {
        "shopify-orders",
        "google-ads",
        "meta-ads",
        "wechat-followers",
        "hubspot-contacts",
        "square-items",
        "google-ads-api",
    } <= names
    for name in names:
        assert load_mapping(name).name == name


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(MappingError, match=r"kind='invoices'.*orders, pos, crm"):
        parse_mapping({"kind": "invoices", "fields": {}})


def test_unknown_transform_lists_the_transforms() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping({"kind": "crm", "fields": {"record_id": {"column": "Id", "reverse": True}}})
    assert "fields.record_id.reverse" in str(caught.value)
    assert "multiply" in str(caught.value) and "format" in str(caught.value)


def test_unknown_target_field_lists_the_fields() -> None:
    with pytest.raises(MappingError, match=r"fields\.surname.*first_name, last_name"):
        parse_mapping({"kind": "crm", "fields": {"record_id": "Id", "surname": "Name"}})


def test_unknown_identifier_type() -> None:
    with pytest.raises(MappingError, match=r"identifiers\.qq.*wechat_openid"):
        parse_mapping({"kind": "crm", "fields": {"record_id": "Id"}, "identifiers": {"qq": "QQ"}})


def test_required_field_unmapped() -> None:
    with pytest.raises(MappingError, match=r"fields\.store_id"):
        parse_mapping({"kind": "pos", "fields": {"order_id": "Ticket"}})


def test_bad_time_zone() -> None:
    with pytest.raises(MappingError, match=r"timezone='Beijing'.*Asia/Shanghai"):
        parse_mapping({"kind": "crm", "timezone": "Beijing", "fields": {"record_id": "Id"}})


def test_section_not_allowed_for_kind() -> None:
    with pytest.raises(MappingError, match=r"lines.*orders, pos"):
        parse_mapping({"kind": "crm", "fields": {"record_id": "Id"}, "lines": {"sku": "S"}})


def test_malformed_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("kind: [orders\n")
    with pytest.raises(MappingError, match="valid YAML"):
        load_mapping(path)


def test_unknown_mapping_name_lists_the_shipped_ones() -> None:
    with pytest.raises(MappingError, match="shopify-orders"):
        load_mapping("no-such-mapping")


def test_round_trip_through_yaml() -> None:
    mapping = load_mapping("shopify-orders")
    again = parse_mapping(yaml.safe_load(mapping.to_yaml()))
    assert again.sections == mapping.sections
