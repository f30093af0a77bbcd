"""From watched posts to candidates: the pure filters, then one bulk write to the store.

Each filter names the reason an item was skipped; the reasons are stored with the post and
counted in the logs, so a curator can always ask "why did this not reach the queue?".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.conference.model import MATCH_KNOWN_MEMBERS, ConferenceView, conferences, open_at
from bot.config import Settings
from bot.domain import Author, Batch, MemberRequest, Platform, Post
from bot.domain import hashtags_in as hashtags_in  # its home was here; importers still find it
from bot.sanitize import clean_batch
from bot.store.alerts import alert
from bot.store.store import IngestResult, Item, Store
from bot.trust.consent import ConsentRegistry
from bot.trust.discovery import OPTED_OUT, ProfileRule, objection
from bot.trust.member_chat import MemberChat
from bot.trust.safety import Blocklist, BlockMatcher, RuntimeBlocks

log = logging.getLogger(__name__)


class Filters:
    """The community's rules for what may reach the queue; pure, given the settings and a time."""

    def __init__(self, settings: Settings) -> None:
        self.tags = frozenset(settings.community.tags)
        self.opportunity_tag = settings.series.opportunities.normalized_tag
        self.include_replies = settings.curation.include_replies
        self.skip_bots = settings.curation.skip_bots
        self.max_age = timedelta(hours=settings.curation.max_age_hours)
        self.rule = ProfileRule.of(settings)  # the opt-out markers and the platform signals
        self.blocks = BlockMatcher(settings)
        curators: dict[Platform, set[str]] = {}
        for curator in settings.curators:
            for platform, value in curator.identities().items():
                curators.setdefault(platform, set()).add(value.lstrip("@").casefold())
        self._curators = {p: frozenset(v) for p, v in curators.items()}
        # The tags that decide what happens to a post: never cut from an oversized tag list.
        self.base_kept_tags = self.tags | {self.opportunity_tag} | self.rule.markers
        self.kept_tags = self.base_kept_tags
        # Open conferences that queue their tag alone from known members (bot.conference), and
        # the authors of the batch at hand known to have taken part.
        self.member_conference_tags: frozenset[str] = frozenset()
        self.known_members: frozenset[str] = frozenset()

    def use_conferences(self, open_now: Iterable[ConferenceView], known_members: Iterable[str] = ()) -> None:
        """The conferences open now: their tags are kept, and those matched by known members
        let such a member's post in without the community's tag."""
        confs = list(open_now)
        self.kept_tags = self.base_kept_tags | {c.tag for c in confs}
        self.member_conference_tags = frozenset(c.tag for c in confs if c.match == MATCH_KNOWN_MEMBERS)
        self.known_members = frozenset(known_members)

    def conference_admits(self, post: Post) -> bool:
        return (
            bool(post.hashtags & self.member_conference_tags) and post.author.account_id in self.known_members
        )

    def use_runtime_blocks(self, runtime: RuntimeBlocks) -> None:
        """The config's blocklist plus what curators blocked at runtime (``python -m bot block``)."""
        self.blocks.use_runtime_blocks(runtime)

    def opted_out(self, author: Author) -> bool:
        """The profile carries an opt-out marker (a platform signal alone is no opt-out: such a
        post still reaches the curators, and waits for the member's opt-in to be amplified)."""
        found = objection(self.rule, bio=author.bio, withheld=author.withheld)
        return found is not None and found.kind == OPTED_OUT

    def is_blocked(self, post: Post) -> bool:
        return self.blocks.is_blocked(post)

    def verdict(self, post: Post, now: datetime, *, nominated: bool = False) -> str | None:
        """The reason to skip ``post``, or None when it may become a candidate."""
        if post.is_boost:
            return "boost"
        if self.is_blocked(post):
            return "blocked"
        if self.opted_out(post.author):
            return "opted_out"
        if post.quoted_author is not None and self.opted_out(post.quoted_author):
            return "quoted_opted_out"  # amplifying a quote amplifies the post it carries
        if self.skip_bots and post.by_bot:
            return "bot"  # nominated or not: the community asked to hear only from people
        if nominated:
            return None  # a member asked for it: replies and older posts are fine
        if not (post.hashtags & self.tags) and not self.conference_admits(post):
            return "no_hashtag"
        if post.is_reply and not self.include_replies:
            return "reply"
        if now - post.created_at > self.max_age:
            return "too_old"
        return None

    def kind_of(self, post: Post) -> dict[str, Any]:
        """An opportunity a member shares is approved onto the digest's list, not boosted."""
        if self.opportunity_tag in post.hashtags:
            return {"kind": "opportunity", "reason": "opportunity"}
        return {}

    def edit_notes(self, post: Post) -> dict[str, Any]:
        """What an edit of a stored post means for its candidate (``bot.store.edits``)."""
        if post.edited_at is None:
            return {}
        markers = sorted(self.rule.markers & post.hashtags)
        return {
            "edit_optout": f"the author added #{markers[0]} to the post" if markers else None,
            "edit_untagged": not (post.hashtags & self.tags) and not self.conference_admits(post),
        }

    def items(self, batch: Batch, now: datetime, taken_part: frozenset[str] = frozenset()) -> list[Item]:
        """``taken_part``: the nominators (by account id) known to have taken part in the
        community; a nomination by anyone else is flagged on its card."""
        out = []
        for p in batch.posts:
            kind = self.kind_of(p)
            out.append(
                Item(
                    post=p,
                    skip=self.verdict(p, now),
                    reason=kind.get("reason", "hashtag"),
                    kind=kind.get("kind", "post"),
                    **self.edit_notes(p),
                )
            )
        for n in batch.nominations:
            # A forward is a member passing on someone else's message with the hashtag: judged as
            # that author's post (tag, age), shown as forwarded by the member.
            nominated = n.reason != "forward"
            skip = self.verdict(n.post, now, nominated=nominated)
            if skip is None and not nominated and self.is_blocked(replace(n.post, author=n.nominated_by)):
                skip = "blocked"  # a blocked member passing on others' words is still blocked
            out.append(
                Item(
                    post=n.post,
                    reason="nomination" if nominated else "forward",
                    skip=skip,
                    nominated_by=n.nominated_by.handle,
                    nominated_by_stranger=nominated and n.nominated_by.account_id not in taken_part,
                    **self.edit_notes(n.post),
                )
            )
        return out

    def curator_accounts(self, platform: Platform) -> frozenset[str]:
        """The curators' own accounts on ``platform`` (ids and handles, folded)."""
        return self._curators.get(platform, frozenset())


class Pipeline:
    """Runs batches through the filters into the store, and says what happened in the log.
    ``member_chat``: where members' private conversations go (the app gives the mini-interviews).
    """

    def __init__(self, settings: Settings, store: Store, *, member_chat: MemberChat | None = None) -> None:
        self.settings = settings
        self.filters = Filters(settings)
        self.store = store
        self.consent = ConsentRegistry(store, settings, chat=member_chat)
        self.blocklist = Blocklist(store, settings, self.consent)

    def ingest(self, platform: Platform, batch: Batch, now: datetime) -> IngestResult:
        self._use_conferences(platform, batch, now)
        batch, rejected = clean_batch(batch, self.filters.kept_tags)
        for item_id, why in rejected:
            log.warning(
                "skipped malformed item", extra={"platform": platform.value, "id": item_id, "error": why}
            )
        self.filters.use_runtime_blocks(self.blocklist.runtime())
        for request in batch.requests:  # first: a crash before the cursor moves replays them, once each
            self._record_request(platform, request, now)
        items = self.filters.items(batch, now, self._taken_part(platform, batch))
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
        marked = {a.account_id for i in items for a in i.post.authors() if self.filters.opted_out(a)}
        if marked:  # #nobot in a profile is an opt-out: recorded, so earlier boosts are taken back too
            self.consent.mark_opted_out(platform, marked, "profile marker", now)
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

    def _use_conferences(self, platform: Platform, batch: Batch, now: datetime) -> None:
        with self.store.engine.connect() as conn:
            open_now = open_at(conferences(conn, self.store.community_id), now)
        member_tags = {c.tag for c in open_now if c.match == MATCH_KNOWN_MEMBERS}
        ids = [p.author.account_id for p in batch.posts if p.hashtags & member_tags]
        known = self.store.taken_part(platform, ids, self.filters.tags) if ids else set()
        self.filters.use_conferences(open_now, known)

    def _taken_part(self, platform: Platform, batch: Batch) -> frozenset[str]:
        """The nominators of ``batch`` who took part before: a tagged post, an opt-in, a link,
        or a curator's own account."""
        if not batch.nominations:
            return frozenset()
        curators = self.filters.curator_accounts(platform)
        by = [n.nominated_by for n in batch.nominations]
        known = {
            a.account_id for a in by if {a.account_id.casefold(), a.handle.lstrip("@").casefold()} & curators
        }
        known |= self.store.taken_part(platform, [a.account_id for a in by], self.filters.tags)
        return frozenset(known)

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
