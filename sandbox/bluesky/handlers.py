"""The Bluesky sandbox's XRPC side: authentication, rate limits, the routing table and one handler
per endpoint Coalesce uses."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sandbox._server import Request, Response, Router
from sandbox.bluesky.model import (
    _COLLECTIONS,
    _STRONG_REF_COLLECTIONS,
    FOLLOW,
    JSON,
    LIST,
    LIST_ITEM,
    POST,
    THREAD_NOT_FOUND,
    THREAD_VIEW,
    Account,
    Bucket,
    _b64,
    _bounded,
    _error,
    _fold,
    _limit,
    _mentions_of,
    _split_uri,
    _tags_of,
    _truthy,
    _validate_post,
    _when,
)
from sandbox.bluesky.render import BlueskyRender


class BlueskyHandlers(BlueskyRender):
    """Sessions, rate limits, the routes and the XRPC endpoints."""

    def _bucket(self, key: str, period: float) -> Bucket:
        now = self.now().timestamp()
        start = (now // period) * period
        bucket = self._buckets.get(key)
        if bucket is None or bucket.window_start != start:
            bucket = self._buckets[key] = Bucket(start)
        return bucket

    def spend(self, req: Request) -> tuple[bool, dict[str, str]]:
        """Charge ``req`` to its budget; (allowed, the ratelimit headers to send)."""
        nsid = req.path.rpartition("/")[2]
        with self._lock:
            found = self._access.get(self._token(req) or "")
            did = found[0] if found is not None else None
            if nsid == "com.atproto.server.createSession":
                ident = (
                    str((req.json or {}).get("identifier", "")).lower() if isinstance(req.json, dict) else ""
                )
                key, limit, period, cost = f"login:{ident}", self.login_limit, 300.0, 1
            elif nsid in ("com.atproto.repo.createRecord", "com.atproto.repo.deleteRecord") and did:
                key, limit, period = f"write:{did}", self.write_points, 3600.0
                cost = 3 if nsid.endswith("createRecord") else 1
            else:
                key, limit, period, cost = f"read:{did or 'anonymous'}", 3000, 300.0, 1
            bucket = self._bucket(key, period)
            allowed = bucket.used + cost <= limit
            if allowed:
                bucket.used += cost
            headers = {
                "ratelimit-limit": str(limit),
                "ratelimit-remaining": str(max(0, limit - bucket.used)),
                "ratelimit-reset": str(int(bucket.window_start + period)),
                "ratelimit-policy": f"{limit};w={int(period)}",
            }
            return allowed, headers

    def _token(self, req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _caller(self, req: Request, *, required: bool = True) -> str | None:
        token = self._token(req)
        if token is None:
            if required:
                raise _error(401, "AuthenticationRequired", "Authentication Required")
            return None
        found = self._access.get(token)
        if found is None or found[1] <= time.time():
            # Like a PDS: a token that is sent must be good, even where none is needed.
            raise _error(400, "ExpiredToken", "Token has expired")
        return found[0]

    def _jwt(self, did: str, scope: str, ttl: timedelta) -> tuple[str, float]:
        # The SDK reads ``exp`` with its own clock to decide when to refresh, so it is real time.
        exp = time.time() + ttl.total_seconds()
        header = _b64(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
        body = {"scope": scope, "sub": did, "iat": int(time.time()), "exp": int(exp), "jti": uuid.uuid4().hex}
        token = (
            f"{header}.{_b64(json.dumps(body).encode())}.{_b64(hashlib.sha256(uuid.uuid4().bytes).digest())}"
        )
        return token, exp

    def _router(self) -> Router:
        router = Router()
        routes: list[tuple[str, str, Callable[[Request], Response]]] = [
            ("POST", "com.atproto.server.createSession", self._h_create_session),
            ("POST", "com.atproto.server.refreshSession", self._h_refresh_session),
            ("GET", "com.atproto.server.getSession", self._h_get_session),
            ("GET", "com.atproto.identity.resolveHandle", self._h_resolve_handle),
            ("POST", "com.atproto.repo.createRecord", self._h_create_record),
            ("POST", "com.atproto.repo.deleteRecord", self._h_delete_record),
            ("GET", "com.atproto.repo.getRecord", self._h_get_record),
            ("GET", "com.atproto.repo.listRecords", self._h_list_records),
            ("GET", "app.bsky.feed.getPosts", self._h_get_posts),
            ("GET", "app.bsky.feed.getPostThread", self._h_get_post_thread),
            ("GET", "app.bsky.feed.searchPosts", self._h_search_posts),
            ("GET", "app.bsky.actor.getProfile", self._h_get_profile),
            ("GET", "app.bsky.actor.getProfiles", self._h_get_profiles),
            ("GET", "app.bsky.graph.getRelationships", self._h_get_relationships),
        ]
        for method, nsid, handler in routes:
            router.add(method, "/xrpc/" + re.escape(nsid), self._locked(handler))
        return router

    def _locked(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(req: Request) -> Response:
            with self._lock:
                return handler(req)

        return run

    def _h_create_session(self, req: Request) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        ident = str(body.get("identifier") or "").lower()
        did = ident if ident.startswith("did:") else self._handles.get(ident)
        account = self._accounts.get(did or "")
        if account is None or body.get("password") != account.password:
            raise _error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.logins += 1
        return Response.of_json(self._session_json(account))

    def _h_refresh_session(self, req: Request) -> Response:
        token = self._token(req)
        found = self._refresh.pop(token or "", None)
        if found is None or found[1] <= time.time():
            raise _error(400, "ExpiredToken", "Token has been revoked")
        self.refreshes += 1
        return Response.of_json(self._session_json(self._accounts[found[0]]))

    def _h_get_session(self, req: Request) -> Response:
        account = self._accounts[str(self._caller(req))]
        return Response.of_json({"did": account.did, "handle": account.handle, "active": True})

    def _h_resolve_handle(self, req: Request) -> Response:
        did = self._handles.get((req.param("handle") or "").lower())
        if did is None:
            raise _error(400, "InvalidRequest", "Unable to resolve handle")
        return Response.of_json({"did": did})

    def _h_create_record(self, req: Request) -> Response:
        did = str(self._caller(req))
        body = req.json if isinstance(req.json, dict) else {}
        repo, collection, value = body.get("repo"), body.get("collection"), body.get("record")
        if repo not in (did, self._accounts[did].handle):
            raise _error(403, "InvalidRequest", "Invalid repo")
        if not isinstance(value, dict) or collection not in _COLLECTIONS:
            raise _error(400, "InvalidRequest", "Input/record must be an object of a known collection")
        value = {"$type": collection, **value}
        subject = value.get("subject")
        if collection == POST:
            _validate_post(value)
        elif collection in _STRONG_REF_COLLECTIONS:
            if not isinstance(subject, dict) or not subject.get("uri") or not subject.get("cid"):
                raise _error(400, "InvalidRecord", "Record/subject must have the properties uri and cid")
        elif collection in (FOLLOW, LIST_ITEM) and not str(subject or "").startswith("did:"):
            raise _error(400, "InvalidRecord", "Record/subject must be a valid did")
        elif collection == LIST and not value.get("name"):
            raise _error(400, "InvalidRecord", 'Record must have the property "name"')
        record = self._create(did, str(collection), value, body.get("rkey"))
        return Response.of_json({"uri": record.uri, "cid": record.cid, "validationStatus": "valid"})

    def _h_delete_record(self, req: Request) -> Response:
        did = str(self._caller(req))
        body = req.json if isinstance(req.json, dict) else {}
        if body.get("repo") not in (did, self._accounts[did].handle):
            raise _error(403, "InvalidRequest", "Invalid repo")
        collection, rkey = str(body.get("collection")), str(body.get("rkey"))
        if self._accounts[did].repo.get(collection, {}).pop(rkey, None) is not None:
            self._emit(did, collection, rkey, "delete", None, None)
        return Response.of_json({})

    def _h_get_record(self, req: Request) -> Response:
        repo = self._did(req.param("repo") or "")
        uri = f"at://{repo}/{req.param('collection')}/{req.param('rkey')}"
        record = self._find(uri)
        if record is None:
            raise _error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Response.of_json({"uri": record.uri, "cid": record.cid, "value": record.value})

    def _h_list_records(self, req: Request) -> Response:
        account = self._accounts.get(self._did(req.param("repo") or ""))
        if account is None:
            raise _error(400, "InvalidRequest", "Could not find repo")
        records = sorted(account.repo.get(req.param("collection") or "", {}).items(), reverse=True)
        if _truthy(req.param("reverse")):
            records.reverse()
        limit = _limit(req.param("limit"), 50, 100)
        after = req.param("cursor")
        if after:
            records = [
                (k, r) for k, r in records if (k > after if _truthy(req.param("reverse")) else k < after)
            ]
        page = records[:limit]
        out: JSON = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value} for _, r in page]}
        if len(page) == limit and len(records) > limit:
            out["cursor"] = page[-1][0]
        return Response.of_json(out)

    def _did(self, actor: str) -> str:
        return actor if actor.startswith("did:") else self._handles.get(actor.lower(), actor)

    def _h_get_posts(self, req: Request) -> Response:
        viewer = self._caller(req, required=False)
        uris = req.params("uris")
        if len(uris) > 25:
            raise _error(400, "InvalidRequest", "uris must not have more than 25 elements")
        found = [self._find(u) for u in uris]
        return Response.of_json({"posts": [self._post_view(r, viewer) for r in found if r is not None]})

    def _h_get_post_thread(self, req: Request) -> Response:
        """The post with its replies ``depth`` levels down (default 6) and its parents
        ``parentHeight`` levels up (default 80), as ``app.bsky.feed.defs#threadViewPost``."""
        viewer = self._caller(req, required=False)
        uri = req.param("uri") or ""
        depth = _bounded(req.param("depth"), "depth", 6)
        height = _bounded(req.param("parentHeight"), "parentHeight", 80)
        record = self._find(uri) if uri.startswith("at://") else None
        if record is None or _split_uri(record.uri)[1] != POST:
            raise _error(400, "NotFound", f"Post not found: {uri}")
        thread = self._thread_view(record, viewer, depth)
        node, parent_uri = thread, record.value.get("reply", {}).get("parent", {}).get("uri")
        for _ in range(height):
            if not isinstance(parent_uri, str):
                break
            parent = self._find(parent_uri)
            if parent is None:
                node["parent"] = {"$type": THREAD_NOT_FOUND, "uri": parent_uri, "notFound": True}
                break
            node["parent"] = {"$type": THREAD_VIEW, "post": self._post_view(parent, viewer)}
            node, parent_uri = node["parent"], parent.value.get("reply", {}).get("parent", {}).get("uri")
        return Response.of_json({"thread": thread})

    def _h_get_profile(self, req: Request) -> Response:
        account = self._accounts.get(self._did(req.param("actor") or ""))
        if account is None:
            raise _error(400, "InvalidRequest", "Profile not found")
        return Response.of_json(self._profile(account, detailed=True))

    def _h_get_profiles(self, req: Request) -> Response:
        actors = req.params("actors")
        if len(actors) > 25:
            raise _error(400, "InvalidRequest", "actors must not have more than 25 elements")
        found = [self._accounts.get(self._did(a)) for a in actors]
        return Response.of_json(
            {"profiles": [self._profile(a, detailed=True) for a in found if a is not None]}
        )

    def _h_get_relationships(self, req: Request) -> Response:
        actor = self._accounts.get(self._did(req.param("actor") or ""))
        if actor is None:
            raise _error(400, "ActorNotFound", "Actor not found")
        following = {r.value.get("subject"): r.uri for r in actor.repo.get(FOLLOW, {}).values()}
        followers = self._followers(actor.did)
        out = []
        for other in req.params("others"):
            did = self._did(other)
            if did not in self._accounts:
                out.append({"$type": "app.bsky.graph.defs#notFoundActor", "actor": other, "notFound": True})
                continue
            rel: JSON = {"$type": "app.bsky.graph.defs#relationship", "did": did}
            if did in following:
                rel["following"] = following[did]
            if did in followers:
                rel["followedBy"] = followers[did]
            out.append(rel)
        return Response.of_json({"actor": actor.did, "relationships": out})

    def _h_search_posts(self, req: Request) -> Response:
        viewer = self._caller(req, required=False)
        q = (req.param("q") or "").strip()
        if not q:
            raise _error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        since, until = _when(req.param("since")), _when(req.param("until"))
        wanted_tags = {_fold(t.lstrip("#")) for t in req.params("tag")}
        mentions = self._did(req.param("mentions") or "") if req.param("mentions") else None
        author = self._did(req.param("author") or "") if req.param("author") else None
        lang = req.param("lang")
        hits = []
        for account in self._accounts.values():
            for record in account.repo.get(POST, {}).values():
                value = record.value
                sort_at = min(_when(value.get("createdAt")) or record.indexed_at, record.indexed_at)
                if since is not None and sort_at < since:
                    continue
                if until is not None and sort_at >= until:
                    continue
                tags = _tags_of(value)
                if wanted_tags - tags:
                    continue
                if mentions is not None and mentions not in _mentions_of(value):
                    continue
                if author is not None and account.did != author:
                    continue
                if lang and lang not in (value.get("langs") or []):
                    continue
                if not self._matches(q, account, value, tags):
                    continue
                hits.append((sort_at, record))
        hits.sort(key=lambda h: (h[0], h[1].uri), reverse=True)
        offset = int(req.param("cursor") or 0)
        limit = _limit(req.param("limit"), 25, 100)
        page = hits[offset : offset + limit]
        out: JSON = {"posts": [self._post_view(r, viewer) for _, r in page], "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            out["cursor"] = str(offset + limit)
        return Response.of_json(out)

    def _matches(self, q: str, account: Account, value: JSON, tags: set[str]) -> bool:
        text = _fold(str(value.get("text") or ""))
        for term in q.split():
            if term.startswith("from:"):
                if self._did(term[5:].lstrip("@")) != account.did:
                    return False
            elif term.startswith(("#", "＃")):
                if _fold(term[1:]) not in tags:
                    return False
            elif term.startswith("@"):
                did = self._handles.get(term[1:].lower())
                if _fold(term) not in text and (did is None or did not in _mentions_of(value)):
                    return False
            elif _fold(term) not in text:
                return False
        return True

    def _session_json(self, account: Account) -> JSON:
        access, access_exp = self._jwt(account.did, "com.atproto.access", self.access_ttl)
        refresh, refresh_exp = self._jwt(account.did, "com.atproto.refresh", self.refresh_ttl)
        self._access[access] = (account.did, access_exp)
        self._refresh[refresh] = (account.did, refresh_exp)
        return {
            "did": account.did,
            "handle": account.handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }
