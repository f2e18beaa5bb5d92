"""Which adapter serves which channel, imported only when the channel is used.

A channel's module defines its adapter class (``<Name>Adapter``, constructed as
``Adapter(settings, context)``) and its settings model (``<Name>Settings``, a subclass
of ``adapter.ChannelSettings``). Adding a channel is one line here and one module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.channels.adapter import ChannelSettings

# channel name -> (module, adapter class, settings class)
CHANNELS: dict[str, tuple[str, str, str]] = {
    "email": ("omnichannel.channels.email", "EmailAdapter", "EmailSettings"),
    "sms": ("omnichannel.channels.sms", "SmsAdapter", "SmsSettings"),
    "push": ("omnichannel.channels.push", "PushAdapter", "PushSettings"),
    "wechat": ("omnichannel.channels.wechat", "WechatAdapter", "WechatSettings"),
    "webhook": ("omnichannel.channels.webhook", "WebhookAdapter", "WebhookSettings"),
    "inbox": ("omnichannel.channels.inbox", "InboxAdapter", "InboxSettings"),
}


def known(channel: str) -> str:
    """``channel`` if it is one of ours, else a ValidationError listing them."""
    if channel not in CHANNELS:
        raise ValidationError("channel", channel, f"one of {', '.join(CHANNELS)}")
    return channel


def adapter_class(channel: str) -> type:
    module, adapter, _ = CHANNELS[known(channel)]
    return getattr(import_module(module), adapter)


def settings_class(channel: str) -> type[ChannelSettings]:
    module, _, settings = CHANNELS[known(channel)]
    return getattr(import_module(module), settings)
