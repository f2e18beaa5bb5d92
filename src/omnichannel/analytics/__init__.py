"""Measurement (C10-C13): attribution now; funnels, KPIs and experiments beside it later."""
