"""Collaboration (C16): comments with @mentions on segments, journeys and reports, and
each user's notifications. ``platform.collaboration`` is ``CollaborationCapability``."""
