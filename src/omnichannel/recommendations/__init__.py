"""Recommendations of products per person (C8): collaborative, item-kNN, content, real time."""
