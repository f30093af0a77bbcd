"""Coalesce: the core of the community bot (config, store, queue, amplifier, CLI)."""
