"""The Bluesky sandbox's JSON: profiles, post views, threads and sessions as the AppView and PDS
answer them."""

from __future__ import annotations

from sandbox.bluesky.model import (
    FOLLOW,
    JSON,
    LIKE,
    POST,
    REPOST,
    THREAD_VIEW,
    Account,
    Record,
    _iso,
    _split_uri,
)
from sandbox.bluesky.state import BlueskyState


class BlueskyRender(BlueskyState):
    """Profiles, post and thread views, sessions as XRPC JSON."""

    def _profile(self, account: Account, detailed: bool = False) -> JSON:
        view: JSON = {
            "did": account.did,
            "handle": account.handle,
            "displayName": account.display_name,
            "labels": [{"src": account.did, "uri": f"at://{account.did}", "val": v} for v in account.labels],
            "createdAt": _iso(account.created_at),
        }
        if detailed:
            view["description"] = account.description
            view["followersCount"] = len(self._followers(account.did))
            view["followsCount"] = len(account.repo.get(FOLLOW, {}))
            view["postsCount"] = len(account.repo.get(POST, {}))
        # A post's author is a profileViewBasic, as on the AppView: no description, so a bio's
        # opt-out markers are only seen by reading the profile (getProfile / getProfiles).
        return view

    def _post_view(self, record: Record, viewer: str | None) -> JSON:
        did, _, _ = _split_uri(record.uri)
        reposts = self._refs_to(REPOST, record.uri)
        replies = [
            r
            for a in self._accounts.values()
            for r in a.repo.get(POST, {}).values()
            if r.value.get("reply", {}).get("parent", {}).get("uri") == record.uri
        ]
        mine = None
        if viewer is not None:
            mine = next(
                (
                    r.uri
                    for r in self._accounts[viewer].repo.get(REPOST, {}).values()
                    if r.value.get("subject", {}).get("uri") == record.uri
                ),
                None,
            )
        viewer_state: JSON = {"repost": mine} if mine else {}
        return {
            "uri": record.uri,
            "cid": record.cid,
            "author": self._profile(self._accounts[did]),
            "record": record.value,
            "replyCount": len(replies),
            "repostCount": len(reposts),
            "likeCount": len(self._refs_to(LIKE, record.uri)),
            "quoteCount": 0,
            "indexedAt": _iso(record.indexed_at),
            "viewer": viewer_state,
            "labels": [],
        }

    def _thread_view(self, record: Record, viewer: str | None, depth: int) -> JSON:
        view: JSON = {"$type": THREAD_VIEW, "post": self._post_view(record, viewer)}
        if depth > 0:
            replies = sorted(
                (
                    r
                    for a in self._accounts.values()
                    for r in a.repo.get(POST, {}).values()
                    if r.value.get("reply", {}).get("parent", {}).get("uri") == record.uri
                ),
                key=lambda r: r.indexed_at,
            )
            view["replies"] = [self._thread_view(r, viewer, depth - 1) for r in replies]
        return view
