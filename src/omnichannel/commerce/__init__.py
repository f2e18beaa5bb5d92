"""Omnichannel commerce (C17): one catalogue with listings per channel, stock per
location with reservations that expire, and order routing that explains its choice.

``platform.commerce`` (``service.py``) is the way in; docs/commerce.md is the model.
"""
