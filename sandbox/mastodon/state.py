"""The Mastodon sandbox's state: accounts, statuses, notifications, relationships and lists,
and the rules that change them (posting, boosting, deleting, who can see what)."""

from __future__ import annotations

import html
import itertools
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sandbox._server import Request, Router
from sandbox.mastodon.http import MastodonHttp
from sandbox.mastodon.model import (
    _HTML_TAG_RE,
    _TAG_ONLY_RE,
    _TOKEN_RE,
    _VISIBILITIES,
    DEFAULT_TOKEN,
    JSON,
    Account,
    Bucket,
    Clock,
    MastodonList,
    Notification,
    Relationship,
    Status,
    _aware,
    _utc_now,
    normalize_tag,
)


class MastodonState:
    """Everything the server knows, behind one lock; the HTTP layers read and change it."""

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
        self._accounts: dict[str, Account] = {}
        self._statuses: dict[int, Status] = {}
        self._unfetched: dict[str, Status] = {}  # remote statuses by uri and url
        self._notifications: dict[int, Notification] = {}
        self._known_tags: dict[str, str] = {}  # normalized -> first spelling seen
        self._tokens: dict[str, str] = {}
        self._idempotency: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._buckets: dict[str, Bucket] = {}
        self._relationships: dict[tuple[str, str], Relationship] = {}
        self._malformed: dict[int, str] = {}
        self._lists: dict[str, MastodonList] = {}
        self._list_ids = itertools.count(1)
        self._follow_ids = itertools.count(1)
        self._central = self._new_account(username, None, display_name, "", False, False, None)
        self._tokens[token] = self._central.id
        self.token = token
        self._http = MastodonHttp(self._router(), port, spend=self._spend, now=self.now)

    # The HTTP layers (handlers.py) answer these two; the state only wires them to the server.
    def _router(self) -> Router:
        raise NotImplementedError

    def _spend(self, req: Request) -> tuple[bool, dict[str, str]]:
        raise NotImplementedError

    def now(self) -> datetime:
        return _aware(self.clock())

    def _new_account(
        self,
        username: str,
        domain: str | None,
        display_name: str | None,
        note: str,
        bot: bool,
        group: bool,
        created_at: datetime | None,
    ) -> Account:
        account = Account(
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

    def _find_account(self, acct: str) -> Account | None:
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

    def _account_ref(self, ref: Any) -> Account:
        if isinstance(ref, dict):
            ref = ref.get("id")
        if isinstance(ref, str):
            if ref in self._accounts:
                return self._accounts[ref]
            found = self._find_account(ref)
            if found is not None:
                return found
        raise KeyError(f"unknown account {ref!r}")

    def _status_ref(self, ref: Any) -> Status:
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
        author: Account,
        text: str,
        *,
        tags: Iterable[str],
        in_reply_to: Status | None,
        visibility: str,
        language: str | None,
        spoiler_text: str,
        mentions: Iterable[Any],
        media: Sequence[str],
        created_at: datetime | None,
        application: JSON | None,
    ) -> Status:
        if visibility not in _VISIBILITIES:
            raise ValueError(f"visibility must be one of {_VISIBILITIES}")
        extra_mentions = [self._account_ref(m) for m in mentions]
        if text.lstrip().startswith("<"):
            content = text
            plain = html.unescape(_HTML_TAG_RE.sub(" ", text))
            found_tags = [m.group("tag") for m in _TAG_ONLY_RE.finditer(plain)]
            found_mentions: list[Account] = []
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
        all_mentions: list[Account] = []
        for account in [*found_mentions, *extra_mentions]:
            if account not in all_mentions:
                all_mentions.append(account)
        return Status(
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

    def _store(self, status: Status) -> Status:
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
        self, booster: Account, original: Status, visibility: str, created_at: datetime | None
    ) -> Status:
        if original.reblog_of is not None:
            original = self._statuses[original.reblog_of]
        existing = self._live_reblogs(original, booster)
        if existing:
            return existing[0]
        wrapper = Status(
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

    def _live_reblogs(self, original: Status, booster: Account | None) -> list[Status]:
        return [
            s
            for s in self._statuses.values()
            if s.reblog_of == original.id and not s.deleted and (booster is None or s.account is booster)
        ]

    def _delete(self, status: Status) -> None:
        status.deleted = True
        for boost in self._live_reblogs(status, None):
            boost.deleted = True
        for note_id, note in list(self._notifications.items()):
            if note.status_id == status.id:
                del self._notifications[note_id]

    def _notify(self, type_: str, account: Account, status: Status | None) -> Notification:
        note = Notification(
            id=next(self._notification_ids),
            type=type_,
            created_at=self.now(),
            account=account,
            status_id=status.id if status else None,
        )
        self._notifications[note.id] = note
        return note

    def _visible_notifications(self) -> list[Notification]:
        return sorted(self._notifications.values(), key=lambda n: -n.id)

    def _can_see(self, status: Status, viewer: Account | None) -> bool:
        if status.deleted or status.id == 0:
            return False
        if status.reblog_of is not None:
            original = self._statuses.get(status.reblog_of)
            if original is None or not self._can_see(original, viewer):
                return False
        if status.visibility in ("public", "unlisted"):
            return True
        return viewer is not None and (viewer is status.account or viewer in status.mentions)

    def _start_following(self, follower: Account, target: Account, *, reblogs: bool) -> Relationship:
        rel = self._relationships.setdefault((follower.id, target.id), Relationship())
        if not rel.flags.get("following"):
            rel.flags.update(following=True, showing_reblogs=reblogs, requested=False)
            rel.since = next(self._follow_ids)
            back = self._relationships.setdefault((target.id, follower.id), Relationship())
            back.flags["followed_by"] = True
            target.followers_count += 1
            follower.following_count += 1
        return rel

    def _profile_url(self, account: Account) -> str:
        return f"https://{account.domain or self.domain}/@{account.username}"

    def _actor_uri(self, account: Account) -> str:
        return f"https://{account.domain or self.domain}/users/{account.username}"

    def _tag_url(self, name: str, host: str | None = None) -> str:
        return f"https://{host or self.domain}/tags/{quote(name)}"

    def _render(self, text: str, author: Account) -> tuple[str, list[str], list[Account]]:
        """Plain text to Mastodon-style HTML: paragraphs, ``<br />``, linked tags/mentions/URLs."""
        tags: list[str] = []
        mentions: list[Account] = []
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

    def _media_json(self, author: Account, description: str) -> JSON:
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

    @property
    def base_url(self) -> str:
        return self._http.base_url
