"""``python -m bot demo``: a believable community on loopback sandboxes, worked end to end.

The same world backs ``run`` when the config says ``sandbox: {enabled: true}``: it is seeded
from a fixed epoch, so re-seeding it later gives the same posts with the same ids, and a person
can carry on by hand with ``run`` and ``queue`` against the demo's database.
"""

from bot.cli.demo.story import run_demo
from bot.cli.demo.world import (
    CURATOR,
    CURATOR_TELEGRAM,
    TG_CHANNEL,
    TG_COMMUNITY,
    TG_CURATORS,
    DemoWorld,
    demo_config,
    world_for,
)

__all__ = [
    "CURATOR",
    "CURATOR_TELEGRAM",
    "TG_CHANNEL",
    "TG_COMMUNITY",
    "TG_CURATORS",
    "DemoWorld",
    "demo_config",
    "run_demo",
    "world_for",
]
