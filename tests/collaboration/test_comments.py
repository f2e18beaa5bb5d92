"""Comments and @mentions: who is notified, edits keep history, bad mentions are refused by
name, everything audited; the same from ``omni comments``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnichannel.channels.settings import parse_channels_config
from omnichannel.cli import app
from omnichannel.config import Settings
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.installation import initialise
from omnichannel.platform import Platform
from tests.channels.conftest import wait_for
from tests.channels.servers.smtp import smtp_server

LI = "li@shop.example"
USERS = {
    "ana@shop.example": "marketer",
    "li@shop.example": "approver",
    "li@agency.example": "analyst",  # a second "li": @li alone is ambiguous
    "vic@shop.example": "viewer",
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    settings = Settings(home=tmp_path / "home")
    initialise(settings)
    with Platform(settings) as platform:
        for email, role in USERS.items():
            platform.users.create(email, role=role, password="correct horse battery", actor="t")
        vip = {"name": "vip", "condition": {"event": {"name": "Order Completed"}}}
        platform.segments.create(vip, created_by="t")
    return settings.home


@pytest.fixture
def platform(home: Path) -> Iterator[Platform]:
    with Platform(Settings(home=home)) as opened:
        yield opened


def test_mentions_notify_each_user_once_and_edits_keep_the_earlier_text(
    platform: Platform,
) -> None:
    talk = platform.collaboration
    first = talk.add(
        "segment:vip",
        "@li@shop.example and @vic: is 'Order Completed' enough? cc @ana, @vic.",
        author="ana@shop.example",
    )
    assert first["mentions"] == ["li@shop.example", "vic@shop.example", "ana@shop.example"]
    # The author is not notified of their own mention; each other user once.
    assert talk.unread_count("ana@shop.example") == 0
    [note] = talk.notifications("li@shop.example")
    assert (note["subject"], note["actor"], note["comment_id"]) == (
        "segment:vip",
        "ana@shop.example",
        first["id"],
    )
    assert talk.unread_count("vic@shop.example") == 1

    edited = talk.edit(first["id"], "@li@agency.example thoughts?", actor="ana@shop.example")
    assert edited["edits"][0]["body"].startswith("@li@shop.example and @vic")
    assert edited["edited_at"] is not None
    assert talk.unread_count("li@agency.example") == 1  # newly mentioned
    assert talk.unread_count("li@shop.example") == 1  # not notified a second time
    with pytest.raises(ValidationError, match=r"ana@shop\.example, who wrote comment"):
        talk.edit(first["id"], "hijacked", actor="vic@shop.example")

    assert talk.mark_read("vic@shop.example") == 1
    assert talk.notifications("vic@shop.example", unread=True) == []
    assert [c["id"] for c in talk.comments("segment:vip")] == [first["id"]]
    actions = [e["action"] for e in platform.access.audit(target="segment:vip")]
    assert actions[:2] == ["comment.edit", "comment.create"]


def test_a_mention_of_nobody_or_of_two_users_and_a_missing_subject_are_refused(
    platform: Platform,
) -> None:
    talk = platform.collaboration
    with pytest.raises(ValidationError) as ambiguous:
        talk.add("segment:vip", "ask @li", author="ana@shop.example")
    assert "li@agency.example" in str(ambiguous.value) and "li@shop.example" in str(ambiguous.value)
    with pytest.raises(ValidationError, match="@bob matches no active user"):
        talk.add("segment:vip", "ask @bob", author="ana@shop.example")
    assert (
        talk.add("segment:vip", "mail ana@shop.example", author="vic@shop.example")["mentions"]
        == []
    )  # an address in the text is no mention
    with pytest.raises(NotFoundError):
        talk.add("segment:nope", "hello", author="ana@shop.example")
    with pytest.raises(ValidationError, match="segment, journey, report"):
        talk.add("campaign:x", "hello", author="ana@shop.example")
    with pytest.raises(ValidationError, match="body"):
        talk.add("segment:vip", "   ", author="ana@shop.example")


def test_omni_comments_add_list_and_notifications(home: Path) -> None:
    def omni(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env={"OMNI_HOME": str(home)})
        assert result.exit_code == 0, result.output
        return result.output

    added = json.loads(
        omni("comments", "add", "segment:vip", "@ana looks right", "--as", LI, "--json")
    )
    assert added["author"] == "li@shop.example" and added["mentions"] == ["ana@shop.example"]
    listed = json.loads(omni("comments", "list", "segment:vip", "--json"))
    assert [c["body"] for c in listed] == ["@ana looks right"]
    notes = json.loads(omni("comments", "notifications", "ana@shop.example", "--json"))
    assert [n["actor"] for n in notes] == ["li@shop.example"]
    assert "looks right" in omni("comments", "list", "segment:vip")
    refused = CliRunner().invoke(
        app, ["comments", "add", "segment:vip", "hi @zed"], env={"OMNI_HOME": str(home)}
    )
    assert refused.exit_code != 0 and "@zed matches no active user" in str(refused.exception)
    assert json.loads(omni("messages", "sends", "--json")) == []


def test_mentioned_users_may_be_emailed_through_the_send_path(platform: Platform) -> None:
    with smtp_server() as smtp:
        platform.messages.use_config(
            parse_channels_config(
                "public_base_url: https://omni.shop.example\n"
                f"email:\n  host: {smtp.host}\n  port: {smtp.port}\n"
                "  from_address: omni@shop.example\n  timeout: 5\n"
            )
        )
        platform.channels.start(["email"], poll_seconds=0.05)
        added = platform.collaboration.add(
            "segment:vip", "@vic {{ not a template }} please look", author=LI, email=True
        )
        assert added["emailed"] == ["vic@shop.example"]
        wait_for(lambda: smtp.handler.messages, timeout=60, what="the mention's email")
        [mail] = smtp.handler.messages
        assert mail.recipients == ["vic@shop.example"]
        assert mail.message["Subject"] == f"{LI} mentioned you on segment:vip"
        text = mail.part("plain")
        assert "{{ not a template }} please look" in text  # the body is data, not Jinja
        assert f"https://omni.shop.example/segments/vip#comment-{added['id']}" in text
        platform.channels.stop()
