"""Loopback emulator of the slice of the Mastodon REST API that Coalesce uses: the public face
(lifecycle and plain-Python test helpers) over the state, rendering and handler layers."""

from __future__ import annotations

import argparse
import contextlib
import html
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sandbox._server import Fault, FaultInjector
from sandbox.mastodon.handlers import MastodonHandlers
from sandbox.mastodon.http import _TOO_MANY
from sandbox.mastodon.model import _MALFORMATIONS, DEFAULT_TOKEN, JSON, Relationship


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a sandbox until interrupted, optionally seeded with a few members posting ``--tag``."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.mastodon", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--username", default="coalesce")
    parser.add_argument("--tag", default=None, help="seed a few members posting with this hashtag")
    args = parser.parse_args(argv)
    sandbox = MastodonSandbox(username=args.username, token=args.token, port=args.port)
    if args.tag:
        ana = sandbox.add_account("ana", display_name="Dr Ana Ruiz")
        bea = sandbox.add_account("bea", "remote.example", display_name="Bea Santos, MD")
        sandbox.post(ana, f"Our residency program is hiring a research fellow #{args.tag}")
        sandbox.post(bea, f"Grand rounds today on maternal health equity #{args.tag}")
    with sandbox:
        print(f"Mastodon sandbox at {sandbox.base_url} (token {sandbox.token}); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


class MastodonSandbox(MastodonHandlers):
    """An in-memory Mastodon server on 127.0.0.1 with one *central* account that owns the token.

    Test helpers (plain Python, no HTTP) create accounts, posts, remote posts and notifications;
    the HTTP side answers Mastodon.py. Everything is guarded by one lock, so helpers may be called
    while the bot is talking to the server.

    Faithful on purpose (each is something a bot has to cope with on a real server):

    * ids are snowflakes built from ``created_at`` (milliseconds << 16), so a back-dated post
      gets an *older* id, exactly like a late-federated remote post on Mastodon;
    * a hashtag timeline for a tag no status ever used is ``[]`` even when ``any[]`` names used
      tags, and the ``Link`` URLs keep only ``local``, ``limit`` and ``only_media`` (Mastodon.py
      keeps the other parameters itself);
    * an invalid token on a public endpoint is ignored (anonymous), only endpoints that need a
      user answer 401 ``The access token is invalid``;
    * search only looks URLs up with ``resolve=true``; full-text status search finds nothing.

    Time comes from ``clock`` (any callable returning an aware UTC datetime, e.g.
    ``FakeClock(...).now``): ``created_at`` of new posts, the ``Date`` header and the fixed
    rate-limit windows (``rate_limit`` requests per ``rate_period`` per token, both plain
    attributes a test may change; deletions and unboosts also count against ``delete_limit`` per
    ``delete_period``, posts and boosts against ``post_limit`` per ``post_period``, and their
    answers' headers speak of that narrower limit, as Mastodon's do). Every request counts,
    faulted ones included. Faults: ``faults.add(regex, Fault(...))`` from :mod:`sandbox._server`
    (status, malformed, hang, drop, delay), plus :meth:`throttle_next`,
    :meth:`lose_next_response` and :meth:`malform`.

    Simplified: the central account follows through the API, at once unless the account is
    locked (then the request waits); other accounts follow whom a test says (:meth:`follow`);
    nobody hides their followers list; private posts are seen by their author and the people they mention;
    list accounts page by account id; no favourites/bookmarks API, no media upload
    (``post(media=[...])`` attaches images), text length counts code points with URLs as 23 and
    remote mentions without domain.
    """

    @property
    def faults(self) -> FaultInjector:
        return self._http.faults

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every (method, path) the server received, in order."""
        return self._http.requests

    @property
    def too_many_requests(self) -> int:
        """How many requests the rate limit refused with 429 (faults armed by a test not counted)."""
        return self._http.too_many_requests

    def wait_for_request(self, method: str, path_regex: str, timeout: float = 10.0) -> bool:
        """Block until the server has done the work of a matching request."""
        return self._http.wait_for_request(method, path_regex, timeout)

    def start(self) -> MastodonSandbox:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> MastodonSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def central(self) -> JSON:
        """The account that owns :attr:`token`, as verify_credentials would show it."""
        with self._lock:
            return self._account_json(self._central)

    def add_account(
        self,
        username: str,
        domain: str | None = None,
        *,
        display_name: str | None = None,
        note: str = "",
        bot: bool = False,
        group: bool = False,
        locked: bool = False,
        discoverable: bool | None = True,
        noindex: bool = False,
        fields: Sequence[tuple[str, str]] = (),
        created_at: datetime | None = None,
    ) -> JSON:
        """A local account, or a remote one when ``domain`` is given. ``note`` is plain text."""
        with self._lock:
            if domain == self.domain:
                domain = None
            acct = username if domain is None else f"{username}@{domain}"
            if self._find_account(acct) is not None:
                raise ValueError(f"account {acct} already exists")
            account = self._new_account(username, domain, display_name, note, bot, group, created_at)
            account.locked = locked
            account.discoverable = discoverable
            account.noindex = noindex
            account.fields = [{"name": k, "value": html.escape(v), "verified_at": None} for k, v in fields]
            return self._account_json(account)

    def set_discovery(
        self, account: Any, *, discoverable: bool | None = None, noindex: bool | None = None
    ) -> None:
        """The member changes their privacy settings ("feature profile and posts in discovery
        algorithms", "opt out of search engine indexing"); None leaves a setting as it is."""
        with self._lock:
            found = self._account_ref(account)
            if discoverable is not None:
                found.discoverable = discoverable
            if noindex is not None:
                found.noindex = noindex

    def set_note(self, account: Any, note: str) -> None:
        """The member edits their profile text (plain text, as for :meth:`add_account`)."""
        with self._lock:
            self._account_ref(account).note = f"<p>{html.escape(note)}</p>" if note else ""

    def issue_token(self, account: Any, token: str | None = None) -> str:
        """Another access token, so a test can act through the API as ``account``."""
        with self._lock:
            owner = self._account_ref(account)
            token = token or f"token-{owner.username}-{len(self._tokens)}"
            self._tokens[token] = owner.id
            return token

    def post(
        self,
        account: Any,
        text: str = "",
        *,
        tags: Iterable[str] = (),
        in_reply_to: Any = None,
        visibility: str = "public",
        language: str | None = "en",
        spoiler_text: str = "",
        mentions: Iterable[Any] = (),
        media: Sequence[str] = (),
        reblog_of: Any = None,
        created_at: datetime | None = None,
        favourites_count: int = 0,
    ) -> JSON:
        """A status this server knows: written here, or already federated in when ``account`` is
        remote. ``text`` is plain text (hashtags, mentions of known accounts and URLs are linked)
        or, if it starts with ``<``, HTML kept as given. ``tags`` missing from the text are
        appended to it; ``media`` holds image descriptions; ``reblog_of`` makes a boost instead.
        On a remote author's post a bare ``@name`` means someone on *their* server, as it would
        there: write ``@coalesce@<domain>`` or pass ``mentions=`` to reach the central account.
        Returns the status as the central account sees it."""
        with self._lock:
            author = self._account_ref(account)
            if reblog_of is not None:
                original = self._status_ref(reblog_of)
                status = self._reblog(author, original, visibility, created_at)
            else:
                status = self._compose(
                    author,
                    text,
                    tags=tags,
                    in_reply_to=self._status_ref(in_reply_to) if in_reply_to is not None else None,
                    visibility=visibility,
                    language=language,
                    spoiler_text=spoiler_text,
                    mentions=mentions,
                    media=media,
                    created_at=created_at,
                    application={"name": "Web", "website": None} if author.local else None,
                )
                status.favourites_count = favourites_count
                self._store(status)
            return self._status_json(status, self._central)

    def remote_status(
        self,
        account: Any,
        text: str = "",
        *,
        tags: Iterable[str] = (),
        visibility: str = "public",
        language: str | None = "en",
        spoiler_text: str = "",
        mentions: Iterable[Any] = (),
        media: Sequence[str] = (),
        in_reply_to: Any = None,
        created_at: datetime | None = None,
    ) -> JSON:
        """A status that exists only on ``account``'s server until someone searches its URL with
        ``resolve=true``; then it gets a local id and shows in timelines. Returns its entity
        with ``id`` None (``uri`` and ``url`` are what a member would paste)."""
        with self._lock:
            author = self._account_ref(account)
            if author.local:
                raise ValueError("remote_status needs an account with a domain")
            status = self._compose(
                author,
                text,
                tags=tags,
                in_reply_to=self._status_ref(in_reply_to) if in_reply_to is not None else None,
                visibility=visibility,
                language=language,
                spoiler_text=spoiler_text,
                mentions=mentions,
                media=media,
                created_at=created_at,
                application=None,
            )
            remote_id = self._snowflake(status.created_at)
            status.uri = f"https://{author.domain}/users/{author.username}/statuses/{remote_id}"
            status.url = f"https://{author.domain}/@{author.username}/{remote_id}"
            self._unfetched[status.uri] = status
            self._unfetched[status.url] = status
            out = self._status_json(status, self._central)
            out["id"] = None
            return out

    def delete(self, status: Any) -> None:
        """The author deletes ``status`` (and Mastodon drops its boosts and notifications)."""
        with self._lock:
            self._delete(self._status_ref(status))

    def status(self, status: Any) -> JSON | None:
        """The status as the central account sees it, or None if unknown or deleted."""
        with self._lock:
            try:
                found = self._status_ref(status)
            except KeyError:
                return None
            return None if found.deleted else self._status_json(found, self._central)

    def statuses_by(self, account: Any) -> list[JSON]:
        """Live statuses (boosts included) of ``account``, newest first."""
        with self._lock:
            author = self._account_ref(account)
            found = [s for s in self._statuses.values() if s.account is author and not s.deleted]
            return [self._status_json(s, self._central) for s in sorted(found, key=lambda s: -s.id)]

    def reblogs_of(self, status: Any, *, by: Any = None) -> list[JSON]:
        """Live boosts of ``status`` made by ``by`` (default: the central account)."""
        with self._lock:
            original = self._status_ref(status)
            booster = self._central if by is None else self._account_ref(by)
            return [self._status_json(s, self._central) for s in self._live_reblogs(original, booster)]

    def boosts_made(self, status: Any, *, by: Any = None) -> int:
        """How many boosts of ``status`` ``by`` (default: the central account) ever made, the ones
        since undone or deleted included: more than one means it was boosted twice."""
        with self._lock:
            original = self._status_ref(status)
            booster = self._central if by is None else self._account_ref(by)
            return sum(
                1 for s in self._statuses.values() if s.reblog_of == original.id and s.account is booster
            )

    def notifications(self) -> list[JSON]:
        """The central account's notifications, newest first."""
        with self._lock:
            return [self._notification_json(n) for n in self._visible_notifications()]

    def add_notification(self, type_: str, account: Any, status: Any = None) -> JSON:
        """A notification of any type (``favourite``, ``follow``...) for the central account."""
        with self._lock:
            target = self._status_ref(status) if status is not None else None
            note = self._notify(type_, self._account_ref(account), target)
            return self._notification_json(note)

    def malform(self, status: Any, how: str = "missing_account") -> None:
        """Break ``status`` wherever it is served from now on: ``missing_account``,
        ``bad_created_at`` (not a date), ``missing_id`` or ``content_not_string``."""
        if how not in _MALFORMATIONS:
            raise ValueError(f"how must be one of {_MALFORMATIONS}")
        with self._lock:
            self._malformed[self._status_ref(status).id] = how

    def set_relationship(self, account: Any, **flags: bool) -> None:
        """Flags of the central account's relationship to ``account`` (``blocking=True``...).
        ``followed_by=True`` also puts ``account`` on the central account's followers list
        (``followers_count`` is left as it is: :meth:`set_followers_count` says that)."""
        with self._lock:
            target = self._account_ref(account)
            rel = self._relationships.setdefault((self._central.id, target.id), Relationship())
            rel.flags.update(flags)
            if flags.get("followed_by"):
                back = self._relationships.setdefault((target.id, self._central.id), Relationship())
                if not back.flags.get("following"):
                    back.flags["following"] = True
                    back.since = next(self._follow_ids)

    def follow(self, follower: Any, target: Any) -> None:
        """``follower`` follows ``target`` (any two accounts; a locked target accepts at once):
        both relationships and both counts change, and ``target``'s followers list gets it."""
        with self._lock:
            self._start_following(self._account_ref(follower), self._account_ref(target), reblogs=True)

    def set_followers_count(self, count: int, account: Any = None) -> None:
        """What ``followers_count`` says for ``account`` (default: the central account)."""
        with self._lock:
            (self._central if account is None else self._account_ref(account)).followers_count = count

    def list_members(self, title: str) -> list[str] | None:
        """The accts on the central account's list called ``title``, or None if it has none."""
        with self._lock:
            for found in self._lists.values():
                if found.owner is self._central and found.title == title:
                    return [self._accounts[i].acct() for i in found.members]
            return None

    def throttle_next(
        self, path_regex: str = r"^/api/", *, reset_after: timedelta = timedelta(seconds=30), times: int = 1
    ) -> Fault:
        """Arm a 429 for the next ``times`` matching requests, with rate-limit headers that say
        the budget comes back ``reset_after`` from the sandbox clock."""
        fault = Fault(
            "status",
            status=429,
            body=dict(_TOO_MANY),
            headers={
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": self._reset_header(self.now() + reset_after),
            },
        )
        self.faults.add(path_regex, fault, times=times)
        return fault

    def lose_next_response(self, path_regex: str, *, times: int = 1, method: str | None = None) -> None:
        """Handle the next matching request for real, then drop the connection instead of
        answering: the client sees a network error although the server acted (the case
        idempotency keys and the amplifier's intent rows exist for)."""
        self._http.lost_responses.add(path_regex, Fault("drop"), times=times, method=method)

    def reset_rate_limits(self) -> None:
        with self._lock:
            self._buckets.clear()
