"""``omni channels check`` and ``omni messages`` / ``omni channels`` without a server, as a
user runs them (a real process); and channels.yaml's errors, secrets and templates."""

from __future__ import annotations

import json

import pytest

from omnichannel.channels.settings import parse_channels_config
from omnichannel.errors import ConfigError, ValidationError
from tests.channels.conftest import channels_yaml
from tests.cli.run import omni_in_process as omni

PLAIN = json.dumps({"body": {"n": 1}})


def test_errors_name_the_place_in_the_file_the_value_and_what_is_accepted():
    with pytest.raises(ConfigError) as bad_cap:
        parse_channels_config("caps: {channels: {sms: [{count: 1, per: '1 week'}]}}\n")
    assert "caps.channels.sms[0].per='1 week' is not accepted" in str(bad_cap.value)
    assert "1d" in str(bad_cap.value)
    with pytest.raises(ConfigError) as typo:
        parse_channels_config(channels_yaml() + "quiet_hours: {start: '21:00', edn: '08:00'}\n")
    assert "quiet_hours.edn" in str(typo.value) and "misspelt" in str(typo.value)
    with pytest.raises(ConfigError) as zone:
        parse_channels_config("quiet_hours: {timezone: Mars/Olympus}\n")
    assert "Mars/Olympus" in str(zone.value) and "IANA" in str(zone.value)
    with pytest.raises(ConfigError) as unknown:
        parse_channels_config("fax: {}\n")
    assert "fax= is not accepted" in str(unknown.value)
    with pytest.raises(ConfigError) as broken:
        parse_channels_config("caps: [\n")
    assert "not valid YAML at line" in str(broken.value)


def test_secrets_come_from_the_environment_and_are_never_printed():
    text = (
        "webhook:\n  endpoints:\n    crm: {url: 'https://crm.example/h', secret: '${CRM_SECRET}'}\n"
    )
    with pytest.raises(ConfigError) as unset:
        parse_channels_config(text, environ={})
    assert "CRM_SECRET" in str(unset.value) and "not set" in str(unset.value)
    config = parse_channels_config(text, environ={"CRM_SECRET": "s3cr3t-value-0123456789"})
    assert config.channel("webhook").endpoints["crm"].secret == "s3cr3t-value-0123456789"
    shown = json.dumps(config.redacted())
    assert "s3cr3t-value" not in shown and "${CRM_SECRET}" in shown
    with pytest.raises(ConfigError) as short:
        parse_channels_config(text, environ={"CRM_SECRET": "short"})
    assert "short" not in str(short.value) and "[redacted]" in str(short.value)


def test_an_unconfigured_channel_is_refused_at_send_time_naming_what_it_needs(
    open_platform, people_home
):
    platform = open_platform(channels_yaml())
    with pytest.raises(ValidationError) as refused:
        platform.messages.send(channel="sms", address="+8613800000001", content={"body": "hi"})
    assert refused.value.field == "channel"
    assert "add a sms: section" in str(refused.value) and "account_sid" in str(refused.value)


def test_a_saved_template_is_rendered_per_person_and_one_that_fails_for_someone_is_dropped(
    open_platform, people_home
):
    _, ids = people_home
    platform = open_platform(channels_yaml())
    platform.templates.save(
        "order-hook",
        channel="webhook",
        content={"body": {"who": "{{ profile.profile_id }}"}, "event": "order"},
        kind="transactional",
        created_by="test",
    )
    ann = platform.messages.send(channel="webhook", profile_id=ids["ann"], template="order-hook")
    message = platform.messages.get(ann["outbox_id"])
    assert message["content"] == {"body": {"who": ids["ann"]}, "event": "order"}
    assert message["kind"] == "transactional" and message["template_version"] == 1
    # The check at save time renders for a sample person, who has an email; eve has none.
    platform.templates.save(
        "email-hook",
        channel="webhook",
        content={"body": {"email": "{{ identifiers.email[0] }}"}},
        created_by="test",
    )
    eve = platform.messages.send(channel="webhook", profile_id=ids["eve"], template="email-hook")
    assert (eve["status"], eve["reason"]) == ("dropped", "render")
    assert "content.body.email" in eve["detail"]
    bob = platform.messages.send(channel="webhook", profile_id=ids["bob"], template="email-hook")
    assert platform.messages.get(bob["outbox_id"])["content"]["body"] == {"email": "bob@mail.cn"}


def test_the_cli_checks_sends_lists_and_suppresses_on_a_home(people_home, tmp_path):
    home, _ = people_home
    good = home / "channels.yaml"
    good.write_text(channels_yaml(extra="caps: {marketing: [{count: 3, per: 7d}]}\n"))
    checked = omni("channels", "check", home=home).stdout
    assert "channels.yaml is valid" in checked and "3 per week (every channel)" in checked
    bad = tmp_path / "bad.yaml"
    bad.write_text("webhook: {concurrency: 0}\n")
    refused = omni("channels", "check", str(bad), home=home, check=False)
    assert refused.returncode != 0
    assert "webhook.concurrency=0 is not accepted" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    sent = json.loads(
        omni(
            "messages",
            "send",
            "-c",
            "webhook",
            "--address",
            "ok",
            "--content",
            PLAIN,
            "--json",
            home=home,
        ).stdout
    )
    assert sent["status"] == "queued"
    listed = omni("messages", "list", "--status", "queued", home=home).stdout
    assert "webhook" in listed and "ok" in listed
    shown = omni("messages", "show", str(sent["outbox_id"]), home=home).stdout
    assert "queued" in shown
    omni("channels", "suppress", "webhook", "gone", "--reason", "manual", home=home)
    dropped = omni(
        "messages", "send", "-c", "webhook", "--address", "gone", "--content", PLAIN, home=home
    ).stdout
    assert "dropped" in dropped and "suppression" in dropped
    assert "gone" in omni("channels", "suppressions", home=home).stdout
    omni("channels", "unsuppress", "webhook", "gone", home=home)
    status = omni("messages", "status", home=home).stdout
    assert "dropped:suppression" in status
    bad_content = omni(
        "messages",
        "send",
        "-c",
        "webhook",
        "--address",
        "ok",
        "--content",
        "{not json",
        home=home,
        check=False,
    )
    assert bad_content.returncode != 0 and "--content" in bad_content.stderr + bad_content.stdout
