"""Acting on Bluesky, part of the Bluesky adapter (``adapter.py``): resolving posts, reposts and
their undo, quotes, series posts and threads (paced, and not repeated after a crash), direct
messages, and authors' profiles."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from atproto_client import models

from adapters.bluesky import richtext
from adapters.bluesky.connection import BlueskyConnection, iso
from adapters.bluesky.normalize import (
    POST,
    REPOST,
    AtUri,
    parse_when,
    to_author,
    view_to_post,
    viewer_repost,
    web_url,
)
from adapters.bluesky.xrpc import CREATE_POINTS, DELETE_POINTS
from bot.domain import Action, Author, Platform, Post, Receipt
from bot.errors import MalformedPayload, NotFound, Rejected
from bot.text import length, split_thread

log = logging.getLogger(__name__)

# a series post found among our own this recent is not sent again (a lost answer, retried)
PUBLISH_DEDUP = timedelta(minutes=10)


class BlueskyWriting(BlueskyConnection):
    """What the central account does on Bluesky, over the connection."""

    # -- acting ---------------------------------------------------------------------------------

    async def resolve(self, url_or_ref: str) -> Post:
        uri = await self._uri_of(url_or_ref.strip())
        view = (await self._views([uri])).get(uri)
        if view is None:
            raise NotFound(f"Bluesky: no post at {url_or_ref[:120]}")
        read = await self._with_profiles([view_to_post(view, web_base=self.settings.web_url)])
        if not read:
            raise NotFound(f"Bluesky: the author of {url_or_ref[:120]} has no profile to read")
        return read[0]

    async def _uri_of(self, ref: str) -> str:
        if ref.startswith("at://"):
            at = AtUri.parse(ref)
        else:
            parts = urlsplit(ref).path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "profile" or parts[2] != "post" or not parts[3]:
                raise NotFound(f"Bluesky: not a link to a post: {ref[:120]}")
            at = AtUri(parts[1], POST, parts[3])
        if at.collection != POST:
            raise NotFound(f"Bluesky: not a post: {ref[:120]}")
        return str(AtUri(await self._did_of(at.repo), at.collection, at.rkey))

    async def amplify(self, post: Post, action: Action) -> Receipt:
        if action is not Action.BOOST:
            raise Rejected(f"Bluesky cannot {action.value} a post")
        view = (await self._views([post.post_id])).get(post.post_id)
        if view is None:
            raise NotFound("Bluesky: the post is gone (deleted, or hidden from us)")
        mine = viewer_repost(view) or await self._own_repost_of(post.post_id)
        if mine is not None:
            return Receipt(Platform.BLUESKY, action, mine, post.url, already=True)
        cid = view.get("cid")
        if not isinstance(cid, str):
            raise MalformedPayload("Bluesky: the post view has no CID")
        record = {
            "$type": REPOST,
            "subject": {"uri": post.post_id, "cid": cid},
            "createdAt": iso(self.clock.now()),
        }
        created = await self._create(REPOST, record)
        return Receipt(Platform.BLUESKY, action, created, post.url)

    async def _own_repost_of(self, uri: str) -> str | None:
        """Our repost of ``uri`` among our newest ones: the AppView may not have indexed it yet."""
        for record in await self._records(REPOST):
            value = record.get("value")
            subject = value.get("subject") if isinstance(value, dict) else None
            if isinstance(subject, dict) and subject.get("uri") == uri and isinstance(record.get("uri"), str):
                return str(record["uri"])
        return None

    async def _create(self, collection: str, record: dict[str, Any]) -> str:
        data = models.ComAtprotoRepoCreateRecord.Data(
            repo=await self._me(), collection=collection, record=record
        )
        out = await self._call(
            self.client.com.atproto.repo.create_record, data, budget_key="write", points=CREATE_POINTS
        )
        return str(out.uri)

    async def undo(self, receipt: Receipt) -> None:
        at = AtUri.parse(receipt.ref)
        if at.repo != await self._me() or at.collection not in (REPOST, POST):
            raise Rejected(f"Bluesky: {receipt.ref[:100]} is not one of our reposts or posts")
        await self._delete(receipt.ref)

    async def _delete(self, uri: str) -> None:
        """Delete one of our records; one that is already gone counts as deleted."""
        at = AtUri.parse(uri)
        data = models.ComAtprotoRepoDeleteRecord.Data(repo=at.repo, collection=at.collection, rkey=at.rkey)
        try:
            await self._call(
                self.client.com.atproto.repo.delete_record, data, budget_key="write", points=DELETE_POINTS
            )
        except NotFound:
            return

    def _now_iso(self) -> str:
        return iso(self.clock.now())

    async def publish_part(self, text: str, reply_to: Receipt | None = None) -> Receipt:
        return await self._publish(text, reply_to)

    async def quote(self, post: Post, comment: str) -> Receipt:
        """A post of ours with ``comment`` that quotes ``post`` (a curator's spotlight)."""
        view = (await self._views([post.post_id])).get(post.post_id)
        if view is None or not isinstance(view.get("cid"), str):
            raise NotFound("Bluesky: the post is gone (deleted, or hidden from us)")
        embed = {"$type": "app.bsky.embed.record", "record": {"uri": post.post_id, "cid": view["cid"]}}
        return await self._publish(comment, None, embed=embed)

    async def _publish(
        self,
        text: str,
        reply_to: Receipt | None,
        *,
        embed: dict[str, Any] | None = None,
        addressee: str | None = None,
    ) -> Receipt:
        # Only the member an answer is for is mentioned: a handle anywhere else in the text
        # (a member's words, a title) stays plain text, so it notifies no one.
        dids: dict[str, str] = {}
        if addressee is not None and addressee.lower() in richtext.mentioned_handles(text):
            with contextlib.suppress(NotFound, Rejected):  # not an account: stays plain text
                dids[addressee.lower()] = await self._did_of(addressee)
        rich = richtext.build(text, dids, keep_tags=self.own_tags)
        size = length(rich.text, self.limits)
        if size > self.limits.max_length:
            raise Rejected(
                f"Bluesky: a post is at most {self.limits.max_length} graphemes and this one has {size}; "
                "split it into a thread first"
            )
        reply = await self._reply_refs(reply_to.ref) if reply_to is not None else None
        already = await self._own_recent_post(rich.text, reply)
        if already is not None:
            return Receipt(Platform.BLUESKY, Action.PUBLISH, already, self._post_url(already), already=True)
        record: dict[str, Any] = {"$type": POST, "text": rich.text, "createdAt": iso(self.clock.now())}
        if rich.facets:
            record["facets"] = list(rich.facets)
        if self.languages:
            record["langs"] = list(self.languages)
        if reply is not None:
            record["reply"] = reply
        if embed is not None:
            record["embed"] = embed
        uri = await self._create(POST, record)
        return Receipt(Platform.BLUESKY, Action.PUBLISH, uri, self._post_url(uri))

    def _post_url(self, uri: str) -> str:
        at = AtUri.parse(uri)
        return web_url(self.settings.web_url, self.handle or at.repo, at.rkey)

    async def _reply_refs(self, parent_uri: str) -> dict[str, Any]:
        """``reply`` of a thread part: the parent, and the root the parent itself replies to."""
        parent = await self._get_record(parent_uri)
        cid, value = parent.get("cid"), parent.get("value")
        if not isinstance(cid, str) or not isinstance(value, dict):
            raise MalformedPayload("Bluesky: the parent post has no CID")
        ref = {"uri": parent_uri, "cid": cid}
        root = value.get("reply", {}).get("root") if isinstance(value.get("reply"), dict) else None
        if not (
            isinstance(root, dict) and isinstance(root.get("uri"), str) and isinstance(root.get("cid"), str)
        ):
            root = ref
        return {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": ref}

    async def _own_recent_post(self, text: str, reply: dict[str, Any] | None) -> str | None:
        """A post of ours with this text in this place, made in the last minutes: a retried
        publish whose first answer was lost. Returned instead of posting twice."""
        parent = reply["parent"]["uri"] if reply else None
        horizon = self.clock.now() - PUBLISH_DEDUP
        for record in await self._records(POST, limit=10):
            value = record.get("value")
            if not isinstance(value, dict) or value.get("text") != text:
                continue
            their = (
                value.get("reply", {}).get("parent", {}).get("uri")
                if isinstance(value.get("reply"), dict)
                else None
            )
            try:
                when = parse_when(value.get("createdAt"), "createdAt")
            except MalformedPayload:
                continue
            if their == parent and when >= horizon and isinstance(record.get("uri"), str):
                return str(record["uri"])
        return None

    async def send_direct(self, author: Author, text: str, reply_to: str | None = None) -> Receipt | None:
        """Bluesky's direct messages live outside a PDS, so the answer is a reply under the
        member's own post (public, as that post was), mentioning them; a long answer goes on as
        a thread. A retried answer whose first try was lost is found, not posted again."""
        handle = author.handle.lstrip("@")
        mention = f"@{handle} " if handle and not handle.startswith("did:") else ""
        parent = Receipt(Platform.BLUESKY, Action.PUBLISH, reply_to) if reply_to else None
        first: Receipt | None = None
        to = handle if mention else None
        for part in split_thread(mention + text, self.limits, number=False):
            try:
                receipt = await self._publish(part, parent, addressee=to)
            except NotFound:
                if first is not None or parent is None:
                    raise
                receipt = await self._publish(part, None, addressee=to)  # they deleted it: answer on its own
            first = first or receipt
            parent = receipt
        return first

    async def fetch_author(self, author: Author) -> Author | None:
        try:
            profile = await self._query(
                "app.bsky.actor.getProfile", models.AppBskyActorGetProfile.Params(actor=author.account_id)
            )
        except (NotFound, Rejected):
            return None
        found = to_author(profile)
        self._profiles[found.account_id] = (time.monotonic(), found)
        return found
