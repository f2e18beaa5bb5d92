"""Satisfaction and NPS surveys on every channel (C19): ``platform.surveys`` (service.py)."""
