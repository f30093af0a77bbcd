"""Loopback emulator of the slice of the Mastodon REST API that Coalesce uses.

Tests and ``python -m bot demo`` point the real Mastodon.py client at it. Entities, paging ``Link``
headers, rate-limit headers and error bodies follow the documentation at docs.joinmastodon.org and
what a Mastodon 4.3 server actually answers; deliberate simplifications are listed on
:class:`MastodonSandbox`.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import itertools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import quote, unquote, urlencode

from sandbox._server import Fault, FaultInjector, HttpError, LoopbackServer, Request, Response, Router

__all__ = ["DEFAULT_TOKEN", "Fault", "MastodonSandbox", "main"]

DEFAULT_TOKEN = "sandbox-mastodon-token"

Clock = Callable[[], datetime]
JSON = dict[str, Any]

_VISIBILITIES = ("public", "unlisted", "private", "direct")
_MALFORMATIONS = ("missing_account", "bad_created_at", "missing_id", "content_not_string")
_INVALID_TOKEN = {"error": "The access token is invalid"}
_NOT_FOUND = {"error": "Record not found"}
_TOO_MANY = {"error": "Too many requests"}
_SEARCH_NEEDS_USER = "Search queries that resolve remote resources are not supported without authentication"

# What Mastodon's text formatter links. Close to its own patterns, not a copy of them: a hashtag
# needs at least one letter and may start with '#' or the fullwidth '＃' (Mastodon 4 takes both),
# a mention may carry a domain, a URL stops before trailing punctuation.
_URL_RE = r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'}]"
_MENTION_RE = (
    r"(?<![\w/=@])@(?P<user>[A-Za-z0-9_]+(?:[.-]+[A-Za-z0-9_]+)*)"
    r"(?:@(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))?"
)
_TAG_RE = r"(?<![\w/=)&#＃])[#＃](?P<tag>\w*[^\W\d]\w*)"
_TOKEN_RE = re.compile(f"(?P<url>{_URL_RE})|(?P<mention>{_MENTION_RE})|(?P<hashtag>{_TAG_RE})")
_TAG_ONLY_RE = re.compile(_TAG_RE)
_MENTION_ONLY_RE = re.compile(_MENTION_RE)
_URL_ONLY_RE = re.compile(_URL_RE)
_HTML_TAG_RE = re.compile(r"<[^>]+>")
_RUBY_INT_RE = re.compile(r"\s*([+-]?\d+)")
_FALSE_VALUES = {"", "0", "f", "false", "off"}
_STATUS_PATH = re.compile(r"^/api/v1/statuses/[^/]+/?$")
_POST_PATH = re.compile(r"^/api/v1/statuses/?$")
_REBLOG_PATH = re.compile(r"^/api/v1/statuses/[^/]+/reblog/?$")
_UNREBLOG_PATH = re.compile(r"^/api/v1/statuses/[^/]+/unreblog/?$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """Mastodon's datetime format: UTC, milliseconds, ``Z``."""
    moment = _aware(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _midnight(moment: datetime) -> datetime:
    return _aware(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def normalize_tag(name: str) -> str:
    """How two spellings of a hashtag are told to be the same (case and width folded)."""
    return unicodedata.normalize("NFKC", name.lstrip("#")).lower()


def _ruby_int(value: str | None) -> int | None:
    """Rails-style ``to_i``: leading digits or 0; ``None``/blank means the parameter is absent."""
    if value is None or value == "":
        return None
    m = _RUBY_INT_RE.match(value)
    return int(m.group(1)) if m else 0


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE_VALUES


@dataclass
class _Account:
    id: str
    username: str
    domain: str | None  # None: lives on this server
    display_name: str
    note: str
    bot: bool
    group: bool
    locked: bool
    discoverable: bool | None  # None: a remote account whose server does not say
    created_at: datetime
    fields: list[dict[str, Any]]
    followers_count: int
    following_count: int
    noindex: bool = False  # "ask search engines not to index my profile" (local accounts only)

    @property
    def local(self) -> bool:
        return self.domain is None

    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass
class _Status:
    id: int  # 0 until the status is known to this server
    account: _Account
    created_at: datetime
    content: str
    text: str
    visibility: str
    language: str | None
    spoiler_text: str
    sensitive: bool
    tags: list[str]  # as written, first spelling wins
    mentions: list[_Account]
    media: list[JSON]
    in_reply_to_id: int | None
    in_reply_to_account_id: str | None
    reblog_of: int | None
    uri: str = ""
    url: str | None = None
    application: JSON | None = None
    favourites_count: int = 0
    deleted: bool = False

    def tag_keys(self) -> set[str]:
        return {normalize_tag(t) for t in self.tags}


@dataclass
class _Notification:
    id: int
    type: str
    created_at: datetime
    account: _Account
    status_id: int | None


@dataclass
class _Bucket:
    window_start: float
    used: int = 0


@dataclass
class _Relationship:
    flags: dict[str, bool] = field(default_factory=dict)
    since: int = 0  # the follow's id while ``following``: followers lists page by it


@dataclass
class _Follower:
    """One entry of a followers list: paged by the follow's id, as Mastodon does."""

    id: int
    account: _Account


@dataclass
class _List:
    id: str
    owner: _Account
    title: str
    replies_policy: str = "list"
    exclusive: bool = False
    members: list[str] = field(default_factory=list)  # account ids, in the order they were added


class _MastodonHttp(LoopbackServer):
    """The loopback server plus what every Mastodon response carries: rate-limit headers and a
    ``Date`` taken from the sandbox clock (Mastodon.py corrects ``X-RateLimit-Reset`` by it)."""

    def __init__(self, sandbox: MastodonSandbox, router: Router, port: int) -> None:
        self._sandbox = sandbox
        self.lost_responses = FaultInjector()  # handled normally, then the connection drops
        self.too_many_requests = 0  # 429s the rate limit itself handed out (injected ones aside)
        super().__init__(router, FaultInjector(), port)

    def dispatch(self, req: Request) -> Response | None:
        allowed, limit_headers = self._sandbox._spend(req)
        if not allowed:
            self.too_many_requests += 1
            self.requests.append((req.method, req.path))
            return Response.of_json(_TOO_MANY, 429, limit_headers)
        resp = super().dispatch(req)
        if resp is not None and self.lost_responses.take(req.method, req.path) is not None:
            return None
        if resp is not None:
            present = {key.lower() for key in resp.headers}
            for key, value in limit_headers.items():
                if key.lower() not in present:
                    resp.headers[key] = value
        return resp

    def start(self) -> _MastodonHttp:
        # stop() waits for one poll of serve_forever; the default half second adds up over a suite
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-mastodon",
            daemon=True,
        )
        self._thread.start()
        return self

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler_class()
        sandbox = self._sandbox

        class _ClockedHandler(base):  # type: ignore[misc]
            def date_time_string(self, timestamp: float | None = None) -> str:
                if timestamp is not None:
                    return str(super().date_time_string(timestamp))
                return format_datetime(sandbox.now(), usegmt=True)

        return _ClockedHandler


class MastodonSandbox:
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

    def __init__(
        self,
        *,
        username: str = "coalesce",
        display_name: str = "Coalesce",
        token: str = DEFAULT_TOKEN,
        domain: str = "mastodon.test",
        port: int = 0,
        clock: Clock | None = None,
        rate_limit: int = 300,
        rate_period: timedelta = timedelta(minutes=5),
        delete_limit: int = 30,
        delete_period: timedelta = timedelta(minutes=30),
        post_limit: int = 300,
        post_period: timedelta = timedelta(hours=3),
        max_characters: int = 500,
        version: str = "4.3.0",
    ) -> None:
        self.domain = domain
        self.version = version
        self.clock: Clock = clock or _utc_now
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        # Mastodon's own families on top of the general limit (docs.joinmastodon.org/api/rate-limits,
        # and what a 4.6 server answers): deleting a status or undoing a boost, 30 per 30 minutes;
        # posting or boosting, 300 per 3 hours. Their answers carry that family's headers.
        self.delete_limit = delete_limit
        self.delete_period = delete_period
        self.post_limit = post_limit
        self.post_period = post_period
        self.max_characters = max_characters
        self._lock = threading.RLock()
        self._account_ids = itertools.count(1)
        self._notification_ids = itertools.count(1)
        self._media_ids = itertools.count(1)
        self._sequence = itertools.count()
        self._accounts: dict[str, _Account] = {}
        self._statuses: dict[int, _Status] = {}
        self._unfetched: dict[str, _Status] = {}  # remote statuses by uri and url
        self._notifications: dict[int, _Notification] = {}
        self._known_tags: dict[str, str] = {}  # normalized -> first spelling seen
        self._tokens: dict[str, str] = {}
        self._idempotency: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._relationships: dict[tuple[str, str], _Relationship] = {}
        self._malformed: dict[int, str] = {}
        self._lists: dict[str, _List] = {}
        self._list_ids = itertools.count(1)
        self._follow_ids = itertools.count(1)
        self._central = self._new_account(username, None, display_name, "", False, False, None)
        self._tokens[token] = self._central.id
        self.token = token
        self._http = _MastodonHttp(self, self._router(), port)

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return self._http.base_url

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

    def now(self) -> datetime:
        return _aware(self.clock())

    # ---------------------------------------------------------------- test helpers

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
            rel = self._relationships.setdefault((self._central.id, target.id), _Relationship())
            rel.flags.update(flags)
            if flags.get("followed_by"):
                back = self._relationships.setdefault((target.id, self._central.id), _Relationship())
                if not back.flags.get("following"):
                    back.flags["following"] = True
                    back.since = next(self._follow_ids)

    def follow(self, follower: Any, target: Any) -> None:
        """``follower`` follows ``target`` (any two accounts; a locked target accepts at once):
        both relationships and both counts change, and ``target``'s followers list gets it."""
        with self._lock:
            self._start_following(self._account_ref(follower), self._account_ref(target), reblogs=True)

    def _start_following(self, follower: _Account, target: _Account, *, reblogs: bool) -> _Relationship:
        rel = self._relationships.setdefault((follower.id, target.id), _Relationship())
        if not rel.flags.get("following"):
            rel.flags.update(following=True, showing_reblogs=reblogs, requested=False)
            rel.since = next(self._follow_ids)
            back = self._relationships.setdefault((target.id, follower.id), _Relationship())
            back.flags["followed_by"] = True
            target.followers_count += 1
            follower.following_count += 1
        return rel

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

    # ---------------------------------------------------------------- state internals

    def _new_account(
        self,
        username: str,
        domain: str | None,
        display_name: str | None,
        note: str,
        bot: bool,
        group: bool,
        created_at: datetime | None,
    ) -> _Account:
        account = _Account(
            id=str(next(self._account_ids)),
            username=username,
            domain=domain,
            display_name=display_name if display_name is not None else username,
            note=f"<p>{html.escape(note)}</p>" if note else "",
            bot=bot,
            group=group,
            locked=False,
            discoverable=True,
            created_at=_aware(created_at) if created_at else self.now(),
            fields=[],
            followers_count=0,
            following_count=0,
        )
        self._accounts[account.id] = account
        return account

    def _find_account(self, acct: str) -> _Account | None:
        acct = acct.strip().lstrip("@")
        user, _, host = acct.partition("@")
        if host.lower() == self.domain:
            host = ""
        for account in self._accounts.values():
            if account.username.lower() != user.lower():
                continue
            if (account.domain or "").lower() == host.lower():
                return account
        return None

    def _account_ref(self, ref: Any) -> _Account:
        if isinstance(ref, dict):
            ref = ref.get("id")
        if isinstance(ref, str):
            if ref in self._accounts:
                return self._accounts[ref]
            found = self._find_account(ref)
            if found is not None:
                return found
        raise KeyError(f"unknown account {ref!r}")

    def _status_ref(self, ref: Any) -> _Status:
        if isinstance(ref, dict):
            ref = ref.get("id") or ref.get("uri")
        if isinstance(ref, str) and ref in self._unfetched:
            return self._unfetched[ref]
        try:
            return self._statuses[int(ref)]
        except (TypeError, ValueError, KeyError):
            raise KeyError(f"unknown status {ref!r}") from None

    def _snowflake(self, moment: datetime) -> int:
        millis = int(_aware(moment).timestamp() * 1000)
        candidate = (millis << 16) | (next(self._sequence) & 0xFFFF)
        while candidate in self._statuses:
            candidate += 1
        return candidate

    def _compose(
        self,
        author: _Account,
        text: str,
        *,
        tags: Iterable[str],
        in_reply_to: _Status | None,
        visibility: str,
        language: str | None,
        spoiler_text: str,
        mentions: Iterable[Any],
        media: Sequence[str],
        created_at: datetime | None,
        application: JSON | None,
    ) -> _Status:
        if visibility not in _VISIBILITIES:
            raise ValueError(f"visibility must be one of {_VISIBILITIES}")
        extra_mentions = [self._account_ref(m) for m in mentions]
        if text.lstrip().startswith("<"):
            content = text
            plain = html.unescape(_HTML_TAG_RE.sub(" ", text))
            found_tags = [m.group("tag") for m in _TAG_ONLY_RE.finditer(plain)]
            found_mentions: list[_Account] = []
        else:
            present = {normalize_tag(m.group("tag")) for m in _TAG_ONLY_RE.finditer(text)}
            missing = [t.lstrip("#") for t in tags if normalize_tag(t) not in present]
            if missing:
                text = (text.rstrip() + " " if text.strip() else "") + " ".join("#" + t for t in missing)
            content, found_tags, found_mentions = self._render(text, author)
        all_tags: list[str] = []
        for tag in [*found_tags, *(t.lstrip("#") for t in tags)]:
            if normalize_tag(tag) not in {normalize_tag(t) for t in all_tags}:
                all_tags.append(tag)
        all_mentions: list[_Account] = []
        for account in [*found_mentions, *extra_mentions]:
            if account not in all_mentions:
                all_mentions.append(account)
        return _Status(
            id=0,
            account=author,
            created_at=_aware(created_at) if created_at else self.now(),
            content=content,
            text=text,
            visibility=visibility,
            language=language,
            spoiler_text=spoiler_text,
            sensitive=bool(spoiler_text),
            tags=all_tags,
            mentions=all_mentions,
            media=[self._media_json(author, description) for description in media],
            in_reply_to_id=in_reply_to.id if in_reply_to else None,
            in_reply_to_account_id=in_reply_to.account.id if in_reply_to else None,
            reblog_of=None,
            application=application,
        )

    def _store(self, status: _Status) -> _Status:
        """Give ``status`` its local id and make it visible; mentions notify as on Mastodon."""
        status.id = self._snowflake(status.created_at)
        author = status.account
        if not status.uri:  # remote_status() brings its own; a federated post() keeps its new id
            host = author.domain or self.domain
            status.uri = f"https://{host}/users/{author.username}/statuses/{status.id}"
            if status.reblog_of is not None:
                status.uri += "/activity"
                status.url = status.uri
            else:
                status.url = f"https://{host}/@{author.username}/{status.id}"
        self._statuses[status.id] = status
        for tag in status.tags:
            self._known_tags.setdefault(normalize_tag(tag), tag)
        if self._central in status.mentions and author is not self._central and status.reblog_of is None:
            self._notify("mention", author, status)
        return status

    def _reblog(
        self, booster: _Account, original: _Status, visibility: str, created_at: datetime | None
    ) -> _Status:
        if original.reblog_of is not None:
            original = self._statuses[original.reblog_of]
        existing = self._live_reblogs(original, booster)
        if existing:
            return existing[0]
        wrapper = _Status(
            id=0,
            account=booster,
            created_at=_aware(created_at) if created_at else self.now(),
            content="",
            text="",
            visibility=visibility if visibility in ("public", "unlisted", "private") else "public",
            language=None,
            spoiler_text="",
            sensitive=False,
            tags=[],
            mentions=[],
            media=[],
            in_reply_to_id=None,
            in_reply_to_account_id=None,
            reblog_of=original.id,
        )
        self._store(wrapper)
        if original.account is self._central and booster is not self._central:
            self._notify("reblog", booster, original)
        return wrapper

    def _live_reblogs(self, original: _Status, booster: _Account | None) -> list[_Status]:
        return [
            s
            for s in self._statuses.values()
            if s.reblog_of == original.id and not s.deleted and (booster is None or s.account is booster)
        ]

    def _delete(self, status: _Status) -> None:
        status.deleted = True
        for boost in self._live_reblogs(status, None):
            boost.deleted = True
        for note_id, note in list(self._notifications.items()):
            if note.status_id == status.id:
                del self._notifications[note_id]

    def _notify(self, type_: str, account: _Account, status: _Status | None) -> _Notification:
        note = _Notification(
            id=next(self._notification_ids),
            type=type_,
            created_at=self.now(),
            account=account,
            status_id=status.id if status else None,
        )
        self._notifications[note.id] = note
        return note

    def _visible_notifications(self) -> list[_Notification]:
        return sorted(self._notifications.values(), key=lambda n: -n.id)

    def _can_see(self, status: _Status, viewer: _Account | None) -> bool:
        if status.deleted or status.id == 0:
            return False
        if status.reblog_of is not None:
            original = self._statuses.get(status.reblog_of)
            if original is None or not self._can_see(original, viewer):
                return False
        if status.visibility in ("public", "unlisted"):
            return True
        return viewer is not None and (viewer is status.account or viewer in status.mentions)

    # ---------------------------------------------------------------- rendering

    def _profile_url(self, account: _Account) -> str:
        return f"https://{account.domain or self.domain}/@{account.username}"

    def _actor_uri(self, account: _Account) -> str:
        return f"https://{account.domain or self.domain}/users/{account.username}"

    def _tag_url(self, name: str, host: str | None = None) -> str:
        return f"https://{host or self.domain}/tags/{quote(name)}"

    def _render(self, text: str, author: _Account) -> tuple[str, list[str], list[_Account]]:
        """Plain text to Mastodon-style HTML: paragraphs, ``<br />``, linked tags/mentions/URLs."""
        tags: list[str] = []
        mentions: list[_Account] = []
        remote = not author.local
        ext = ' rel="nofollow noopener noreferrer" target="_blank"' if remote else ""

        def link(m: re.Match[str]) -> str:
            if m.group("url"):
                return self._url_html(m.group("url"))
            if m.group("mention"):
                host = m.group("host")
                if host is None and not author.local:
                    host = author.domain  # a bare @name on a remote post means someone there
                target = self._find_account(f"{m.group('user')}@{host}" if host else m.group("user"))
                if target is None:
                    return html.escape(m.group(0))
                if target not in mentions:
                    mentions.append(target)
                return (
                    f'<span class="h-card" translate="no"><a href="{self._profile_url(target)}" '
                    f'class="u-url mention"{ext}>@<span>{html.escape(target.username)}</span></a></span>'
                )
            name = m.group("tag")
            tags.append(name)
            href = self._tag_url(name, author.domain)
            rel = ' rel="nofollow noopener noreferrer" target="_blank"' if remote else ' rel="tag"'
            return f'<a href="{href}" class="mention hashtag"{rel}>#<span>{html.escape(name)}</span></a>'

        def line_html(line: str) -> str:
            out: list[str] = []
            last = 0
            for m in _TOKEN_RE.finditer(line):
                out.append(html.escape(line[last : m.start()]))
                out.append(link(m))
                last = m.end()
            out.append(html.escape(line[last:]))
            return "".join(out)

        paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p.strip()]
        body = "".join(
            "<p>" + "<br />".join(line_html(x) for x in p.split("\n")) + "</p>" for p in paragraphs
        )
        return body, tags, mentions

    @staticmethod
    def _url_html(url: str) -> str:
        m = re.match(r"(https?://(?:www\.)?)(.*)", url)
        prefix, rest = (m.group(1), m.group(2)) if m else ("", url)
        shown, hidden = rest[:30], rest[30:]
        css = "ellipsis" if hidden else ""
        return (
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{html.escape(prefix)}</span>'
            f'<span class="{css}">{html.escape(shown)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>'
        )

    def _media_json(self, author: _Account, description: str) -> JSON:
        media_id = str(next(self._media_ids))
        host = author.domain or self.domain
        url = f"https://{host}/system/media_attachments/files/{media_id}/original/image.png"
        return {
            "id": media_id,
            "type": "image",
            "url": url,
            "preview_url": url.replace("/original/", "/small/"),
            "remote_url": None if author.local else url,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"original": {"width": 640, "height": 480, "size": "640x480", "aspect": 4 / 3}},
            "description": description or None,
            "blurhash": None,
        }

    def _account_json(self, account: _Account) -> JSON:
        statuses = [s for s in self._statuses.values() if s.account is account and not s.deleted]
        last = max((s.created_at for s in statuses), default=None)
        avatar = f"https://{self.domain}/avatars/original/missing.png"
        header = f"https://{self.domain}/headers/original/missing.png"
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.acct(),
            "display_name": account.display_name,
            "locked": account.locked,
            "bot": account.bot,
            "discoverable": account.discoverable,
            "indexable": bool(account.discoverable),
            "group": account.group,
            "created_at": _iso(_midnight(account.created_at)),
            "note": account.note,
            "url": self._profile_url(account),
            "uri": self._actor_uri(account),
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "followers_count": account.followers_count,
            "following_count": account.following_count,
            "statuses_count": len(statuses),
            "last_status_at": last.strftime("%Y-%m-%d") if last else None,
            "hide_collections": False,
            "emojis": [],
            "roles": [],
            "fields": list(account.fields),
            # Mastodon gives noindex for its own accounts only (REST::AccountSerializer)
            **({"noindex": account.noindex} if account.domain is None else {}),
        }

    def _credential_json(self, account: _Account) -> JSON:
        out = self._account_json(account)
        out["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": "",
            "note": html.unescape(_HTML_TAG_RE.sub("", account.note)),
            "fields": [{**f, "value": html.unescape(f["value"])} for f in account.fields],
            "follow_requests_count": 0,
            "hide_collections": False,
            "discoverable": account.discoverable,
            "indexable": bool(account.discoverable),
        }
        out["role"] = {"id": "-99", "name": "", "permissions": "65536", "color": "", "highlighted": False}
        return out

    def _status_json(self, status: _Status, viewer: _Account | None, *, with_source: bool = False) -> JSON:
        original = self._statuses.get(status.reblog_of) if status.reblog_of is not None else None
        replies = sum(1 for s in self._statuses.values() if s.in_reply_to_id == status.id and not s.deleted)
        reblogs = len(self._live_reblogs(status, None)) if status.id else 0
        out: JSON = {
            "id": str(status.id),
            "created_at": _iso(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": status.uri,
            "url": status.url,
            "replies_count": replies,
            "reblogs_count": reblogs,
            "favourites_count": status.favourites_count,
            "edited_at": None,
        }
        if viewer is not None:
            # Mastodon answers for the boosted status, so a boost wrapper says reblogged: true too
            proper = original or status
            out["favourited"] = False
            out["reblogged"] = bool(self._live_reblogs(proper, viewer)) if proper.id else False
            out["muted"] = False
            out["bookmarked"] = False
            # Only the author's own statuses say whether they are pinned, and only those that
            # can be pinned: not a boost, not a direct message.
            pinnable = status.reblog_of is None and status.visibility in ("public", "unlisted", "private")
            if viewer is status.account and pinnable:
                out["pinned"] = False
        # A deleted status comes back with its source text instead of its HTML, to redraft from.
        if with_source:
            out["text"] = status.text
        else:
            out["content"] = status.content
        if viewer is not None:
            out["filtered"] = []
        out["reblog"] = self._status_json(original, viewer) if original is not None else None
        if status.account.local:
            out["application"] = status.application
        out["account"] = self._account_json(status.account)
        out["media_attachments"] = list(status.media)
        out["mentions"] = [
            {"id": a.id, "username": a.username, "url": self._profile_url(a), "acct": a.acct()}
            for a in status.mentions
        ]
        out["tags"] = [
            {"name": normalize_tag(t), "url": self._tag_url(normalize_tag(t))} for t in status.tags
        ]
        out["emojis"] = []
        out["card"] = None
        out["poll"] = None
        return self._apply_malformation(status, out)

    def _apply_malformation(self, status: _Status, out: JSON) -> JSON:
        how = self._malformed.get(status.id)
        if how == "missing_account":
            del out["account"]
        elif how == "bad_created_at":
            out["created_at"] = "yesterday-ish"
        elif how == "missing_id":
            del out["id"]
        elif how == "content_not_string":
            out["content"] = {"html": out["content"]}
        return out

    def _notification_json(self, note: _Notification) -> JSON:
        out: JSON = {
            "id": str(note.id),
            "type": note.type,
            "created_at": _iso(note.created_at),
            "group_key": f"ungrouped-{note.id}",
            "account": self._account_json(note.account),
        }
        if note.status_id is not None:
            out["status"] = self._status_json(self._statuses[note.status_id], self._central)
        return out

    def _tag_json(self, normalized: str) -> JSON:
        return {"name": self._known_tags[normalized], "url": self._tag_url(normalized), "history": []}

    # ---------------------------------------------------------------- rate limiting

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

    def _take(self, key: str, limit: int, period_span: timedelta) -> tuple[_Bucket, float, float]:
        """The bucket for ``key`` in its current window (fixed, aligned to the epoch like
        Rack::Attack's, so the reset time is predictable), its window start and length."""
        now = self.now().timestamp()
        period = period_span.total_seconds()
        start = (now // period) * period
        bucket = self._buckets.get(key)
        if bucket is None or bucket.window_start != start:
            bucket = self._buckets[key] = _Bucket(start)
        return bucket, start, period

    def _headers(self, bucket: _Bucket, limit: int, start: float, period: float) -> dict[str, str]:
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

    # ---------------------------------------------------------------- HTTP

    def _router(self) -> Router:
        router = Router()
        routes: list[tuple[str, str, Callable[[Request, _Account | None], Response], bool]] = [
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
        self, handler: Callable[[Request, _Account | None], Response], needs_user: bool
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

    def _visible_status(self, raw_id: str, viewer: _Account | None) -> _Status:
        try:
            status = self._statuses[int(raw_id)]
        except (ValueError, KeyError):
            raise HttpError(404, dict(_NOT_FOUND)) from None
        if not self._can_see(status, viewer):
            raise HttpError(404, dict(_NOT_FOUND))
        return status

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

    def _h_instance_v1(self, req: Request, viewer: _Account | None) -> Response:
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

    def _configuration(self, *, v1: bool = False) -> JSON:
        accounts: JSON = {"max_featured_tags": 10}
        if not v1:  # the v1 document never had it
            accounts["max_pinned_statuses"] = 5
        return {
            "accounts": accounts,
            "statuses": {
                "max_characters": self.max_characters,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23,
            },
            "media_attachments": {
                "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
                "image_size_limit": 16777216,
                "image_matrix_limit": 33177600,
                "video_size_limit": 103809024,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8294400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2629746,
            },
        }

    def _h_instance_v2(self, req: Request, viewer: _Account | None) -> Response:
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

    def _h_verify_credentials(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        return Response.of_json(self._credential_json(viewer))

    def _h_account(self, req: Request, viewer: _Account | None) -> Response:
        account = self._accounts.get(req.match["id"])
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        return Response.of_json(self._account_json(account))

    def _h_account_lookup(self, req: Request, viewer: _Account | None) -> Response:
        account = self._find_account(req.param("acct") or "")
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        return Response.of_json(self._account_json(account))

    def _h_relationships(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        out = [
            self._relationship_json(viewer, account_id)
            for account_id in req.params("id")
            if account_id in self._accounts
        ]
        return Response.of_json(out)

    def _relationship_json(self, viewer: _Account, account_id: str) -> JSON:
        rel = self._relationships.get((viewer.id, account_id), _Relationship())
        entry: JSON = {"id": account_id}
        for flag in (
            "following",
            "showing_reblogs",
            "notifying",
            "followed_by",
            "blocking",
            "blocked_by",
            "muting",
            "muting_notifications",
            "requested",
            "requested_by",
            "domain_blocking",
            "endorsed",
        ):
            entry[flag] = rel.flags.get(flag, False)
        entry["languages"] = None
        entry["note"] = ""
        return entry

    def _h_account_statuses(self, req: Request, viewer: _Account | None) -> Response:
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

    def _h_tag_timeline(self, req: Request, viewer: _Account | None) -> Response:
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

    def _hidden_from(self, viewer: _Account, author: _Account) -> bool:
        rel = self._relationships.get((viewer.id, author.id))
        return rel is not None and (rel.flags.get("blocking", False) or rel.flags.get("muting", False))

    def _h_status(self, req: Request, viewer: _Account | None) -> Response:
        return Response.of_json(self._status_json(self._visible_status(req.match["id"], viewer), viewer))

    def _h_context(self, req: Request, viewer: _Account | None) -> Response:
        """The statuses above and below one in its thread, as the viewer may see them:
        ``ancestors`` oldest first, ``descendants`` depth first in reply order. Anonymous
        callers get at most 40 ancestors and 60 descendants, 20 levels deep (as Mastodon)."""
        status = self._visible_status(req.match["id"], viewer)
        most_up, most_down, deepest = (40, 60, 20) if viewer is None else (4096, 4096, 4096)
        ancestors: list[_Status] = []
        parent_id = status.in_reply_to_id
        while parent_id is not None and len(ancestors) < most_up:
            parent = self._statuses.get(parent_id)
            if parent is None or not self._can_see(parent, viewer):
                break
            ancestors.insert(0, parent)
            parent_id = parent.in_reply_to_id
        descendants: list[_Status] = []

        def below(parent: _Status, depth: int) -> None:
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

    def _h_statuses_many(self, req: Request, viewer: _Account | None) -> Response:
        out = []
        for raw in req.params("id"):
            try:
                out.append(self._status_json(self._visible_status(raw, viewer), viewer))
            except HttpError:
                continue
        return Response.of_json(out)

    def _h_post_status(self, req: Request, viewer: _Account | None) -> Response:
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

    def _h_delete_status(self, req: Request, viewer: _Account | None) -> Response:
        status = self._visible_status(req.match["id"], viewer)
        if status.account is not viewer:
            raise HttpError(404, dict(_NOT_FOUND))
        out = self._status_json(status, viewer, with_source=True)
        self._delete(status)
        return Response.of_json(out)

    def _h_reblog(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        target = self._visible_status(req.match["id"], viewer)
        if target.reblog_of is not None:
            target = self._statuses[target.reblog_of]
        if target.visibility in ("private", "direct"):
            raise HttpError(403, {"error": "This action is not allowed"})
        wrapper = self._reblog(viewer, target, req.param("visibility") or "public", None)
        return Response.of_json(self._status_json(wrapper, viewer))

    def _h_unreblog(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        target = self._visible_status(req.match["id"], viewer)
        for boost in self._live_reblogs(target, viewer):
            self._delete(boost)
        return Response.of_json(self._status_json(target, viewer))

    def _h_search(self, req: Request, viewer: _Account | None) -> Response:
        query = (req.param("q") or "").strip()
        resolve = _truthy(req.param("resolve"))
        if viewer is None and (resolve or _ruby_int(req.param("offset"))):
            raise HttpError(401, {"error": _SEARCH_NEEDS_USER})
        kind = req.param("type")
        limit = _limit(req, 20)
        accounts: list[_Account] = []
        statuses: list[_Status] = []
        tags: list[str] = []
        if re.match(r"https?://", query):
            if resolve:
                found = self._resolve_url(query, viewer)
                if isinstance(found, _Account):
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

    def _resolve_url(self, url: str, viewer: _Account | None) -> _Status | _Account | None:
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

    def _search_accounts(self, query: str) -> list[_Account]:
        exact = self._find_account(query)
        needle = query.lstrip("@").lower()
        matches = [] if exact is None else [exact]
        for account in self._accounts.values():
            if account is exact:
                continue
            if account.acct().lower().startswith(needle) or account.display_name.lower().startswith(needle):
                matches.append(account)
        return matches

    def _h_notifications(self, req: Request, viewer: _Account | None) -> Response:
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

    # -- follows and lists (the central account keeps a members list; members must be followed)

    def _h_follow(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        target = self._accounts.get(req.match["id"])
        if target is None or target is viewer:
            raise HttpError(404, dict(_NOT_FOUND))
        rel = self._relationships.setdefault((viewer.id, target.id), _Relationship())
        if not rel.flags.get("following"):
            if target.locked:
                rel.flags["requested"] = True
            else:
                self._start_following(viewer, target, reblogs=_truthy(req.param("reblogs") or "true"))
        return Response.of_json(self._relationship_json(viewer, target.id))

    def _h_followers(self, req: Request, viewer: _Account | None) -> Response:
        """Who follows the account, newest follow first, paged by the follows' ids (40 by
        default, at most 80) with a ``Link`` header."""
        account = self._accounts.get(req.match["id"])
        if account is None:
            raise HttpError(404, dict(_NOT_FOUND))
        found = [
            _Follower(rel.since, self._accounts[follower_id])
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

    def _list_json(self, found: _List) -> JSON:
        return {
            "id": found.id,
            "title": found.title,
            "replies_policy": found.replies_policy,
            "exclusive": found.exclusive,
        }

    def _own_list(self, req: Request, viewer: _Account | None) -> _List:
        found = self._lists.get(req.match["id"])
        if found is None or found.owner is not viewer:
            raise HttpError(404, dict(_NOT_FOUND))
        return found

    def _h_lists(self, req: Request, viewer: _Account | None) -> Response:
        mine = [x for x in self._lists.values() if x.owner is viewer]
        return Response.of_json([self._list_json(x) for x in mine])

    def _h_list(self, req: Request, viewer: _Account | None) -> Response:
        return Response.of_json(self._list_json(self._own_list(req, viewer)))

    def _h_create_list(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        title = (req.param("title") or "").strip()
        if not title:
            raise HttpError(422, {"error": "Validation failed: Title can't be blank"})
        policy = req.param("replies_policy") or "list"
        if policy not in ("followed", "list", "none"):
            raise HttpError(422, {"error": "Validation failed: Replies policy is not included in the list"})
        found = _List(str(next(self._list_ids)), viewer, title, policy, _truthy(req.param("exclusive")))
        self._lists[found.id] = found
        return Response.of_json(self._list_json(found))

    def _h_list_accounts(self, req: Request, viewer: _Account | None) -> Response:
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

    def _h_list_add(self, req: Request, viewer: _Account | None) -> Response:
        assert viewer is not None
        found = self._own_list(req, viewer)
        wanted = req.params("account_ids")
        for account_id in wanted:
            rel = self._relationships.get((viewer.id, account_id), _Relationship())
            if account_id not in self._accounts or not rel.flags.get("following"):
                raise HttpError(404, dict(_NOT_FOUND))  # Mastodon lists only accounts one follows
            if account_id in found.members:
                raise HttpError(422, {"error": "Validation failed: Account has already been taken"})
        found.members.extend(dict.fromkeys(wanted))
        return Response.of_json({})

    def _h_list_remove(self, req: Request, viewer: _Account | None) -> Response:
        found = self._own_list(req, viewer)
        gone = set(req.params("account_ids"))
        found.members = [i for i in found.members if i not in gone]
        return Response.of_json({})


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


if __name__ == "__main__":
    raise SystemExit(main())
