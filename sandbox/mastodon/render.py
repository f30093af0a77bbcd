"""The Mastodon sandbox's JSON: entities as a Mastodon 4.3 server renders them for a given viewer."""

from __future__ import annotations

import html

from sandbox.mastodon.model import (
    _HTML_TAG_RE,
    JSON,
    Account,
    MastodonList,
    Notification,
    Relationship,
    Status,
    _iso,
    _midnight,
    normalize_tag,
)
from sandbox.mastodon.state import MastodonState


class MastodonRender(MastodonState):
    """Accounts, statuses, notifications, tags, relationships and lists as Mastodon's JSON."""

    def _account_json(self, account: Account) -> JSON:
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

    def _credential_json(self, account: Account) -> JSON:
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

    def _status_json(self, status: Status, viewer: Account | None, *, with_source: bool = False) -> JSON:
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

    def _apply_malformation(self, status: Status, out: JSON) -> JSON:
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

    def _notification_json(self, note: Notification) -> JSON:
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

    def _relationship_json(self, viewer: Account, account_id: str) -> JSON:
        rel = self._relationships.get((viewer.id, account_id), Relationship())
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

    def _list_json(self, found: MastodonList) -> JSON:
        return {
            "id": found.id,
            "title": found.title,
            "replies_policy": found.replies_policy,
            "exclusive": found.exclusive,
        }
