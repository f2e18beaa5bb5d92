"""Durable event consumers: read stored events after a checkpoint of their own."""

from __future__ import annotations

from omnichannel.consumers.checkpoints import Checkpoints
from omnichannel.consumers.runner import Consumer, ConsumerRunner, FunctionConsumer

__all__ = ["Checkpoints", "Consumer", "ConsumerRunner", "FunctionConsumer"]
