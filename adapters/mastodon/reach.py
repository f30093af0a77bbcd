"""Mastodon's side of the reach report and the directory: engagement counts, followers, who
follows the central account, replies from strangers (a card's pile-on flag), and the central
account's members list."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from mastodon import Mastodon

from bot.domain import Author, Post
from bot.errors import NotFound, Rejected
from bot.ports import Engagement, ListSync

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUSES_PER_REQUEST = 20  # GET /api/v1/statuses?id[]=…, the server's default page size
ACCOUNTS_PER_REQUEST = 40  # relationships and list changes
FOLLOWERS_PER_PAGE = 80  # GET /api/v1/accounts/:id/followers gives at most 80 a page
FOLLOWER_PAGES = 5  # an author with more followers than this reads is one we cannot tell about


def _count(status: Mapping[str, Any], key: str) -> int:
    value = status.get(key)
    if value is None:
        return 0  # quotes_count only exists from Mastodon 4.5 on
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a count")
    return value


def _replier(status: Any, parent_id: str) -> str | None:
    """The account id of ``status``'s author if it replies to ``parent_id`` directly."""
    if not isinstance(status, Mapping) or str(status.get("in_reply_to_id")) != parent_id:
        return None
    account = status.get("account")
    raw = account.get("id") if isinstance(account, Mapping) else None
    return str(raw) if raw is not None else None


def _parts(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class MastodonReach:
    """Mixed into the Mastodon adapter; uses its client, its error translation and ``me``."""

    client: Mastodon
    me: Author | None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError  # provided by MastodonAdapter

    def central_account(self) -> Author | None:
        return self.me

    async def engagement(self, posts: Sequence[Post]) -> Mapping[str, Engagement]:
        out: dict[str, Engagement] = {}
        ids = list(dict.fromkeys(p.post_id for p in posts))
        for part in _parts(ids, STATUSES_PER_REQUEST):
            for status in await self._call(self.client.statuses, part):
                raw_id = status.get("id") if isinstance(status, Mapping) else None
                try:
                    out[str(raw_id)] = Engagement(
                        likes=_count(status, "favourites_count"),
                        reposts=_count(status, "reblogs_count"),
                        replies=_count(status, "replies_count"),
                        quotes=_count(status, "quotes_count"),
                    )
                except (ValueError, AttributeError) as exc:
                    log.warning(
                        "skipped malformed status",
                        extra={"platform": "mastodon", "id": raw_id, "error": str(exc)},
                    )
        return out

    async def follower_count(self) -> int:
        account = await self._call(self.client.account_verify_credentials)
        return _count(account, "followers_count")

    async def follows_central(self, account_ids: Sequence[str]) -> Mapping[str, bool]:
        out: dict[str, bool] = {}
        for part in _parts(list(dict.fromkeys(account_ids)), ACCOUNTS_PER_REQUEST):
            for rel in await self._call(self.client.account_relationships, part):
                if isinstance(rel, Mapping) and rel.get("id") is not None:
                    out[str(rel["id"])] = bool(rel.get("followed_by"))
        return out

    async def stranger_replies(self, posts: Sequence[Post]) -> Mapping[str, int]:
        """For each post, how many accounts replied to it directly that do not follow its
        author: the status's context for the replies, the author's followers list (up to
        FOLLOWER_PAGES pages) for who follows. A post is left out when that cannot be told: it
        is gone, or a replier is missing from a followers list we could not read whole (a big
        account, a remote author whose followers this server does not all know, a hidden list)."""
        me = self.me.account_id if self.me is not None else None
        followers: dict[str, tuple[set[str], bool]] = {}  # author id -> (followers read, all of them?)
        out: dict[str, int] = {}
        for post in posts:
            if not post.post_id.isdigit():
                continue  # not a status of this server
            try:
                context = await self._call(self.client.status_context, post.post_id)
            except NotFound:
                continue
            author = post.author.account_id
            repliers = list(
                dict.fromkeys(
                    who
                    for who in (_replier(s, post.post_id) for s in context.get("descendants") or [])
                    if who is not None and who not in (author, me)
                )
            )
            if not repliers:
                out[post.post_id] = 0
                continue
            if author not in followers:
                followers[author] = await self._followers(author)
            known, whole = followers[author]
            strangers = sum(1 for who in repliers if who not in known)
            if strangers and not whole:
                continue  # not on the part of the list we read: cannot tell
            out[post.post_id] = strangers
        return out

    async def _followers(self, account_id: str) -> tuple[set[str], bool]:
        """The followers of ``account_id`` we could read, and whether that is all of them (as
        many as the account's ``followers_count``, within FOLLOWER_PAGES pages)."""
        seen: set[str] = set()
        page: Any = await self._call(self.client.account_followers, account_id, limit=FOLLOWERS_PER_PAGE)
        for number in range(1, FOLLOWER_PAGES + 1):
            seen.update(
                str(a["id"]) for a in page or [] if isinstance(a, Mapping) and a.get("id") is not None
            )
            if not page or getattr(page, "_pagination_next", None) is None:
                break
            if number == FOLLOWER_PAGES:
                return seen, False  # more pages than we read
            page = await self._call(self.client.fetch_next, page)
        account = await self._call(self.client.account, account_id)
        count = account.get("followers_count") if isinstance(account, Mapping) else None
        if isinstance(count, bool) or not isinstance(count, int):
            return seen, False
        return seen, count <= len(seen)

    async def sync_member_list(self, title: str, members: Sequence[Author]) -> ListSync:
        """Mastodon lists only hold accounts the owner follows, so members who are not followed
        yet are followed first; a locked account's follow request keeps it pending."""
        lists = await self._call(self.client.lists)
        found: Any = next((x for x in lists if x.get("title") == title), None)
        if found is None:
            found = await self._call(self.client.list_create, title)
        list_id = str(found["id"])
        current = {str(a["id"]) for a in await self._call(self.client.list_accounts, list_id, limit=0)}
        wanted = list(dict.fromkeys(a.account_id for a in members))
        missing = [i for i in wanted if i not in current]
        ready, pending = await self._followed(missing)
        added = await self._add(list_id, ready, pending)
        stale = sorted(current - set(wanted))
        for part in _parts(stale, ACCOUNTS_PER_REQUEST):
            await self._call(self.client.list_accounts_delete, list_id, part)
        return ListSync(list_ref=list_id, added=added, removed=len(stale), pending=tuple(pending))

    async def _followed(self, account_ids: list[str]) -> tuple[list[str], list[str]]:
        """Split ``account_ids`` into followed now and waiting, following whoever is not yet."""
        ready: list[str] = []
        pending: list[str] = []
        for part in _parts(account_ids, ACCOUNTS_PER_REQUEST):
            rels = {str(r["id"]): r for r in await self._call(self.client.account_relationships, part)}
            for account_id in part:
                rel = rels.get(account_id)
                if rel is not None and not rel.get("following") and not rel.get("requested"):
                    try:
                        rel = await self._call(self.client.account_follow, account_id, reblogs=False)
                    except (NotFound, Rejected) as exc:
                        log.info(
                            "cannot follow member for the list",
                            extra={"platform": "mastodon", "id": account_id, "error": str(exc)},
                        )
                        rel = None
                (ready if rel is not None and rel.get("following") else pending).append(account_id)
        return ready, pending

    async def _add(self, list_id: str, account_ids: list[str], pending: list[str]) -> int:
        added = 0
        for part in _parts(account_ids, ACCOUNTS_PER_REQUEST):
            try:
                await self._call(self.client.list_accounts_add, list_id, part)
                added += len(part)
            except (NotFound, Rejected):
                # One account in the part went away meanwhile; the others still go in.
                for account_id in part:
                    try:
                        await self._call(self.client.list_accounts_add, list_id, [account_id])
                        added += 1
                    except (NotFound, Rejected):
                        pending.append(account_id)
        return added
