"""Journeys: automated multi-step strategies, run durably (C6, C9; docs/journeys.md)."""
