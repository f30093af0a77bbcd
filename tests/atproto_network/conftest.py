"""Fixtures for tests against the reference atproto network."""

from tests.atproto_network.fixture import atproto_network

__all__ = ["atproto_network"]
