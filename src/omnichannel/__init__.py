"""Omnichannel: one Python system for customer data, journeys and measurement."""

from __future__ import annotations

__version__ = "0.1.0"
