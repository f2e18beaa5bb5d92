"""Experiments (C13): assignment, tests, CUPED, SRM, sample size, always-valid reading."""
