"""The atproto_network fixture is defined once, in tests/conftest.py."""
