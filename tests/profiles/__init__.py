"""Tests of omnichannel.profiles."""
