"""The HTTP API (FastAPI); its OpenAPI document at /docs is the contract."""

from __future__ import annotations

from omnichannel.api.app import create_app

__all__ = ["create_app"]
