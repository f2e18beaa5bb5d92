"""Rendering templates: sandboxed, strict, autoescaped only where HTML, errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnichannel.channels.render import (
    UNSUBSCRIBE_PLACEHOLDER,
    TemplateError,
    profile_context,
    render_parts,
    sample_context,
)
from omnichannel.platform import Platform
from tests.channels import h2_support

audience_home = h2_support.audience_home
audience = h2_support.audience


def test_a_missing_variable_is_refused_with_its_part_line_and_name() -> None:
    content = {"subject": "Hi", "text": "Hello\n\n{{ profile.first_nam }}, welcome"}
    with pytest.raises(TemplateError) as caught:
        render_parts("email", content, sample_context("email"))
    error = caught.value
    assert (error.part, error.line, error.variable) == ("text", 3, "first_nam")
    assert str(error).startswith("content.text line 3: 'first_nam' is undefined")
    # What the mapping does have, so the fix is obvious.
    assert "first_name" in str(error)


def test_an_unknown_top_level_variable_is_named() -> None:
    with pytest.raises(TemplateError, match=r"content.subject line 1: variable 'coupon'"):
        render_parts("email", {"subject": "{{ coupon }}"}, sample_context("email"))


def test_html_is_escaped_in_the_html_part_only() -> None:
    context = {**sample_context("email"), "profile": {"first_name": "<b>Ann & Co</b>"}}
    content = {"subject": "{{ profile.first_name }}", "html": "<p>{{ profile.first_name }}</p>"}
    rendered = render_parts("email", content, context)
    assert rendered["subject"] == "<b>Ann & Co</b>"
    assert rendered["html"] == "<p>&lt;b&gt;Ann &amp; Co&lt;/b&gt;</p>"


def test_the_sandbox_refuses_python_internals() -> None:
    source = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(TemplateError) as caught:
        render_parts("email", {"text": source}, sample_context("email"))
    assert caught.value.part == "text"
    assert "__class__" in str(caught.value)


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(TemplateError, match=r"content.html line 2: template syntax"):
        render_parts("email", {"html": "<p>\n{% if %}</p>"}, sample_context("email"))


def test_nested_data_parts_render_and_keep_their_types() -> None:
    content = {
        "title": "Hi {{ profile.first_name }}",
        "data": {"n": 3, "who": "{{ profile.profile_id }}"},
    }
    rendered = render_parts("push", content, sample_context("push"))
    assert rendered == {"title": "Hi Ann", "data": {"n": 3, "who": "p_sample"}}


def test_a_missing_trait_value_prints_as_nothing_and_unsubscribe_waits_for_the_send() -> None:
    context = sample_context("email")
    rendered = render_parts(
        "email", {"text": "[{{ profile.top_category }}] {{ unsubscribe_url }}"}, context
    )
    assert rendered["text"] == f"[] {UNSUBSCRIBE_PLACEHOLDER}"


def test_a_real_person_is_seen_with_traits_record_fields_and_identifiers(
    audience: Platform, audience_home: tuple[Path, dict[str, str]]
) -> None:
    ann = audience_home[1]["ann"]
    with audience.warehouse.reader() as wh:
        context = profile_context(wh, ann, channel="email", campaign="spring")
    content = {
        "subject": "{{ profile.first_name }} {{ profile.last_name }} in {{ profile.city }}",
        "text": "{{ identifiers.email[0] }} {{ profile.rfm_segment }} {{ message.campaign }}"
        "{% for s in profile.source_systems %} {{ s }}{% endfor %}",
    }
    rendered = render_parts("email", content, context)
    assert rendered["subject"] == "Zoë Pérez Smith in San Francisco"
    assert rendered["text"] == "john.smith@gmail.com prospect spring crm web"


def test_every_channel_has_an_unsubscribe_link_to_fill_in() -> None:
    # The worker of each channel replaces the placeholder with the message's own link
    # (tests/channels/test_unsubscribe_links.py follows the links to the page).
    for channel, part in (("sms", "body"), ("push", "body"), ("wechat", "url")):
        content = {part: "Stop: {{ unsubscribe_url }}"}
        rendered = render_parts(channel, content, sample_context(channel))
        assert rendered[part] == f"Stop: {UNSUBSCRIBE_PLACEHOLDER}"
