"""The Mastodon sandbox's routes, rate limits and HTTP handlers for the instance, accounts and statuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from sandbox._server import HttpError, Request, Response, Router
from sandbox.mastodon.model import (
    _INVALID_TOKEN,
    _MENTION_ONLY_RE,
    _NOT_FOUND,
    _POST_PATH,
    _REBLOG_PATH,
    _STATUS_PATH,
    _UNREBLOG_PATH,
    _URL_ONLY_RE,
    _VISIBILITIES,
    Account,
    Bucket,
    Status,
    _aware,
    _truthy,
    normalize_tag,
)
from sandbox.mastodon.social import MastodonSocialHandlers, _bearer, _limit, _page


class MastodonHandlers(MastodonSocialHandlers):
    """The routing table, the rate limits, and the instance, account and status endpoints."""

    @staticmethod
    def _reset_header(moment: datetime) -> str:
        return _aware(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _family(self, req: Request) -> tuple[str, int, timedelta] | None:
        """The narrower limit a request also counts against, if any."""
        if req.method == "DELETE" and _STATUS_PATH.match(req.path):
            return "deletes", self.delete_limit, self.delete_period
        if req.method == "POST" and _UNREBLOG_PATH.match(req.path):
            return "deletes", self.delete_limit, self.delete_period
        if req.method == "POST" and (_POST_PATH.match(req.path) or _REBLOG_PATH.match(req.path)):
            return "statuses", self.post_limit, self.post_period
        return None

    def _take(self, key: str, limit: int, period_span: timedelta) -> tuple[Bucket, float, float]:
        """The bucket for ``key`` in its current window (fixed, aligned to the epoch like
        Rack::Attack's, so the reset time is predictable), its window start and length."""
        now = self.now().timestamp()
        period = period_span.total_seconds()
        start = (now // period) * period
        bucket = self._buckets.get(key)
        if bucket is None or bucket.window_start != start:
            bucket = self._buckets[key] = Bucket(start)
        return bucket, start, period

    def _headers(self, bucket: Bucket, limit: int, start: float, period: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - bucket.used)),
            "X-RateLimit-Reset": self._reset_header(datetime.fromtimestamp(start + period, UTC)),
        }

    def _spend(self, req: Request) -> tuple[bool, dict[str, str]]:
        """Count ``req`` against its token's (or the anonymous) bucket and, for deletions, posts
        and boosts, against that family's too. The headers speak of the family when there is one."""
        token = _bearer(req)
        with self._lock:
            key = f"token:{token}" if token in self._tokens else "anonymous"
            bucket, start, period = self._take(key, self.rate_limit, self.rate_period)
            family = self._family(req) if key != "anonymous" else None
            if family is None:
                allowed = bucket.used < self.rate_limit
                if allowed:
                    bucket.used += 1
                return allowed, self._headers(bucket, self.rate_limit, start, period)
            name, limit, span = family
            narrow, n_start, n_period = self._take(f"{key}:{name}", limit, span)
            general_full, family_full = bucket.used >= self.rate_limit, narrow.used >= limit
            allowed = not general_full and not family_full
            if allowed:
                bucket.used += 1
                narrow.used += 1
            if general_full and not family_full:
                return allowed, self._headers(bucket, self.rate_limit, start, period)
            return allowed, self._headers(narrow, limit, n_start, n_period)

    def _router(self) -> Router:
        router = Router()
        routes: list[tuple[str, str, Callable[[Request, Account | None], Response], bool]] = [
            ("GET", r"/api/v1/instance", self._h_instance_v1, False),
            ("GET", r"/api/v2/instance", self._h_instance_v2, False),
            ("GET", r"/api/v1/accounts/verify_credentials", self._h_verify_credentials, True),
            ("GET", r"/api/v1/accounts/relationships", self._h_relationships, True),
            ("GET", r"/api/v1/accounts/lookup", self._h_account_lookup, False),
            ("GET", r"/api/v1/accounts/(?P<id>[^/]+)", self._h_account, False),
            ("GET", r"/api/v1/accounts/(?P<id>[^/]+)/statuses", self._h_account_statuses, False),
            ("GET", r"/api/v1/accounts/(?P<id>[^/]+)/followers", self._h_followers, False),
            ("GET", r"/api/v1/timelines/tag/(?P<tag>[^/]+)", self._h_tag_timeline, False),
            ("GET", r"/api/v1/statuses", self._h_statuses_many, False),
            ("POST", r"/api/v1/statuses", self._h_post_status, True),
            ("GET", r"/api/v1/statuses/(?P<id>[^/]+)", self._h_status, False),
            ("GET", r"/api/v1/statuses/(?P<id>[^/]+)/context", self._h_context, False),
            ("DELETE", r"/api/v1/statuses/(?P<id>[^/]+)", self._h_delete_status, True),
            ("POST", r"/api/v1/statuses/(?P<id>[^/]+)/reblog", self._h_reblog, True),
            ("POST", r"/api/v1/statuses/(?P<id>[^/]+)/unreblog", self._h_unreblog, True),
            ("GET", r"/api/v2/search", self._h_search, False),
            ("GET", r"/api/v1/notifications", self._h_notifications, True),
            ("POST", r"/api/v1/accounts/(?P<id>[^/]+)/follow", self._h_follow, True),
            ("GET", r"/api/v1/lists", self._h_lists, True),
            ("POST", r"/api/v1/lists", self._h_create_list, True),
            ("GET", r"/api/v1/lists/(?P<id>[^/]+)", self._h_list, True),
            ("GET", r"/api/v1/lists/(?P<id>[^/]+)/accounts", self._h_list_accounts, True),
            ("POST", r"/api/v1/lists/(?P<id>[^/]+)/accounts", self._h_list_add, True),
            ("DELETE", r"/api/v1/lists/(?P<id>[^/]+)/accounts", self._h_list_remove, True),
        ]
        for method, pattern, handler, needs_user in routes:
            # Rails routes ignore a trailing slash, and Mastodon.py asks for "/api/v2/instance/"
            router.add(method, pattern + "/?", self._endpoint(handler, needs_user))
        return router

    def _endpoint(
        self, handler: Callable[[Request, Account | None], Response], needs_user: bool
    ) -> Callable[[Request], Response]:
        def serve(req: Request) -> Response:
            token = _bearer(req)
            with self._lock:
                owner_id = self._tokens.get(token) if token is not None else None
                if needs_user and owner_id is None:
                    raise HttpError(401, dict(_INVALID_TOKEN))
                viewer = self._accounts.get(owner_id) if owner_id is not None else None
                return handler(req, viewer)

        return serve

    def _visible_status(self, raw_id: str, viewer: Account | None) -> Status:
        try:
            status = self._statuses[int(raw_id)]
        except (ValueError, KeyError):
            raise HttpError(404, dict(_NOT_FOUND)) from None
        if not self._can_see(status, viewer):
            raise HttpError(404, dict(_NOT_FOUND))
        return status

    def _h_instance_v1(self, req: Request, viewer: Account | None) -> Response:
        local_statuses = sum(1 for s in self._statuses.values() if s.account.local and not s.deleted)
        return Response.of_json(
            {
                "uri": self.domain,
                "title": "Coalesce sandbox",
                "short_description": "A loopback Mastodon for tests",
                "description": "A loopback Mastodon for tests",
                "email": f"admin@{self.domain}",
                "version": self.version,
                "urls": {"streaming_api": f"wss://{self.domain}"},
                "stats": {
                    "user_count": sum(1 for a in self._accounts.values() if a.local),
                    "status_count": local_statuses,
                    "domain_count": len({a.domain for a in self._accounts.values() if a.domain}),
                },
                "thumbnail": None,
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "configuration": self._configuration(v1=True),
                "contact_account": self._account_json(self._central),
                "rules": [],
            }
        )

    def _h_instance_v2(self, req: Request, viewer: Account | None) -> Response:
        config = self._configuration()
        config["urls"] = {"streaming": f"wss://{self.domain}", "status": None}
        config["translation"] = {"enabled": False}
        config["vapid"] = {"public_key": ""}
        return Response.of_json(
            {
                "domain": self.domain,
                "title": "Coalesce sandbox",
                "version": self.version,
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A loopback Mastodon for tests",
                "usage": {"users": {"active_month": sum(1 for a in self._accounts.values() if a.local)}},
                "thumbnail": {"url": f"https://{self.domain}/packs/media/images/preview.png"},
                "icon": [],
                "languages": ["en"],
                "configuration": config,
                "registrations": {"enabled": False, "approval_required": False, "message": None, "url": None},
                "api_versions": {"mastodon": 2},
                "contact": {"email": f"admin@{self.domain}", "account": self._account_json(self._central)},
                "rules": [],
            }
        )

    def _h_verify_credentials(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        return Response.of_json(self._credential_json(viewer))

    def _h_account(self, req: Request, viewer: Account | None) -> Response:
        account = self._accounts.get(req.match["id"])
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        return Response.of_json(self._account_json(account))

    def _h_account_lookup(self, req: Request, viewer: Account | None) -> Response:
        account = self._find_account(req.param("acct") or "")
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        return Response.of_json(self._account_json(account))

    def _h_relationships(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        out = [
            self._relationship_json(viewer, account_id)
            for account_id in req.params("id")
            if account_id in self._accounts
        ]
        return Response.of_json(out)

    def _h_account_statuses(self, req: Request, viewer: Account | None) -> Response:
        account = self._accounts.get(req.match["id"])
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        tagged = req.param("tagged")
        found = []
        for status in self._statuses.values():
            if status.account is not account or not self._can_see(status, viewer):
                continue
            if _truthy(req.param("pinned")):
                continue  # nothing is pinned here
            if _truthy(req.param("exclude_reblogs")) and status.reblog_of is not None:
                continue
            if (
                _truthy(req.param("exclude_replies"))
                and status.in_reply_to_id is not None
                and status.in_reply_to_account_id != account.id
            ):
                continue
            if _truthy(req.param("only_media")) and not status.media:
                continue
            if tagged and normalize_tag(tagged) not in status.tag_keys():
                continue
            found.append(status)
        limit = _limit(req, 20)
        page = _page(found, req, limit)
        headers = {}
        if page:
            keep = {
                k: req.params(k)
                for k in ("limit", "only_media", "exclude_replies", "exclude_reblogs", "pinned", "tagged")
            }
            link = self._link(
                req.path, keep, str(page[-1].id) if len(page) == limit else None, str(page[0].id)
            )
            headers["Link"] = link
        return Response.of_json([self._status_json(s, viewer) for s in page], headers=headers)

    def _h_tag_timeline(self, req: Request, viewer: Account | None) -> Response:
        main_tag = normalize_tag(unquote(req.match["tag"]))
        if main_tag not in self._known_tags:
            return Response.of_json([])
        any_tags = {main_tag} | {normalize_tag(t) for t in req.params("any")[:4]}
        all_tags = {normalize_tag(t) for t in req.params("all")[:4]}
        none_tags = {normalize_tag(t) for t in req.params("none")[:4]}
        local = _truthy(req.param("local"))
        remote = _truthy(req.param("remote"))
        only_media = _truthy(req.param("only_media"))
        found = []
        for status in self._statuses.values():
            if status.deleted or status.reblog_of is not None or status.visibility != "public":
                continue
            keys = status.tag_keys()
            if not keys & any_tags or not all_tags <= keys or keys & none_tags:
                continue
            if (local and not status.account.local) or (remote and status.account.local):
                continue
            if only_media and not status.media:
                continue
            if viewer is not None and self._hidden_from(viewer, status.account):
                continue
            found.append(status)
        page = _page(found, req, _limit(req, 20))
        headers = {}
        if page:
            keep = {k: req.params(k) for k in ("local", "limit", "only_media")}
            headers["Link"] = self._link(req.path, keep, str(page[-1].id), str(page[0].id))
        return Response.of_json([self._status_json(s, viewer) for s in page], headers=headers)

    def _hidden_from(self, viewer: Account, author: Account) -> bool:
        rel = self._relationships.get((viewer.id, author.id))
        return rel is not None and (rel.flags.get("blocking", False) or rel.flags.get("muting", False))

    def _h_status(self, req: Request, viewer: Account | None) -> Response:
        return Response.of_json(self._status_json(self._visible_status(req.match["id"], viewer), viewer))

    def _h_context(self, req: Request, viewer: Account | None) -> Response:
        """The statuses above and below one in its thread, as the viewer may see them:
        ``ancestors`` oldest first, ``descendants`` depth first in reply order. Anonymous
        callers get at most 40 ancestors and 60 descendants, 20 levels deep (as Mastodon)."""
        status = self._visible_status(req.match["id"], viewer)
        most_up, most_down, deepest = (40, 60, 20) if viewer is None else (4096, 4096, 4096)
        ancestors: list[Status] = []
        parent_id = status.in_reply_to_id
        while parent_id is not None and len(ancestors) < most_up:
            parent = self._statuses.get(parent_id)
            if parent is None or not self._can_see(parent, viewer):
                break
            ancestors.insert(0, parent)
            parent_id = parent.in_reply_to_id
        descendants: list[Status] = []

        def below(parent: Status, depth: int) -> None:
            if depth > deepest:
                return
            for child in sorted(
                (s for s in self._statuses.values() if s.in_reply_to_id == parent.id and s.reblog_of is None),
                key=lambda s: s.id,
            ):
                if len(descendants) >= most_down:
                    return
                if self._can_see(child, viewer):
                    descendants.append(child)
                    below(child, depth + 1)

        below(status, 1)
        return Response.of_json(
            {
                "ancestors": [self._status_json(s, viewer) for s in ancestors],
                "descendants": [self._status_json(s, viewer) for s in descendants],
            }
        )

    def _h_statuses_many(self, req: Request, viewer: Account | None) -> Response:
        out = []
        for raw in req.params("id"):
            try:
                out.append(self._status_json(self._visible_status(raw, viewer), viewer))
            except HttpError:
                continue
        return Response.of_json(out)

    def _h_post_status(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        key = req.headers.get("idempotency-key")
        if key:
            seen = self._idempotency.get((viewer.id, key))
            if seen is not None and self.now() - seen[1] < timedelta(hours=1):
                earlier = self._statuses.get(seen[0])
                if earlier is not None and not earlier.deleted:
                    return Response.of_json(self._status_json(earlier, viewer))
        text = req.param("status") or ""
        if req.param("scheduled_at"):
            raise HttpError(422, {"error": "Scheduled posts are not emulated by the sandbox"})
        if not text.strip() and not req.params("media_ids"):
            raise HttpError(422, {"error": "Validation failed: Text can't be blank"})
        if req.params("media_ids"):
            raise HttpError(422, {"error": "Validation failed: Media attachments are not emulated"})
        if self._countable_length(text) > self.max_characters:
            raise HttpError(
                422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"}
            )
        visibility = req.param("visibility") or "public"
        if visibility not in _VISIBILITIES:
            raise HttpError(422, {"error": "Validation failed: Visibility is not included in the list"})
        parent = None
        reply_to = req.param("in_reply_to_id")
        if reply_to:
            try:
                parent = self._visible_status(reply_to, viewer)
            except HttpError:
                raise HttpError(
                    404, {"error": "The post you are trying to reply to does not appear to exist."}
                ) from None
        status = self._compose(
            viewer,
            text,
            tags=(),
            in_reply_to=parent,
            visibility=visibility,
            language=req.param("language") or "en",
            spoiler_text=req.param("spoiler_text") or "",
            mentions=(),
            media=(),
            created_at=None,
            application={"name": "Coalesce", "website": None},
        )
        status.sensitive = status.sensitive or _truthy(req.param("sensitive"))
        self._store(status)
        if key:
            self._idempotency[(viewer.id, key)] = (status.id, self.now())
        return Response.of_json(self._status_json(status, viewer))

    def _countable_length(self, text: str) -> int:
        counted = _URL_ONLY_RE.sub("x" * 23, text)
        counted = _MENTION_ONLY_RE.sub(lambda m: "@" + m.group("user"), counted)
        return len(counted)

    def _h_delete_status(self, req: Request, viewer: Account | None) -> Response:
        status = self._visible_status(req.match["id"], viewer)
        if status.account is not viewer:
            raise HttpError(404, dict(_NOT_FOUND))
        out = self._status_json(status, viewer, with_source=True)
        self._delete(status)
        return Response.of_json(out)

    def _h_reblog(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        target = self._visible_status(req.match["id"], viewer)
        if target.reblog_of is not None:
            target = self._statuses[target.reblog_of]
        if target.visibility in ("private", "direct"):
            raise HttpError(403, {"error": "This action is not allowed"})
        wrapper = self._reblog(viewer, target, req.param("visibility") or "public", None)
        return Response.of_json(self._status_json(wrapper, viewer))

    def _h_unreblog(self, req: Request, viewer: Account | None) -> Response:
        assert viewer is not None
        target = self._visible_status(req.match["id"], viewer)
        for boost in self._live_reblogs(target, viewer):
            self._delete(boost)
        return Response.of_json(self._status_json(target, viewer))
