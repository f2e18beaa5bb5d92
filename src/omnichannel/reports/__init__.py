"""Saved reports and teams (C15, C16): ``platform.reports`` (service.py), docs/reports.md."""
