"""Computed traits, one module per concept, each a per-profile Ibis table keyed by profile_id.

Every trait reads the member tables of ``base.Members`` (events, orders and deliveries
already attributed to profiles) and returns an Ibis expression; ``profiles.build``
left-joins them onto the profile list, so the whole profile is one query per engine.
"""
