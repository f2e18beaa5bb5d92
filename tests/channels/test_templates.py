"""Templates in the operational store: versioned, refused when they cannot render, previewed."""

from __future__ import annotations

import pytest

from omnichannel.channels.render import TemplateError
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.platform import Platform
from omnichannel.profiles.lookup import ProfileNotFoundError
from tests.channels import h2_support

audience_home = h2_support.audience_home
audience = h2_support.audience

WELCOME = {
    "subject": "Welcome, {{ profile.first_name }}",
    "text": "Hello {{ profile.first_name }} from {{ profile.city }}.\nStop: {{ unsubscribe_url }}",
    "html": "<p>Hello {{ profile.first_name }}</p>",
}


def test_saving_changed_content_adds_a_version_and_the_old_one_stays(audience: Platform) -> None:
    templates = audience.templates
    first = templates.save("welcome-v", channel="email", content=WELCOME, created_by="ana")
    assert (first["version"], first["changed"]) == (1, True)
    again = templates.save("welcome-v", channel="email", content=WELCOME, created_by="ana")
    assert (again["version"], again["changed"]) == (1, False)
    changed = {**WELCOME, "subject": "Hi {{ profile.first_name }}"}
    second = templates.save("welcome-v", channel="email", content=changed, created_by="bo")
    assert (second["version"], second["current_version"]) == (2, 2)
    assert templates.get("welcome-v", version=1)["content"] == WELCOME
    assert templates.get("welcome-v")["content"]["subject"] == "Hi {{ profile.first_name }}"
    assert [v["created_by"] for v in templates.versions("welcome-v")] == ["ana", "bo"]


def test_a_template_that_cannot_render_is_refused_and_not_stored(audience: Platform) -> None:
    broken = {**WELCOME, "html": "<p>\n  Hello {{ profile.frist_name }}\n</p>"}
    with pytest.raises(TemplateError) as caught:
        audience.templates.save("broken", channel="email", content=broken)
    assert (caught.value.part, caught.value.line, caught.value.variable) == (
        "html",
        2,
        "frist_name",
    )
    assert "did you mean first_name?" in str(caught.value)
    with pytest.raises(NotFoundError, match="no template named 'broken'"):
        audience.templates.get("broken")


def test_bad_names_channels_and_kinds_are_refused_by_field(audience: Platform) -> None:
    with pytest.raises(ValidationError, match="template name='Welcome!'"):
        audience.templates.save("Welcome!", channel="email", content=WELCOME)
    with pytest.raises(ValidationError, match="channel='fax'"):
        audience.templates.save("fax-it", channel="fax", content={"body": "hi"})
    with pytest.raises(ValidationError, match="kind='promo'"):
        audience.templates.save("promo", channel="email", content=WELCOME, kind="promo")
    audience.templates.save("email-only", channel="email", content=WELCOME)
    with pytest.raises(ValidationError, match=r"channel='sms'.*'email', the channel of"):
        audience.templates.save("email-only", channel="sms", content={"body": "hi"})


def test_archived_templates_leave_the_list_and_cannot_be_sent(audience: Platform) -> None:
    audience.templates.save("old-promo", channel="email", content=WELCOME)
    audience.templates.archive("old-promo", actor="ana")
    assert "old-promo" not in [t["name"] for t in audience.templates.list()]
    assert "old-promo" in [t["name"] for t in audience.templates.list(archived=True)]
    with pytest.raises(ValidationError, match="not archived"):
        audience.templates.render_for("old-promo", {})
    revived = audience.templates.save("old-promo", channel="email", content=WELCOME)
    assert revived["archived_at"] is None and revived["version"] == 1


def test_preview_renders_for_the_person_found_by_any_identifier(audience: Platform) -> None:
    audience.templates.save("preview-me", channel="email", content=WELCOME)
    by_email = audience.templates.preview("preview-me", profile="email: John.Smith@GMail.com ")
    by_phone = audience.templates.preview("preview-me", profile="phone:+8613812345678")
    assert by_email == by_phone
    assert by_email["rendered"]["subject"] == "Welcome, Zoë"
    text = by_email["rendered"]["text"]
    assert text.startswith("Hello Zoë from San Francisco.")
    assert text.endswith("/unsubscribe/preview")
    with pytest.raises(ProfileNotFoundError):
        audience.templates.preview("preview-me", profile="email:nobody@mail.cn")
