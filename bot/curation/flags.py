"""Flags on a curator's card that help spot a pile-on, a privacy slip or a bot before amplifying.

Pure: given what we know of a post and its author, say what deserves a second look. Flags
inform; curators decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.trust.settings import FlagSettings

if TYPE_CHECKING:
    from bot.curation.queue import CandidateView

_MENTION = re.compile(r"(?<![\w@/])@[\w.-]+(?:@[\w-]+(?:\.[\w-]+)+)?")


@dataclass(frozen=True)
class Flag:
    # bot | new_account | many_mentions | stranger_replies | patient_info | not_consenting
    # | stranger_nomination | conference (a badge, not a warning)
    code: str
    text: str  # what the curator reads on the card


def mentions_in(text: str) -> int:
    """How many distinct accounts ``text`` mentions (@user, @user@server, @handle.bsky.social)."""
    return len({m.group(0).casefold().rstrip(".") for m in _MENTION.finditer(text)})


def bot_flag(author_is_bot: bool, automated: str | None) -> Flag | None:
    """Who is speaking: a bot or automated account (Mastodon's ``bot``, a Telegram bot, Bluesky's
    ``bot`` self-label), or a person's post made by automation (a Telegram inline bot)."""
    if author_is_bot:
        return Flag("bot", "posted by a bot or automated account")
    if automated:
        return Flag("bot", f"automated: {automated}")
    return None


def card_flags(
    settings: FlagSettings,
    *,
    text: str,
    now: datetime,
    author_created_at: datetime | None = None,
    mentions: int | None = None,
    stranger_replies: int | None = None,
    patterns: Iterable[re.Pattern[str]] | None = None,
    nominated_by_stranger: bool = False,
    consent_note: str | None = None,
    author_is_bot: bool = False,
    automated: str | None = None,
    conference: str | None = None,
) -> list[Flag]:
    """Every flag the post earns. ``mentions`` defaults to counting them in the text;
    ``stranger_replies`` is given only by platforms that can tell (None: not known).
    ``consent_note``: why the profile rule (bot.trust.discovery) holds the post back, if it does."""
    flags: list[Flag] = []
    if conference:
        flags.append(Flag("conference", f"🎤 conference post: {conference}"))
    bot = bot_flag(author_is_bot, automated)
    if bot is not None:
        flags.append(bot)
    if consent_note:
        flags.append(Flag("not_consenting", consent_note))
    if nominated_by_stranger:
        flags.append(Flag("stranger_nomination", "nominated by an account that has never taken part"))
    if settings.new_account_days and author_created_at is not None:
        age = now - author_created_at
        if age.total_seconds() < settings.new_account_days * 86400:
            days = max(0, age.days)
            when = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
            flags.append(Flag("new_account", f"author's account opened {when}"))
    count = mentions_in(text) if mentions is None else mentions
    if settings.many_mentions and count >= settings.many_mentions:
        flags.append(Flag("many_mentions", f"mentions {count} accounts"))
    if (
        settings.stranger_replies
        and stranger_replies is not None
        and stranger_replies >= settings.stranger_replies
    ):
        flags.append(
            Flag("stranger_replies", f"{stranger_replies} replies from accounts that don't follow the author")
        )
    compiled = settings.compiled() if patterns is None else tuple(patterns)
    if any(p.search(text) for p in compiled):
        # Never quote the match: the card would repeat what may be a patient's details.
        flags.append(Flag("patient_info", "may carry patient information: read before amplifying"))
    return flags


def view_flags(settings: FlagSettings, view: CandidateView, now: datetime) -> list[Flag]:
    """Every flag of a queued candidate: the card and ``queue show`` both read these."""
    return card_flags(
        settings,
        text=view.text,
        now=now,
        author_created_at=view.author_created_at,
        stranger_replies=view.stranger_replies,
        author_is_bot=view.author_is_bot,
        automated=view.automated,
        nominated_by_stranger=view.nominated_by_stranger,
        consent_note=view.consent_note,
        conference=view.conference,
    )
