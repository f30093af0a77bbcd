"""Chaos and soak: do the promises hold — each approved post amplified once, nothing lost, nobody
amplified against their word — when everything goes wrong; and does normal operation at the
platforms' real limits ever meet a 429?

``chaos``: the demo community on the Mastodon, Bluesky and Telegram sandboxes and two real
``python -m bot run`` workers on one PostgreSQL database. Hundreds of posts, curators deciding
as they come, members opting out (by mention, by profile marker, by email to the curators,
through a linked account), authors deleting boosted posts, a server blocked, two digest slots;
10 % of all platform calls fail at random (5xx, 429, timeouts, dropped connections, broken
JSON, answers lost after the work was done) and the workers are SIGKILLed and restarted at
random points. Then the faults stop, the workers drain, and the counts are taken from the
platforms themselves and the database.

``soak``: one simulated hour of a busy community on the Mastodon and Telegram emulators set to
the real limits (300 requests per 5 minutes; 20 messages a minute per group), on an injected
clock so it takes seconds; counts the 429s the bot received.

``COALESCE_CHAOS_SECONDS`` (default 60) sets how long the traffic lasts, ``COALESCE_CHAOS_SEED``
the random seed.
The package: ``common`` (tag, rooms, schema, what was done), ``faults``, ``world`` (sandboxes and
workers), ``traffic``, ``checks`` (drain and counts), ``run`` (the chaos group), ``soak``.
"""

from bench.chaos.run import chaos
from bench.chaos.soak import soak

__all__ = ["chaos", "soak"]
