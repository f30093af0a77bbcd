"""The Mastodon sandbox's HTTP handlers for search, notifications, follows and lists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from sandbox._server import HttpError, Request, Response
from sandbox.mastodon.model import (
    _NOT_FOUND,
    _SEARCH_NEEDS_USER,
    Account,
    Follower,
    MastodonList,
    Relationship,
    Status,
    _ruby_int,
    _truthy,
    normalize_tag,
)
from sandbox.mastodon.render import MastodonRender


def _bearer(req: Request) -> str | None:
    auth = req.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _limit(req: Request, default: int) -> int:
    """Mastodon's ``limit_param``: absent means the default, anything else is capped at twice it."""
    raw = _ruby_int(req.param("limit"))
    return default if raw is None else min(abs(raw), default * 2)


def _page(items: Sequence[Any], req: Request, limit: int) -> list[Any]:
    """Mastodon's id paging: with ``min_id`` the page sits right after the cursor (oldest first,
    then reversed); otherwise it is the newest below ``max_id`` and above ``since_id``."""
    max_id = _ruby_int(req.param("max_id"))
    since_id = _ruby_int(req.param("since_id"))
    min_id = _ruby_int(req.param("min_id"))
    ordered = sorted(items, key=lambda item: int(item.id))
    if min_id is not None:
        chosen = [i for i in ordered if int(i.id) > min_id and (max_id is None or int(i.id) < max_id)]
        return list(reversed(chosen[:limit]))
    chosen = [
        i
        for i in reversed(ordered)
        if (max_id is None or int(i.id) < max_id) and (since_id is None or int(i.id) > since_id)
    ]
    return chosen[:limit]


class MastodonSocialHandlers(MastodonRender):
    """Search, notifications, follows and lists over HTTP."""

    def _h_search(self, req: Request, viewer: Account | None) -> Response:
        query = (req.param("q") or "").strip()
        resolve = _truthy(req.param("resolve"))
        if viewer is None and (resolve or _ruby_int(req.param("offset"))):
            raise HttpError(401, {"error": _SEARCH_NEEDS_USER})
        kind = req.param("type")
        limit = _limit(req, 20)
        accounts: list[Account] = []
        statuses: list[Status] = []
        tags: list[str] = []
        if re.match(r"https?://", query):
            if resolve:
                found = self._resolve_url(query, viewer)
                if isinstance(found, Account):
                    accounts.append(found)
                elif found is not None:
                    statuses.append(found)
        elif query:
            accounts = self._search_accounts(query)[:limit]
            wanted = normalize_tag(query)
            tags = [key for key in sorted(self._known_tags) if wanted and key.startswith(wanted)][:limit]
        if kind not in (None, "accounts"):
            accounts = []
        if kind not in (None, "statuses"):
            statuses = []
        if kind not in (None, "hashtags"):
            tags = []
        return Response.of_json(
            {
                "accounts": [self._account_json(a) for a in accounts],
                "statuses": [self._status_json(s, viewer) for s in statuses],
                "hashtags": [self._tag_json(t) for t in tags],
            }
        )

    def _resolve_url(self, url: str, viewer: Account | None) -> Status | Account | None:
        wanted = url.rstrip("/")
        for status in self._statuses.values():
            if wanted in (status.uri, status.url) and status.reblog_of is None:
                return status if self._can_see(status, viewer) else None
        for account in self._accounts.values():
            if wanted in (self._profile_url(account), self._actor_uri(account)):
                return account
        pending = self._unfetched.get(wanted)
        if pending is None:
            return None
        del self._unfetched[pending.uri]
        if pending.url:
            self._unfetched.pop(pending.url, None)
        stored = self._store(pending)
        return stored if self._can_see(stored, viewer) else None

    def _search_accounts(self, query: str) -> list[Account]:
        exact = self._find_account(query)
        needle = query.lstrip("@").lower()
        matches = [] if exact is None else [exact]
        for account in self._accounts.values():
            if account is exact:
                continue
            if account.acct().lower().startswith(needle) or account.display_name.lower().startswith(needle):
                matches.append(account)
        return matches

    def _h_notifications(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        if viewer is not self._central:
            return Response.of_json([])
        types = set(req.params("types"))
        excluded = set(req.params("exclude_types"))
        from_account = req.param("account_id")
        found = [
            n
            for n in self._visible_notifications()
            if (not types or n.type in types)
            and n.type not in excluded
            and (from_account is None or n.account.id == from_account)
        ]
        page = _page(found, req, _limit(req, 40))
        headers = {}
        if page:
            keep = {k: req.params(k) for k in ("limit", "account_id")}
            keep["types[]"] = req.params("types")
            keep["exclude_types[]"] = req.params("exclude_types")
            headers["Link"] = self._link(req.path, keep, str(page[-1].id), str(page[0].id))
        return Response.of_json([self._notification_json(n) for n in page], headers=headers)

    def _h_follow(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        target = self._accounts.get(req.match["id"])
        if target is None or target is viewer:
            raise HttpError(404, dict(_NOT_FOUND))
        rel = self._relationships.setdefault((viewer.id, target.id), Relationship())
        if not rel.flags.get("following"):
            if target.locked:
                rel.flags["requested"] = True
            else:
                self._start_following(viewer, target, reblogs=_truthy(req.param("reblogs") or "true"))
        return Response.of_json(self._relationship_json(viewer, target.id))

    def _h_followers(self, req: Request, viewer: Account | None) -> Response:
        """Who follows the account, newest follow first, paged by the follows' ids (40 by
        default, at most 80) with a ``Link`` header."""
        account = self._accounts.get(req.match["id"])
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        found = [
            Follower(rel.since, self._accounts[follower_id])
            for (follower_id, target_id), rel in self._relationships.items()
            if target_id == account.id and rel.flags.get("following")
        ]
        limit = _limit(req, 40)
        page = _page(found, req, limit)
        headers = {}
        if page:
            keep = {"limit": req.params("limit")}
            nxt = str(page[-1].id) if len(page) == limit else None
            headers["Link"] = self._link(req.path, keep, nxt, str(page[0].id), prev_key="since_id")
        return Response.of_json([self._account_json(f.account) for f in page], headers=headers)

    def _own_list(self, req: Request, viewer: Account | None) -> MastodonList:
        found = self._lists.get(req.match["id"])
        if found is None or found.owner is not viewer:
            raise HttpError(404, dict(_NOT_FOUND))
        return found

    def _h_lists(self, req: Request, viewer: Account | None) -> Response:
        mine = [x for x in self._lists.values() if x.owner is viewer]
        return Response.of_json([self._list_json(x) for x in mine])

    def _h_list(self, req: Request, viewer: Account | None) -> Response:
        return Response.of_json(self._list_json(self._own_list(req, viewer)))

    def _h_create_list(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        title = (req.param("title") or "").strip()
        if not title:
            raise HttpError(422, {"error": "Validation failed: Title can't be blank"})
        policy = req.param("replies_policy") or "list"
        if policy not in ("followed", "list", "none"):
            raise HttpError(422, {"error": "Validation failed: Replies policy is not included in the list"})
        exclusive = _truthy(req.param("exclusive"))
        found = MastodonList(str(next(self._list_ids)), viewer, title, policy, exclusive)
        self._lists[found.id] = found
        return Response.of_json(self._list_json(found))

    def _h_list_accounts(self, req: Request, viewer: Account | None) -> Response:
        found = self._own_list(req, viewer)
        members = [self._accounts[i] for i in found.members]
        if _ruby_int(req.param("limit")) == 0:
            return Response.of_json([self._account_json(a) for a in members])
        limit = min(_ruby_int(req.param("limit")) or 40, 80)
        page = _page(members, req, limit)
        headers = {}
        if page:
            keep = {"limit": req.params("limit")}
            nxt = page[-1].id if len(page) == limit else None
            headers["Link"] = self._link(req.path, keep, nxt, page[0].id, prev_key="since_id")
        return Response.of_json([self._account_json(a) for a in page], headers=headers)

    def _h_list_add(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        found = self._own_list(req, viewer)
        wanted = req.params("account_ids")
        for account_id in wanted:
            rel = self._relationships.get((viewer.id, account_id), Relationship())
            if account_id not in self._accounts or not rel.flags.get("following"):
                raise HttpError(404, dict(_NOT_FOUND))  # Mastodon lists only accounts one follows
            if account_id in found.members:
                raise HttpError(422, {"error": "Validation failed: Account has already been taken"})
        found.members.extend(dict.fromkeys(wanted))
        return Response.of_json({})

    def _h_list_remove(self, req: Request, viewer: Account | None) -> Response:
        found = self._own_list(req, viewer)
        gone = set(req.params("account_ids"))
        found.members = [i for i in found.members if i not in gone]
        return Response.of_json({})

    def _link(
        self,
        path: str,
        keep: dict[str, list[str]],
        next_max: str | None,
        prev_min: str | None,
        *,
        prev_key: str = "min_id",
    ) -> str:
        """A ``Link`` header. Status and notification pages point back with ``min_id``; account
        lists (followers, a list's members) with ``since_id``, as Mastodon builds them."""
        links = []
        for rel, key, value in (("next", "max_id", next_max), ("prev", prev_key, prev_min)):
            if value is None:
                continue
            query = {k: v for k, v in keep.items() if v}
            query[key] = [value]
            links.append(
                f'<{self.base_url}{path}?{urlencode(sorted(query.items()), doseq=True)}>; rel="{rel}"'
            )
        return ", ".join(links)
