"""The community's list of opportunities: intake from curators, files and members' posts, one
entry per url however often it is shared, and which entries are still open on a given day."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import yaml
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from bot.domain import Post
from bot.errors import SeriesError
from bot.links import TRACKING, without_tracking
from bot.progress import Progress
from bot.series.opportunity_words import ELIGIBILITY_WORDS, HASHTAG, deadline_in, words_in
from bot.series.opportunity_words import guess_kind as guess_kind  # importers find it here too
from bot.series.templates import KINDS
from bot.store import models as m
from bot.store.store import Store, dialect_insert
from bot.text import URL, numbered

# Query parameters that say where a link was shared, not what it points to.
_UNRESERVED_OR_PATH = "/:@!$&'()*+,;=-._~"


def normalize_url(url: str) -> str:
    """The key two submissions of one opportunity share: no scheme, no ``www.``, no default
    port, no fragment, no tracking parameters, sorted query, no trailing slash.

    Raises SeriesError when ``url`` is not an http(s) link."""
    text = url.strip()
    try:  # urllib raises ValueError on a bad port (99999) or a broken [IPv6] host: the link's fault
        parts = urlsplit(text)
        hostname, port_given = parts.hostname, parts.port
    except ValueError as exc:
        raise SeriesError(f"{text[:200]!r} is not a usable web link ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        raise SeriesError(f"{text[:200]!r} is not a web link (expected https://…)")
    host = hostname.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):  # a host idna cannot encode is kept as written
        host = host.encode("idna").decode("ascii")
    host = host.removeprefix("www.")
    port = port_given if port_given not in (None, 80, 443) else None
    path = quote(unquote(parts.path), safe=_UNRESERVED_OR_PATH + "%")
    path = re.sub(r"/{2,}", "/", path).rstrip("/")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k))
    key = host + (f":{port}" if port else "") + path
    return key + (f"?{urlencode(query)}" if query else "")


@dataclass(frozen=True)
class OpportunityDraft:
    """An opportunity as submitted, before it meets the list."""

    title: str
    url: str
    kind: str = "other"
    organisation: str = ""
    deadline: date | None = None
    eligibility: tuple[str, ...] = ()
    language: str | None = None
    submitted_by: str = "unknown"
    source: str = "cli"
    candidate_id: int | None = None

    def checked(self) -> OpportunityDraft:
        """The draft with its text tidied; SeriesError naming the field when something is wrong."""
        title = " ".join(self.title.split())
        if not title:
            raise SeriesError("title: an opportunity needs a title")
        if self.kind not in KINDS:
            raise SeriesError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        normalize_url(self.url)
        tags = tuple(dict.fromkeys(t.strip().lower() for t in self.eligibility if t.strip()))
        return replace(
            self,
            title=title,
            url=without_tracking(self.url.strip()),
            organisation=" ".join(self.organisation.split()),
            eligibility=tags,
            language=(self.language or None) and self.language.strip().lower(),
        )


@dataclass(frozen=True)
class Opportunity:
    id: int
    kind: str
    title: str
    organisation: str
    url: str
    deadline: date | None
    eligibility: tuple[str, ...]
    language: str | None
    submitted_by: str
    source: str
    created_at: datetime
    removed: bool = False

    def is_open(self, day: date) -> bool:
        return not self.removed and (self.deadline is None or self.deadline >= day)

    def days_left(self, day: date) -> int | None:
        return None if self.deadline is None else (self.deadline - day).days

    def closing_soon(self, day: date, within_days: int) -> bool:
        left = self.days_left(day)
        return left is not None and 0 <= left <= within_days

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "organisation": self.organisation,
            "url": self.url,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "eligibility": list(self.eligibility),
            "language": self.language,
            "submitted_by": self.submitted_by,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "removed": self.removed,
        }


def digest_order(items: Iterable[Opportunity]) -> list[Opportunity]:
    """Soonest deadline first; entries without a deadline after those with one, oldest first."""
    return sorted(items, key=lambda o: (o.deadline is None, o.deadline or date.max, o.created_at, o.id))


@dataclass(frozen=True)
class Added:
    opportunity: Opportunity
    merged: bool  # the url was on the list already; what was new was added to that entry


@dataclass
class ImportReport:
    added: list[Opportunity] = field(default_factory=list)
    merged: list[Opportunity] = field(default_factory=list)


def _to_date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SeriesError(f"{where}: expected a date like 2026-04-01, got {value!r}")


def _to_tags(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in (p.strip() for p in value.split(",")) if v)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SeriesError(f"{where}: expected a list of words like [students, residents]")


_DRAFT_KEYS = ("title", "url", "kind", "organisation", "organization", "deadline", "eligibility", "language")


def draft_from_mapping(data: Any, where: str, *, submitted_by: str, source: str) -> OpportunityDraft:
    """One entry of an import file (or a chat command's fields), checked."""
    if not isinstance(data, Mapping):
        raise SeriesError(f"{where}: expected title, url and the other fields of an opportunity")
    unknown = [k for k in data if k not in (*_DRAFT_KEYS, "submitted_by")]
    if unknown:
        raise SeriesError(f"{where}.{unknown[0]}: unknown field (expected one of: {', '.join(_DRAFT_KEYS)})")
    for name in ("title", "url"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise SeriesError(f"{where}.{name}: required")
    texts = {}
    for name in ("kind", "organisation", "organization", "language", "submitted_by"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise SeriesError(f"{where}.{name}: expected text")
        texts[name] = value
    draft = OpportunityDraft(
        title=data["title"],
        url=data["url"],
        kind=(texts["kind"] or "other").strip().lower(),
        organisation=texts["organisation"] or texts["organization"] or "",
        deadline=_to_date(data.get("deadline"), f"{where}.deadline"),
        eligibility=_to_tags(data.get("eligibility"), f"{where}.eligibility"),
        language=texts["language"],
        submitted_by=texts["submitted_by"] or submitted_by,
        source=source,
    )
    try:
        return draft.checked()
    except SeriesError as exc:
        raise SeriesError(f"{where}.{exc}") from None


def read_import_file(path: str | Path, *, submitted_by: str) -> list[OpportunityDraft]:
    """Every entry of an opportunities YAML file, or one SeriesError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SeriesError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:  # a folder, not allowed, not UTF-8 text
        raise SeriesError(f"{path}: cannot read it ({exc})") from None
    return read_import_text(text, str(path), submitted_by=submitted_by)


def read_import_text(text: str, where: str, *, submitted_by: str) -> list[OpportunityDraft]:
    """Every entry of an opportunities list in YAML (``where`` names it in the problems: a file's
    path, an upload's name), or one SeriesError listing every problem numbered from 1."""
    path = where
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise SeriesError(f"{path}: not valid YAML{at}") from None
    if isinstance(data, dict) and set(data) == {"opportunities"}:
        data = data["opportunities"]
    if not isinstance(data, list):
        raise SeriesError(f"{path}: expected a list of opportunities (or opportunities: [...])")
    drafts, problems = [], []
    for i, entry in enumerate(data, 1):  # entries counted as people count them, from 1
        try:
            drafts.append(draft_from_mapping(entry, f"entry {i}", submitted_by=submitted_by, source="import"))
        except SeriesError as exc:
            problems.append(str(exc))
    if problems:
        raise SeriesError(f"{path}: nothing imported, fix these first:\n" + numbered(problems))
    return drafts


def draft_from_post(post: Post, *, candidate_id: int | None = None) -> OpportunityDraft:
    """A member's opportunity post as a draft: its first link (or the post itself), its first
    line as the title, and the kind, deadline and eligibility its words give away. Curators
    can correct any of it with ``opportunities edit``."""
    links = [u for u in URL.findall(post.text) if u != post.url]
    url = links[0] if links else post.url
    title = ""
    for line in post.text.splitlines():
        line = " ".join(HASHTAG.sub(" ", URL.sub(" ", line)).split()).strip(" -–—:·|")
        if line:
            title = line
            break
    title = title or f"Shared by {post.author.shown}"
    if len(title) > 140:
        title = title[:139].rstrip() + "…"
    return OpportunityDraft(
        title=title,
        url=url,
        kind=guess_kind(post.text),
        deadline=deadline_in(post.text, post.created_at.date()),
        eligibility=tuple(words_in(post.text, ELIGIBILITY_WORDS)),
        language=post.language,
        submitted_by=post.author.handle,
        source=f"post:{post.platform.value}",
        candidate_id=candidate_id,
    ).checked()


def _view(row: RowMapping) -> Opportunity:
    return Opportunity(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        organisation=row["organisation"],
        url=row["url"],
        deadline=row["deadline"],
        eligibility=tuple(t for t in row["eligibility"].split(",") if t),
        language=row["language"],
        submitted_by=row["submitted_by"],
        source=row["source"],
        created_at=row["created_at"],
        removed=row["removed_at"] is not None,
    )


_EDITABLE = ("kind", "title", "organisation", "url", "deadline", "eligibility", "language")


class OpportunityList:
    """The opportunities of one community, in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _one(self, conn: Connection, **where: Any) -> Opportunity | None:
        q = select(m.table(m.Opportunity)).where(m.Opportunity.community_id == self.store.community_id)
        for name, value in where.items():
            q = q.where(getattr(m.Opportunity, name) == value)
        row = conn.execute(q).mappings().one_or_none()
        return _view(row) if row else None

    def get(self, opportunity_id: int) -> Opportunity:
        with self.store.engine.connect() as conn:
            found = self._one(conn, id=opportunity_id)
        if found is None:
            raise SeriesError(f"no opportunity #{opportunity_id} in this community")
        return found

    def add(self, draft: OpportunityDraft, now: datetime) -> Added:
        """Put ``draft`` on the list, or merge it into the entry with the same url: fields the
        entry lacks are filled, eligibility tags are joined, nothing already there is lost."""
        draft = draft.checked()
        key = normalize_url(draft.url)
        with self.store.engine.begin() as conn:
            inserted = conn.execute(
                dialect_insert(conn, m.table(m.Opportunity))
                .values(
                    community_id=self.store.community_id,
                    kind=draft.kind,
                    title=draft.title,
                    organisation=draft.organisation,
                    url=draft.url,
                    url_key=key,
                    deadline=draft.deadline,
                    eligibility=",".join(draft.eligibility),
                    language=draft.language,
                    submitted_by=draft.submitted_by,
                    source=draft.source,
                    candidate_id=draft.candidate_id,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["community_id", "url_key"])
                .returning(m.Opportunity.id)
            ).scalar_one_or_none()
            if inserted is not None:
                found = self._one(conn, id=inserted)
                assert found is not None
                return Added(found, merged=False)
            existing = self._one(conn, url_key=key)
            assert existing is not None  # the conflict was with this row, and rows are never deleted
            changes: dict[str, Any] = {}
            if not existing.organisation and draft.organisation:
                changes["organisation"] = draft.organisation
            if existing.deadline is None and draft.deadline is not None:
                changes["deadline"] = draft.deadline
            if existing.kind == "other" and draft.kind != "other":
                changes["kind"] = draft.kind
            if existing.language is None and draft.language:
                changes["language"] = draft.language
            tags = tuple(dict.fromkeys([*existing.eligibility, *draft.eligibility]))
            if tags != existing.eligibility:
                changes["eligibility"] = ",".join(tags)
            if changes:
                conn.execute(
                    update(m.Opportunity)
                    .where(m.Opportunity.id == existing.id)
                    .values(updated_at=now, **changes)
                )
                existing = self._one(conn, id=existing.id) or existing
            return Added(existing, merged=True)

    def import_file(self, path: str | Path, *, submitted_by: str, now: datetime) -> ImportReport:
        return self.import_drafts(read_import_file(path, submitted_by=submitted_by), now)

    def import_drafts(
        self, drafts: list[OpportunityDraft], now: datetime, progress: Progress | None = None
    ) -> ImportReport:
        """Each draft added (or merged into the one with its url); ``progress`` hears of each."""
        report = ImportReport()
        with (progress or Progress.silent()).step("importing opportunities", len(drafts), "entries") as done:
            for draft in drafts:
                added = self.add(draft, now)
                (report.merged if added.merged else report.added).append(added.opportunity)
                done(1)
        return report

    def all(self, *, include_removed: bool = False) -> list[Opportunity]:
        q = select(m.table(m.Opportunity)).where(m.Opportunity.community_id == self.store.community_id)
        if not include_removed:
            q = q.where(m.Opportunity.removed_at.is_(None))
        with self.store.engine.connect() as conn:
            return digest_order(_view(r) for r in conn.execute(q).mappings())

    def open_on(self, day: date) -> list[Opportunity]:
        """What a digest published on ``day`` lists: not removed, deadline not yet passed."""
        q = select(m.table(m.Opportunity)).where(
            m.Opportunity.community_id == self.store.community_id,
            m.Opportunity.removed_at.is_(None),
            (m.Opportunity.deadline.is_(None)) | (m.Opportunity.deadline >= day),
        )
        with self.store.engine.connect() as conn:
            return digest_order(_view(r) for r in conn.execute(q).mappings())

    def edit(self, opportunity_id: int, now: datetime, **changes: Any) -> Opportunity:
        unknown = [k for k in changes if k not in _EDITABLE]
        if unknown:
            raise SeriesError(f"{unknown[0]}: cannot be edited (expected one of: {', '.join(_EDITABLE)})")
        current = self.get(opportunity_id)
        draft = OpportunityDraft(
            title=changes.get("title", current.title),
            url=changes.get("url", current.url),
            kind=changes.get("kind", current.kind),
            organisation=changes.get("organisation", current.organisation),
            deadline=changes.get("deadline", current.deadline),
            eligibility=tuple(changes.get("eligibility", current.eligibility)),
            language=changes.get("language", current.language),
        ).checked()
        values = {
            "title": draft.title,
            "url": draft.url,
            "url_key": normalize_url(draft.url),
            "kind": draft.kind,
            "organisation": draft.organisation,
            "deadline": draft.deadline,
            "eligibility": ",".join(draft.eligibility),
            "language": draft.language,
            "updated_at": now,
        }
        with self.store.engine.begin() as conn:
            clash = self._one(conn, url_key=values["url_key"])
            if clash is not None and clash.id != opportunity_id:
                raise SeriesError(f"#{clash.id} already has that url; edit or remove that one instead")
            conn.execute(update(m.Opportunity).where(m.Opportunity.id == opportunity_id).values(**values))
        return self.get(opportunity_id)

    def remove(self, opportunity_id: int, by: str, now: datetime) -> Opportunity:
        """Off the list for good (the row stays, so the same url is not added again)."""
        self.get(opportunity_id)
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Opportunity)
                .where(m.Opportunity.id == opportunity_id, m.Opportunity.removed_at.is_(None))
                .values(removed_at=now, removed_by=by, updated_at=now)
            )
        return self.get(opportunity_id)

    def closing_within(self, day: date, days: int) -> list[Opportunity]:
        return [o for o in self.open_on(day) if o.closing_soon(day, days)]


def list_approved_opportunity(store: Store, candidate_id: int, post: Post, now: datetime) -> Added:
    """What approving a member's opportunity post does instead of boosting it: the post joins
    the list (or merges into the entry with its url)."""
    return OpportunityList(store).add(draft_from_post(post, candidate_id=candidate_id), now)


def leave_digests(store: Store, post_pk: int, now: datetime) -> None:
    """An opportunity taken from a post its author deleted goes off the digest's list (the
    series' own way of removing one, so a digest not yet published no longer names it). The
    deletion recheck (bot.trust.recheck) calls it, wired by the app."""
    o = m.Opportunity
    with store.engine.connect() as conn:
        ids = list(
            conn.execute(
                select(o.id)
                .join(m.Candidate, m.Candidate.id == o.candidate_id)
                .where(
                    o.community_id == store.community_id,
                    m.Candidate.post_id == post_pk,
                    o.removed_at.is_(None),
                )
            ).scalars()
        )
    book = OpportunityList(store)
    for opportunity_id in ids:
        book.remove(opportunity_id, "system: the author deleted the post", now)
