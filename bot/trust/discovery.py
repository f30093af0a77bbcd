"""Does a profile consent to being amplified? One pure rule, used by the pipeline (before a post
reaches the curators), the last look before each amplification, and the curators' cards.

A profile can say no in two ways. An opt-out marker in the bio (``#nobot``…) is an opt-out: it
is recorded, and wins until the member opts back in and removes it. A platform signal is what
the member told their own platform about being found — Mastodon's ``discoverable: false`` or
``noindex: true``, Bluesky's ``!no-unauthenticated`` self-label: under ``consent: opt-out`` such
an account is treated as not (yet) consenting, so its posts still reach the curators (who may
read them) but are not amplified until the member opts in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.domain import hashtags_in, normalize_tag
from bot.trust.settings import SIGNALS

if TYPE_CHECKING:
    from bot.config import Settings

OPTED_OUT: Literal["opted_out"] = "opted_out"
WITHHELD: Literal["withheld"] = "withheld"


@dataclass(frozen=True)
class ProfileRule:
    """What the rule needs from the settings: the opt-out markers, and the signals respected
    (none under ``consent: opt-in``, where nobody is amplified before opting in anyway)."""

    markers: frozenset[str]
    respected: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> ProfileRule:
        markers = frozenset(normalize_tag(t) for t in settings.curation.optout_markers)
        if settings.community.consent != "opt-out":
            return cls(markers, frozenset())
        return cls(markers, settings.trust.respect_platform_signals.respected())


@dataclass(frozen=True)
class Objection:
    """Why a profile does not consent: ``opted_out`` (a marker: recorded as an opt-out) or
    ``withheld`` (a platform signal: not amplified until the member opts in)."""

    kind: Literal["opted_out", "withheld"]
    reason: str  # what the curators read


def objection(
    rule: ProfileRule, *, bio: str, withheld: Iterable[str], opted_in: bool = False, whose: str = "the author"
) -> Objection | None:
    """The profile's objection to being amplified, or None when it consents.

    ``opted_in``: the member said ``optin`` (on any linked account); that outweighs a platform
    signal but never a marker still in the bio. ``whose`` names the profile in the reason (the
    author, or the author of a quoted post)."""
    if rule.markers & hashtags_in(bio):
        return Objection(OPTED_OUT, f"{whose}'s profile asks not to be amplified")
    held = [name for name in SIGNALS if name in rule.respected and name in frozenset(withheld)]
    if held and not opted_in:
        said = " and ".join(SIGNALS[name] for name in held)
        return Objection(WITHHELD, f"not amplified until they opt in: {whose} {said}")
    return None
