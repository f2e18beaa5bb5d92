"""Funnels (C10): how many people go from one step to the next, and how fast.

``definition`` is the funnel document (steps, window, order, breakdown), validated with
errors naming the path; ``stream`` turns the warehouse's events, orders and deliveries
into one stream of step matches per person; ``query`` builds the Ibis expression of
each person's step times (``ordered``, ``strict`` or ``any``) and its summary;
``service`` is ``platform.funnels``, the face the CLI and the API call; ``presets``
holds the marketing funnel. docs/funnels.md describes the semantics.
"""

from __future__ import annotations

ORDERS = ("ordered", "strict", "any")
