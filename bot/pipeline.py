"""From watched posts to candidates: the pure filters, then one bulk write to the store.

Each filter names the reason an item was skipped; the reasons are stored with the post and
counted in the logs, so a curator can always ask "why did this not reach the queue?".
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.alerts import alert
from bot.config import Settings
from bot.consent import ConsentRegistry
from bot.domain import Batch, MemberRequest, Platform, Post, normalize_tag
from bot.safety import Blocklist, RuntimeBlocks
from bot.sanitize import clean_batch
from bot.store import IngestResult, Item, Store

log = logging.getLogger(__name__)

_TAG_IN_TEXT = re.compile(r"(?:^|(?<=[^\w/]))[#＃](\w+)", re.UNICODE)


def hashtags_in(text: str) -> frozenset[str]:
    """Hashtags written in plain text, normalised (for platforms that give no tag list)."""
    text = unicodedata.normalize("NFKC", text)
    return frozenset(normalize_tag(t) for t in _TAG_IN_TEXT.findall(text))


class Filters:
    """The community's rules for what may reach the queue; pure, given the settings and a time."""

    def __init__(self, settings: Settings) -> None:
        self.tags = frozenset(settings.community.tags)
        self.opportunity_tag = settings.series.opportunities.normalized_tag
        self.include_replies = settings.curation.include_replies
        self.max_age = timedelta(hours=settings.curation.max_age_hours)
        self.markers = frozenset(normalize_tag(t) for t in settings.curation.optout_markers)
        block = settings.blocklist
        self.blocked_accounts = frozenset(a.lstrip("@").casefold() for a in block.accounts)
        self.blocked_domains = frozenset(d.lstrip("@").casefold() for d in block.domains)
        self.blocked_words = tuple(k.casefold() for k in block.keywords)
        self._config_blocks = (self.blocked_accounts, self.blocked_domains, self.blocked_words)

    def use_runtime_blocks(self, runtime: RuntimeBlocks) -> None:
        """The config's blocklist plus what curators blocked at runtime (``python -m bot block``)."""
        accounts, domains, words = self._config_blocks
        self.blocked_accounts = accounts | {a.lstrip("@").casefold() for a in runtime.accounts}
        self.blocked_domains = domains | {d.casefold() for d in runtime.domains}
        self.blocked_words = words + tuple(k for k in runtime.keywords if k not in words)

    def opted_out_by_profile(self, bio: str) -> bool:
        return bool(self.markers & hashtags_in(bio))

    def is_blocked(self, post: Post) -> bool:
        author = post.author
        handle = author.handle.lstrip("@").casefold()
        if handle in self.blocked_accounts or author.account_id.casefold() in self.blocked_accounts:
            return True
        domain = handle.rpartition("@")[2] if "@" in handle else ""
        if domain and domain in self.blocked_domains:
            return True
        text = post.text.casefold()
        return any(word in text for word in self.blocked_words)

    def verdict(self, post: Post, now: datetime, *, nominated: bool = False) -> str | None:
        """The reason to skip ``post``, or None when it may become a candidate."""
        if post.is_boost:
            return "boost"
        if self.is_blocked(post):
            return "blocked"
        if self.opted_out_by_profile(post.author.bio):
            return "opted_out"
        if nominated:
            return None  # a member asked for it: replies and older posts are fine
        if not (post.hashtags & self.tags):
            return "no_hashtag"
        if post.is_reply and not self.include_replies:
            return "reply"
        if now - post.created_at > self.max_age:
            return "too_old"
        return None

    def kind_of(self, post: Post) -> dict[str, str]:
        """An opportunity a member shares is approved onto the digest's list, not boosted."""
        if self.opportunity_tag in post.hashtags:
            return {"kind": "opportunity", "reason": "opportunity"}
        return {}

    def items(self, batch: Batch, now: datetime) -> list[Item]:
        out = [Item(post=p, skip=self.verdict(p, now), **self.kind_of(p)) for p in batch.posts]
        for n in batch.nominations:
            out.append(
                Item(
                    post=n.post,
                    reason="nomination",
                    skip=self.verdict(n.post, now, nominated=True),
                    nominated_by=n.nominated_by.handle,
                )
            )
        return out


class Pipeline:
    """Runs batches through the filters into the store, and says what happened in the log."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.filters = Filters(settings)
        self.store = store
        self.consent = ConsentRegistry(store, settings)
        self.blocklist = Blocklist(store, settings, self.consent)

    def ingest(self, platform: Platform, batch: Batch, now: datetime) -> IngestResult:
        batch, rejected = clean_batch(batch)
        for item_id, why in rejected:
            log.warning(
                "skipped malformed item", extra={"platform": platform.value, "id": item_id, "error": why}
            )
        self.filters.use_runtime_blocks(self.blocklist.runtime())
        for request in batch.requests:  # first: a crash before the cursor moves replays them, once each
            self._record_request(platform, request, now)
        items = self.filters.items(batch, now)
        # A member on one platform may nominate a post on another (a Mastodon link sent to the
        # Telegram bot): that post is stored as the other platform's, where it is amplified.
        elsewhere = [i for i in items if i.post.platform != platform]
        items = [i for i in items if i.post.platform == platform]
        queued_elsewhere: list[int] = []
        for other in dict.fromkeys(i.post.platform for i in elsewhere):
            nominated = self.store.ingest(
                other,
                [i for i in elsewhere if i.post.platform == other],
                now,
                consent_mode=self.settings.community.consent,
            )
            log.info(
                "ingested nominations from another platform",
                extra={
                    "community": self.settings.community.slug,
                    "platform": other.value,
                    "via": platform.value,
                    "queued": len(nominated.candidates),
                    "skipped": _fmt(nominated.skipped.items()),
                },
            )
            queued_elsewhere.extend(nominated.candidates)
        result = self.store.ingest(
            platform,
            items,
            now,
            source=batch.source,
            cursor=batch.cursor,
            consent_mode=self.settings.community.consent,
        )
        result.candidates.extend(queued_elsewhere)
        marked = {
            i.post.author.account_id for i in items if self.filters.opted_out_by_profile(i.post.author.bio)
        }
        if marked:  # #nobot in a profile is an opt-out: recorded, so earlier boosts are taken back too
            self.consent.mark_opted_out(platform, marked, "profile marker")
        if batch.malformed:
            result.skip("malformed", batch.malformed)
        if items or batch.malformed:
            log.info(
                "ingested batch",
                extra={
                    "community": self.settings.community.slug,
                    "platform": platform.value,
                    "source": batch.source,
                    "received": len(items),
                    "stored": result.stored,
                    "queued": len(result.candidates),
                    "skipped": _fmt(result.skipped.items()),
                },
            )
        return result

    def _record_request(self, platform: Platform, request: MemberRequest, now: datetime) -> None:
        """One member request, on its own: one that cannot be handled (bad data, a bug) fails
        alone and the curators are told, while the others and the batch's posts go on. The
        database being unreachable is not the request's fault: that stops the batch, to be
        replayed."""
        try:
            self.consent.record(platform, [request], now)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.exception(
                "a member request could not be handled",
                extra={"platform": platform.value, "kind": request.kind, "error": reason},
            )
            ref = request.reply_ref or f"{request.author.account_id}:{request.kind}:{now.isoformat()}"
            alert(
                self.store,
                f"request:{platform.value}:{ref}"[:128],
                f"⚠️ A member's request ({request.kind} from {request.author.handle} on "
                f"{platform.value.capitalize()}) could not be handled: {reason}. Please look at it "
                "by hand (an opt-out can be recorded with python -m bot member optout).",
                now,
            )


def _fmt(pairs: Iterable[tuple[str, int]]) -> str:
    return ",".join(f"{k}:{v}" for k, v in sorted(pairs)) or "-"
