"""Segments (C5): a condition document per segment, compiled to one Ibis expression."""
