"""Mini-interviews: a member is invited, answers the configured questions, a curator approves
the composed post, the member confirms that exact text, and it waits in the queue for a slot.
The member may withdraw at any point; published posts are then deleted on every platform.

``InterviewBook`` is the whole lifecycle in the store; chat front-ends (the Telegram private
chat) drive it through ``next_question``, ``record_answer``, ``confirm``, ``decline`` and
``withdraw``. ``compose_interview`` and ``check_fit`` are pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.domain import TextLimits
from bot.errors import SeriesError
from bot.progress import Progress
from bot.series.interview_record import ANSWERED as ANSWERED
from bot.series.interview_record import AWAITING_CONSENT as AWAITING_CONSENT
from bot.series.interview_record import INVITED as INVITED
from bot.series.interview_record import PUBLISHED as PUBLISHED
from bot.series.interview_record import QUEUED as QUEUED
from bot.series.interview_record import SCHEDULED as SCHEDULED
from bot.series.interview_record import STATES as STATES
from bot.series.interview_record import WITHDRAWN as WITHDRAWN
from bot.series.interview_record import Answered as Answered
from bot.series.interview_record import Interview as Interview
from bot.series.interview_record import _view as _view
from bot.series.interview_text import Overflow as Overflow
from bot.series.interview_text import Section as Section
from bot.series.interview_text import check_fit as check_fit
from bot.series.interview_text import compose_interview as compose_interview
from bot.series.interview_text import interview_limits as interview_limits
from bot.series.interview_text import member_message
from bot.series.settings import InterviewSettings, Question
from bot.series.templates import Templates
from bot.store import models as m
from bot.store.store import Store
from bot.text import numbered

if TYPE_CHECKING:
    from bot.config import Settings


class InterviewBook:
    """The mini-interviews of one community."""

    def __init__(
        self,
        store: Store,
        settings: InterviewSettings,
        templates: Callable[[str], Templates],
        *,
        hashtag: str,
        community: str,
    ) -> None:
        self.store = store
        self.settings = settings
        self.templates = templates  # language -> its templates
        self.hashtag = hashtag
        self.community = community

    @classmethod
    def of(cls, store: Store, settings: Settings) -> InterviewBook:
        """The community's interviews, as its config describes them."""
        community = settings.community
        return cls(
            store,
            settings.series.interviews,
            settings.series.templates_for,
            hashtag="#" + community.hashtags[0].lstrip("#"),
            community=community.name,
        )

    # -- reading ----------------------------------------------------------------------------

    def _row(self, conn: Connection, interview_id: int) -> Interview:
        row = (
            conn.execute(
                select(m.table(m.Interview)).where(
                    m.Interview.id == interview_id, m.Interview.community_id == self.store.community_id
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise SeriesError(f"no interview #{interview_id} in this community")
        return _view(row)

    def get(self, interview_id: int) -> Interview:
        with self.store.engine.connect() as conn:
            return self._row(conn, interview_id)

    def in_states(self, states: Sequence[str] = ()) -> list[Interview]:
        """Oldest first; the queue in the order it will be published."""
        q = select(m.table(m.Interview)).where(m.Interview.community_id == self.store.community_id)
        if states:
            q = q.where(m.Interview.state.in_(list(states)))
        q = q.order_by(m.Interview.confirmed_at.is_(None), m.Interview.confirmed_at, m.Interview.id)
        with self.store.engine.connect() as conn:
            return [_view(r) for r in conn.execute(q).mappings()]

    def queue(self) -> list[Interview]:
        return self.in_states([QUEUED])

    def by_slot(self, series: str, slot: datetime) -> Interview | None:
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(
                    select(m.table(m.Interview)).where(
                        m.Interview.community_id == self.store.community_id,
                        m.Interview.series == series,
                        m.Interview.slot == slot,
                    )
                )
                .mappings()
                .one_or_none()
            )
        return _view(row) if row else None

    def for_member(self, platform: str, member_ref: str) -> Interview | None:
        """The member's interview in progress (not published or withdrawn), for a chat front-end
        that knows the member by their id on its platform."""
        open_states = (INVITED, ANSWERED, AWAITING_CONSENT, QUEUED, SCHEDULED)
        found = [
            i for i in self.in_states(open_states) if i.platform == platform and i.member_ref == member_ref
        ]
        return max(found, key=lambda i: i.id) if found else None

    def questions(self, interview: Interview) -> list[tuple[Question, str]]:
        """Each question and how it is asked in the member's language."""
        return [(q, q.asked(interview.language)) for q in self.settings.questions]

    def next_question(self, interview_id: int) -> Question | None:
        """The first required question still without an answer (for asking one at a time)."""
        interview = self.get(interview_id)
        return next(
            (q for q in self.settings.questions if q.required and not interview.answers.get(q.id)), None
        )

    # -- changing ---------------------------------------------------------------------------

    def _change(
        self,
        interview_id: int,
        allowed: Sequence[str],
        values: Callable[[Interview], dict[str, Any]],
        what: str,
    ) -> Interview:
        """Compare-and-set on the interview's version: two hands at once never both win."""
        for _ in range(20):
            with self.store.engine.begin() as conn:
                current = self._row(conn, interview_id)
                if current.state not in allowed:
                    raise SeriesError(f"interview #{interview_id} is {current.state}: cannot {what}")
                res = conn.execute(
                    update(m.Interview)
                    .where(m.Interview.id == interview_id, m.Interview.version == current.version)
                    .values(version=current.version + 1, **values(current))
                )
                if res.rowcount == 1:
                    return self._row(conn, interview_id)
        raise SeriesError(f"interview #{interview_id} is changing too fast; try again")

    def invite(
        self,
        name: str,
        *,
        language: str,
        invited_by: str,
        now: datetime,
        handle: str = "",
        platform: str | None = None,
        member_ref: str | None = None,
    ) -> Interview:
        name = " ".join(name.split())
        if not name:
            raise SeriesError("name: whom are we interviewing?")
        self.templates(language)  # a language without templates is refused here, not at publishing
        with self.store.engine.begin() as conn:
            new_id = conn.execute(
                m.table(m.Interview)
                .insert()
                .values(
                    community_id=self.store.community_id,
                    name=name,
                    handle=handle.strip(),
                    platform=platform,
                    member_ref=member_ref,
                    language=language,
                    state=INVITED,
                    answers="{}",
                    edited=False,
                    invited_by=invited_by,
                    invited_at=now,
                    version=0,
                )
                .returning(m.Interview.id)
            ).scalar_one()
            return self._row(conn, new_id)

    def bind(self, interview_id: int, *, platform: str, member_ref: str, was: str | None) -> Interview:
        """The member opened their invitation: from now on they are ``member_ref`` on
        ``platform``. Refused when the invitation (``was``) has been used meanwhile."""

        def values(current: Interview) -> dict[str, Any]:
            if current.platform != platform or current.member_ref != was:
                raise SeriesError(f"interview #{interview_id}'s invitation was used already")
            return {"member_ref": member_ref}

        return self._change(interview_id, (INVITED, ANSWERED, AWAITING_CONSENT), values, "take its member")

    def _compose(self, interview: Interview, answers: Mapping[str, str]) -> tuple[str, list[Section]]:
        return compose_interview(
            name=interview.name,
            handle=interview.handle,
            answers=answers,
            questions=self.settings.questions,
            templates=self.templates(interview.language),
            hashtag=self.hashtag,
            community=self.community,
        )

    def sections(self, interview: Interview) -> list[Section]:
        if interview.edited or interview.text is None:
            return []
        return self._compose(interview, interview.answers)[1]

    def record_answer(self, interview_id: int, question_id: str, answer: str, now: datetime) -> Answered:
        """Keep one answer. Once every required question has one, the post is composed; an
        answer changed after the curator's approval sends the text back for approval."""
        ids = [q.id for q in self.settings.questions]
        if question_id not in ids:
            raise SeriesError(f"{question_id!r} is not one of the questions ({', '.join(ids)})")
        answer = answer.strip()
        if not answer:
            raise SeriesError(f"the answer to {question_id!r} is empty")
        return self._answer(interview_id, {question_id: answer}, now)

    def _answer(self, interview_id: int, new: Mapping[str, str], now: datetime) -> Answered:
        def values(current: Interview) -> dict[str, Any]:
            answers = {**current.answers, **new}
            complete = all(answers.get(q.id) for q in self.settings.questions if q.required)
            out: dict[str, Any] = {"answers": json.dumps(answers, ensure_ascii=False)}
            if complete:
                out.update(state=ANSWERED, answered_at=now, consent_text=None, approved_by=None)
                if not current.edited:
                    out["text"] = self._compose(current, answers)[0]
            return out

        interview = self._change(interview_id, (INVITED, ANSWERED, AWAITING_CONSENT), values, "take answers")
        return Answered(interview, self.next_question(interview_id))

    def import_answers(
        self, path: str | Path, *, invited_by: str, now: datetime, progress: Progress | None = None
    ) -> list[Interview]:
        """Answers from a YAML file: one interview (a mapping) or several (a list). Each names
        its interview by ``interview: ID`` or is a new one with ``name`` and ``language``; once
        all are checked, ``progress`` hears of each as it is recorded."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SeriesError(f"{path}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:  # a folder, not allowed, not UTF-8 text
            raise SeriesError(f"{path}: cannot read it ({exc})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise SeriesError(
                f"{path}: not valid YAML" + (f" at line {mark.line + 1}" if mark else "")
            ) from None
        entries = data if isinstance(data, list) else [data]
        checked, problems = [], []
        for i, e in enumerate(entries, 1):  # entries counted as people count them, from 1
            try:
                checked.append(self._check_entry(e, f"entry {i}"))
            except SeriesError as exc:
                problems.append(str(exc))
        if problems:
            raise SeriesError(f"{path}: nothing imported, fix these first:\n" + numbered(problems))
        out = []
        with (progress or Progress.silent()).step("importing answers", len(checked), "interviews") as done:
            for entry, answers in checked:
                interview_id = entry.get("interview")
                if interview_id is None:
                    interview_id = self.invite(
                        entry["name"],
                        language=entry.get("language") or self._default_language(),
                        invited_by=invited_by,
                        now=now,
                        handle=entry.get("handle") or "",
                        platform=entry.get("platform"),
                    ).id
                out.append(self._answer(int(interview_id), answers, now).interview)
                done(1)
        return out

    def _default_language(self) -> str:
        return next(iter(self.settings.questions[0].text))

    def _check_entry(self, entry: Any, where: str) -> tuple[Mapping[str, Any], dict[str, str]]:
        allowed = ("interview", "name", "handle", "platform", "language", "answers")
        if not isinstance(entry, dict):
            raise SeriesError(f"{where}: expected a mapping with name (or interview) and answers")
        unknown = [k for k in entry if k not in allowed]
        if unknown:
            raise SeriesError(f"{where}.{unknown[0]}: unknown field (expected one of: {', '.join(allowed)})")
        if entry.get("interview") is None and not entry.get("name"):
            raise SeriesError(f"{where}: give interview: ID, or name: for a new interview")
        if entry.get("interview") is not None:
            if not isinstance(entry["interview"], int):
                raise SeriesError(f"{where}.interview: expected the interview's number")
            self.get(entry["interview"])
        if entry.get("language") is not None:
            self.templates(str(entry["language"]))
        answers = entry.get("answers")
        ids = [q.id for q in self.settings.questions]
        if not isinstance(answers, dict) or not answers:
            raise SeriesError(f"{where}.answers: expected question: answer pairs ({', '.join(ids)})")
        out = {}
        for qid, answer in answers.items():
            if qid not in ids:
                raise SeriesError(f"{where}.answers.{qid}: not one of the questions ({', '.join(ids)})")
            if not isinstance(answer, str | int | float) or not str(answer).strip():
                raise SeriesError(f"{where}.answers.{qid}: expected the answer as text")
            out[str(qid)] = str(answer).strip()
        return entry, out

    def edit(self, interview_id: int, text: str, now: datetime, *, by: str) -> Interview:
        """A curator's own wording. The member has to confirm the new text again."""
        text = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if not text:
            raise SeriesError("the text is empty")
        return self._change(
            interview_id,
            (ANSWERED, AWAITING_CONSENT, QUEUED),
            lambda cur: {
                "text": text,
                "edited": True,
                "state": ANSWERED,
                "consent_text": None,
                "approved_by": None,
                "confirmed_at": None,
                "note": f"edited by {by}",
            },
            "edit it",
        )

    def approve(self, interview_id: int, *, by: str, now: datetime, limits: Mapping[str, TextLimits]) -> str:
        """A curator approves the text as it stands; the answer is the message that asks the
        member to confirm it. Refused, saying by how much and where, if it does not fit."""
        interview = self.get(interview_id)
        if interview.state != ANSWERED or interview.text is None:
            raise SeriesError(f"interview #{interview_id} is {interview.state}: only answered interviews")
        overflows = check_fit(interview.text, limits, self.sections(interview))
        if overflows:
            raise SeriesError(
                f"interview #{interview_id} is too long; edit it first.\n  "
                + "\n  ".join(o.describe() for o in overflows)
            )
        text = interview.text
        self._change(
            interview_id,
            (ANSWERED,),
            lambda cur: (
                {"state": AWAITING_CONSENT, "consent_text": text, "approved_by": by, "approved_at": now}
                if cur.text == text
                else {}
            ),
            "approve it",
        )
        if self.get(interview_id).state != AWAITING_CONSENT:
            raise SeriesError(f"interview #{interview_id} changed while approving; look again")
        return self.message(interview_id, "interview_consent_request")

    def confirm(self, interview_id: int, now: datetime, *, via: str, text: str | None = None) -> Interview:
        """The member confirms the text they were shown (``text``, when the front-end knows it:
        a confirmation of an older text is refused). Then it waits in the queue."""

        def values(current: Interview) -> dict[str, Any]:
            if current.consent_text != current.text or (text is not None and text != current.consent_text):
                raise SeriesError(f"interview #{interview_id} changed since it was shown; show it again")
            return {"state": QUEUED, "confirmed_at": now, "confirmed_via": via}

        return self._change(interview_id, (AWAITING_CONSENT,), values, "confirm it")

    def decline(self, interview_id: int, note: str, now: datetime) -> Interview:
        """The member asks for changes: back to the curators, with their note."""
        return self._change(
            interview_id,
            (AWAITING_CONSENT, QUEUED),
            lambda cur: {"state": ANSWERED, "consent_text": None, "confirmed_at": None, "note": note},
            "take changes",
        )

    def withdraw(self, interview_id: int, *, by: str, now: datetime) -> Interview:
        """The member (or a curator for them) withdraws. Its publications are marked for
        deletion in the same transaction; ``Publisher.retract_pending`` deletes the posts."""
        for _ in range(20):
            with self.store.engine.begin() as conn:
                current = self._row(conn, interview_id)
                if current.state == WITHDRAWN:
                    return current
                res = conn.execute(
                    update(m.Interview)
                    .where(m.Interview.id == interview_id, m.Interview.version == current.version)
                    .values(version=current.version + 1, state=WITHDRAWN, withdrawn_at=now, withdrawn_by=by)
                )
                if res.rowcount != 1:
                    continue
                if current.series is not None and current.slot is not None:
                    conn.execute(
                        update(m.Publication)
                        .where(
                            m.Publication.community_id == self.store.community_id,
                            m.Publication.series == current.series,
                            m.Publication.slot == current.slot,
                            m.Publication.state.in_(("intent", "done", "failed")),
                        )
                        .values(state="withdrawing", lease_owner=None, lease_until=None)
                    )
                return self._row(conn, interview_id)
        raise SeriesError(f"interview #{interview_id} is changing too fast; try again")

    # -- the queue and the slots ------------------------------------------------------------

    def assign(
        self,
        series: str,
        slot: datetime,
        languages: Sequence[str],
        eligible: Callable[[Interview], bool] = lambda _: True,
    ) -> Interview | None:
        """The interview for this slot: the one already given it, or the oldest confirmed one in
        one of ``languages`` that is ``eligible`` (the last look lets it out now), taken with a
        compare-and-set so two workers agree on it."""
        for _ in range(20):
            already = self.by_slot(series, slot)
            if already is not None:
                return already
            waiting = [i for i in self.queue() if (not languages or i.language in languages) and eligible(i)]
            if not waiting:
                return None
            first = waiting[0]
            with self.store.engine.begin() as conn:
                try:
                    with conn.begin_nested():
                        res = conn.execute(
                            update(m.Interview)
                            .where(
                                m.Interview.id == first.id,
                                m.Interview.version == first.version,
                                m.Interview.state == QUEUED,
                            )
                            .values(version=first.version + 1, state=SCHEDULED, series=series, slot=slot)
                        )
                except IntegrityError:  # unique (series, slot): another worker assigned one first
                    continue
                if res.rowcount == 1:
                    return self._row(conn, first.id)
        return self.by_slot(series, slot)

    def mark_published(self, interview_id: int, now: datetime) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(m.Interview)
                .where(m.Interview.id == interview_id, m.Interview.state == SCHEDULED)
                .values(state=PUBLISHED, published_at=now, version=m.Interview.version + 1)
            )

    # -- what the bot says to the member --------------------------------------------------------

    def message(self, interview_id: int, template: str) -> str:
        """A member-facing text in the member's language (see interview_text.member_message)."""
        interview = self.get(interview_id)
        t = self.templates(interview.language)
        return member_message(t, template, interview, self.questions(interview), community=self.community)


def answers_template(book: InterviewBook, interview: Interview) -> str:
    """A YAML file for a member who answers away from Telegram: fill it in, then import it."""
    lines = [f"interview: {interview.id}", "answers:"]
    for q, asked in book.questions(interview):
        lines.append(f"  # {asked}")
        lines.append(f'  {q.id}: ""')
    return "\n".join(lines) + "\n"
