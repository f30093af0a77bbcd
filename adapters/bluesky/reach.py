"""Bluesky's side of the reach report and the directory: engagement counts, followers, who
follows the central account, deleted posts, replies from strangers (a card's pile-on flag), and
the central account's members list (a curation list, ``app.bsky.graph.list``, with one
``listitem`` record per member)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from atproto_client import models

from bot.domain import Author, Post
from bot.errors import NotFound
from bot.ports import Engagement, ListSync

log = logging.getLogger(__name__)

LIST = "app.bsky.graph.list"
LIST_ITEM = "app.bsky.graph.listitem"
CURATE_LIST = "app.bsky.graph.defs#curatelist"
RELATIONSHIPS_PER_CALL = 30  # app.bsky.graph.getRelationships takes at most 30 others
RECORD_PAGES = 50  # listRecords pages of 100 read at most while looking for list items


def _count(view: Mapping[str, Any], key: str) -> int:
    value = view.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _reply_author(node: Any) -> str | None:
    """The DID of the author of one reply in a thread view (None for a reply not shown)."""
    post = node.get("post") if isinstance(node, dict) else None
    author = post.get("author") if isinstance(post, dict) else None
    did = author.get("did") if isinstance(author, dict) else None
    return did if isinstance(did, str) and did.startswith("did:") else None


class BlueskyReach:
    """Mixed into the Bluesky adapter; uses its session, its calls and its write pacing."""

    did: str | None
    handle: str | None

    async def _query(self, nsid: str, params: Any) -> dict[str, Any]:
        raise NotImplementedError  # provided by BlueskyAdapter

    async def _views(self, uris: Iterable[str]) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    async def _me(self) -> str:
        raise NotImplementedError

    async def _get_record(self, uri: str) -> dict[str, Any]:
        raise NotImplementedError

    async def _create(self, collection: str, record: dict[str, Any]) -> str:
        raise NotImplementedError

    async def _delete(self, uri: str) -> None:
        raise NotImplementedError

    def _now_iso(self) -> str:
        raise NotImplementedError

    def central_account(self) -> Author | None:
        if self.did is None:
            return None
        return Author(account_id=self.did, handle=self.handle or self.did)

    async def engagement(self, posts: Sequence[Post]) -> Mapping[str, Engagement]:
        views = await self._views(p.post_id for p in posts)
        return {
            uri: Engagement(
                likes=_count(view, "likeCount"),
                reposts=_count(view, "repostCount"),
                replies=_count(view, "replyCount"),
                quotes=_count(view, "quoteCount"),
            )
            for uri, view in views.items()
        }

    async def follower_count(self) -> int:
        params = models.AppBskyActorGetProfile.Params(actor=await self._me())
        return _count(await self._query("app.bsky.actor.getProfile", params), "followersCount")

    async def follows_central(self, account_ids: Sequence[str]) -> Mapping[str, bool]:
        me = await self._me()
        wanted = [a for a in dict.fromkeys(account_ids) if a.startswith("did:")]
        out: dict[str, bool] = {}
        for i in range(0, len(wanted), RELATIONSHIPS_PER_CALL):
            params = models.AppBskyGraphGetRelationships.Params(
                actor=me, others=wanted[i : i + RELATIONSHIPS_PER_CALL]
            )
            found = await self._query("app.bsky.graph.getRelationships", params)
            for rel in found.get("relationships") or []:
                # Unknown accounts come back as notFoundActor, without followedBy: left out.
                if isinstance(rel, dict) and isinstance(rel.get("did"), str) and not rel.get("notFound"):
                    out[rel["did"]] = isinstance(rel.get("followedBy"), str)
        return out

    async def posts_gone(self, posts: Sequence[Post]) -> set[str]:
        """Posts the AppView no longer shows *and* whose record is gone from its repo (a post
        hidden from us by a block is not a deleted one)."""
        shown = await self._views(p.post_id for p in posts)
        gone = set()
        for post in posts:
            if post.post_id in shown:
                continue
            try:
                await self._get_record(post.post_id)
            except NotFound:
                gone.add(post.post_id)
        return gone

    async def stranger_replies(self, posts: Sequence[Post]) -> Mapping[str, int]:
        """For each post, how many accounts replied to it directly that do not follow its
        author: getPostThread (depth 1) for the repliers, then getRelationships from the
        author's side, where ``followedBy`` names the replier's follow of the author. The
        author's own replies and ours are not counted; a post that is gone is left out."""
        me = await self._me()
        out: dict[str, int] = {}
        for post in posts:
            if not post.post_id.startswith("at://"):
                continue
            params = models.AppBskyFeedGetPostThread.Params(uri=post.post_id, depth=1, parent_height=0)
            try:
                found = await self._query("app.bsky.feed.getPostThread", params)
            except NotFound:
                continue  # deleted or hidden: the deletion check's business, not ours
            thread = found.get("thread")
            if not isinstance(thread, dict) or not isinstance(thread.get("post"), dict):
                continue  # notFoundPost / blockedPost
            author = post.author.account_id
            repliers = list(
                dict.fromkeys(
                    did
                    for did in map(_reply_author, thread.get("replies") or [])
                    if did is not None and did not in (author, me)
                )
            )
            out[post.post_id] = await self._not_following(author, repliers)
        return out

    async def _not_following(self, author: str, others: list[str]) -> int:
        """How many of ``others`` do not follow ``author`` (accounts the AppView no longer knows
        are not counted: nothing can be said of them)."""
        strangers = 0
        for i in range(0, len(others), RELATIONSHIPS_PER_CALL):
            part = others[i : i + RELATIONSHIPS_PER_CALL]
            params = models.AppBskyGraphGetRelationships.Params(actor=author, others=part)
            found = await self._query("app.bsky.graph.getRelationships", params)
            for rel in found.get("relationships") or []:
                if (
                    isinstance(rel, dict)
                    and rel.get("did") in part
                    and not rel.get("notFound")
                    and not isinstance(rel.get("followedBy"), str)  # the replier follows the author
                ):
                    strangers += 1
        return strangers

    async def sync_member_list(self, title: str, members: Sequence[Author]) -> ListSync:
        """Bluesky lists need no follow: each member is one listitem record in our repo."""
        me = await self._me()
        lists = await self._all_records(me, LIST)
        found = next((r for r in lists if (r.get("value") or {}).get("name") == title), None)
        if found is not None:
            list_uri = str(found["uri"])
        else:
            record = {"$type": LIST, "purpose": CURATE_LIST, "name": title, "createdAt": self._now_iso()}
            list_uri = await self._create(LIST, record)
        current: dict[str, str] = {}  # member DID -> listitem uri
        for item in await self._all_records(me, LIST_ITEM):
            value = item.get("value") or {}
            if value.get("list") == list_uri and isinstance(value.get("subject"), str):
                current[value["subject"]] = str(item["uri"])
        wanted = list(dict.fromkeys(a.account_id for a in members if a.account_id.startswith("did:")))
        added = 0
        for did in wanted:
            if did not in current:
                item = {"$type": LIST_ITEM, "subject": did, "list": list_uri, "createdAt": self._now_iso()}
                await self._create(LIST_ITEM, item)
                added += 1
        stale = sorted(set(current) - set(wanted))
        for did in stale:
            await self._delete(current[did])
        return ListSync(list_ref=list_uri, added=added, removed=len(stale))

    async def _all_records(self, repo: str, collection: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(RECORD_PAGES):
            params = models.ComAtprotoRepoListRecords.Params(
                repo=repo, collection=collection, limit=100, cursor=cursor
            )
            page = await self._query("com.atproto.repo.listRecords", params)
            out.extend(r for r in page.get("records") or [] if isinstance(r, dict) and r.get("uri"))
            cursor = page.get("cursor") if isinstance(page.get("cursor"), str) else None
            if not cursor:
                break
        return out
