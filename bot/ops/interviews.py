"""The mini-interview steps a curator takes: invite, import answers, correct, approve, record the
member's answer, withdraw, and see the queue.

Operations that check a text against the platforms' limits or look at the schedule take the
series runner (built on the store, the settings and the clock); the others take the store and
the settings. Each takes who acts and returns a `Result`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.domain import Platform
from bot.errors import SeriesError
from bot.ops import series_messages as say
from bot.ops.result import Outcome, Result, done, refused, usage
from bot.ops.series_common import not_a_curator, read_input
from bot.progress import Progress
from bot.series.interview_chat import InterviewChat
from bot.series.interviews import (
    ANSWERED,
    AWAITING_CONSENT,
    INVITED,
    PUBLISHED,
    QUEUED,
    SCHEDULED,
    WITHDRAWN,
    Interview,
    InterviewBook,
    answers_template,
    check_fit,
)
from bot.series.publisher import PublishOutcome
from bot.series.runner import SeriesRunner
from bot.series.schedule import zone
from bot.store.store import Store

OPEN_STATES = (INVITED, ANSWERED, AWAITING_CONSENT, QUEUED, SCHEDULED)


@dataclass(frozen=True)
class Invited:
    interview: Interview
    invitation: str  # the message to send them, in their language
    answers_template: str  # a YAML file to fill in, for a member who answers away from the chat
    start_payload: str | None = None  # with ``chat``: the payload of the private-chat link to forward


@dataclass(frozen=True)
class PlatformFit:
    platform: str
    fits: bool | None  # None: no text composed yet
    problem: str | None = None  # how much too long, and where the limit falls


@dataclass(frozen=True)
class Fit:
    """Where an answered interview stands against the length limits of the platforms it goes to."""

    interview: Interview
    platforms: list[str]
    overflows: list[str]  # one line per platform it is too long for
    missing: list[str]  # questions still to answer
    by_platform: list[PlatformFit] = field(default_factory=list)  # in the order of ``platforms``


@dataclass(frozen=True)
class Approved:
    interview_id: int
    message: str  # the text asking the member to confirm
    sent_in_chat: bool  # queued to their private chat; otherwise a curator passes it on


@dataclass(frozen=True)
class Withdrawn:
    interview: Interview
    outcomes: list[PublishOutcome]
    pending: bool  # some posts could not be deleted yet; every run tries again


@dataclass(frozen=True)
class Slot:
    series: str
    at: datetime
    timezone: str
    interview_id: int | None
    name: str | None


@dataclass(frozen=True)
class Listing:
    queue: list[Interview]
    in_progress: list[Interview]
    next_slots: list[Slot] = field(default_factory=list)


def interview_platforms(runner: SeriesRunner) -> list[Platform]:
    """Where interviews are published: the interview series' platforms, else every configured one."""
    rules = [r for r in runner.rules.values() if r.kind == "interview"]
    platforms = {p for r in rules for p in runner.platforms(r)} if rules else None
    return sorted(platforms or runner.settings.enabled_platforms(), key=lambda p: p.value)


def fit(runner: SeriesRunner, interview: Interview) -> Fit:
    """Whether ``interview`` fits every platform it goes to, and what is still unanswered."""
    questions = runner.settings.series.interviews.questions
    missing = [q.id for q in questions if not interview.answers.get(q.id)]
    platforms = interview_platforms(runner)
    overflows: list[str] = []
    problems: dict[str, str] = {}
    if interview.text is not None and platforms:
        limits = runner.interview_limits(platforms)
        found = check_fit(interview.text, limits, runner.interviews.sections(interview))
        overflows = [o.describe() for o in found]
        problems = {o.where: o.describe() for o in found}
    composed = interview.text is not None
    by_platform = [
        PlatformFit(p.value, (p.value not in problems) if composed else None, problems.get(p.value))
        for p in platforms
    ]
    return Fit(interview, [p.value for p in platforms], overflows, missing, by_platform)


def describe(runner: SeriesRunner, interview: Interview) -> str:
    """The state of an interview in words, with its text and whether it fits once answered."""
    f = fit(runner, interview)
    if interview.state == INVITED:
        return say.still_to_answer(interview.id, interview.name, f.missing)
    lines = [say.interview_state(interview.id, interview.name, interview.state)]
    if interview.text is not None and interview.state == ANSWERED:
        lines += ["", interview.text, ""]
        if not f.platforms:
            lines.append(say.no_platform_to_fit())
        elif f.overflows:
            lines.append(say.too_long(f.overflows))
        else:
            lines.append(say.fits(interview.id, f.platforms))
    return "\n".join(lines)


def invite(
    store: Store,
    settings: Settings,
    now: datetime,
    actor: str,
    *,
    name: str,
    language: str | None = None,
    handle: str = "",
    platform: str | None = None,
    member_ref: str | None = None,
    chat: Platform | None = None,
) -> Result[Invited]:
    """A new interview. With ``chat`` (a front that opens private chats, such as Telegram) the
    member gets a link to answer there, one question at a time; ``start_payload`` is its payload."""
    if (problem := not_a_curator(settings, actor)) is not None:
        return problem
    book = InterviewBook.of(store, settings)
    language = language or settings.community.languages[0]
    try:
        payload = None
        if chat is not None:
            interview, payload = InterviewChat(book, chat).invite(
                name, handle=handle, language=language, invited_by=actor, now=now
            )
        else:
            interview = book.invite(
                name,
                language=language,
                invited_by=actor,
                now=now,
                handle=handle,
                platform=platform,
                member_ref=member_ref,
            )
        invitation = book.message(interview.id, "interview_invite")
    except SeriesError as exc:
        return refused(str(exc))
    data = Invited(interview, invitation, answers_template(book, interview), payload)
    if payload is not None:
        return done(say.invited_by_link(interview.id, interview.name), data)
    return done(say.invited(interview.id, interview.name, invitation), data)


def import_answers(
    runner: SeriesRunner, now: datetime, actor: str, path: str | Path, progress: Progress | None = None
) -> Result[list[Fit]]:
    """Answers from a YAML file, all or none (every problem numbered from 1). New interviews in
    it are recorded as invited by ``actor``. Each interview's text is checked against the limits.
    ``progress`` hears of each interview as it is recorded."""
    if (problem := not_a_curator(runner.settings, actor)) is not None:
        return problem
    if isinstance(unreadable := read_input(path), Result):
        return unreadable
    try:
        interviews = runner.interviews.import_answers(path, invited_by=actor, now=now, progress=progress)
    except SeriesError as exc:
        return refused(str(exc))
    lines = [say.answers_imported(len(interviews), actor)]
    lines += [describe(runner, i) for i in interviews]
    return done("\n".join(lines), [fit(runner, i) for i in interviews])


def edit(runner: SeriesRunner, now: datetime, actor: str, interview_id: int, text: str) -> Result[Fit]:
    """A curator's own wording; the member confirms the new text again."""
    if (problem := not_a_curator(runner.settings, actor)) is not None:
        return problem
    if not text or not text.strip():
        return usage(say.empty_text())
    try:
        interview = runner.interviews.edit(interview_id, text, now, by=actor)
    except SeriesError as exc:
        return refused(str(exc))
    return done(describe(runner, interview), fit(runner, interview))


def approve(
    runner: SeriesRunner, now: datetime, actor: str, interview_id: int, *, chat: Platform = Platform.TELEGRAM
) -> Result[Approved]:
    """Approve the text as it stands (refused, saying where, when it is too long for a platform).
    When the member answered in a private chat on ``chat``, the consent request is queued to them
    there; otherwise the message is for a curator to pass on."""
    if (problem := not_a_curator(runner.settings, actor)) is not None:
        return problem
    book = runner.interviews
    try:
        limits = runner.interview_limits(interview_platforms(runner))
        message = book.approve(interview_id, by=actor, now=now, limits=limits)
        sent = InterviewChat(book, chat).send_consent_request(interview_id, message, now)
    except SeriesError as exc:
        return refused(str(exc))
    said = (
        say.approved_in_chat(interview_id, message) if sent else say.approved_by_hand(interview_id, message)
    )
    return done(said, Approved(interview_id, message, sent))


def confirm(
    runner: SeriesRunner, now: datetime, actor: str, interview_id: int, via: str = ""
) -> Result[Interview]:
    """Record that the member confirmed the text (told to ``actor``, by ``via``): it joins the queue."""
    if (problem := not_a_curator(runner.settings, actor)) is not None:
        return problem
    try:
        interview = runner.interviews.confirm(
            interview_id, now, via=f"cli:{actor}" + (f" ({via})" if via else "")
        )
    except SeriesError as exc:
        return refused(str(exc))
    return done(say.confirmed(interview.id), interview)


def decline(
    runner: SeriesRunner, now: datetime, actor: str, interview_id: int, note: str
) -> Result[Interview]:
    """The member asked for changes: the interview goes back to the curators with their note."""
    if (problem := not_a_curator(runner.settings, actor)) is not None:
        return problem
    try:
        interview = runner.interviews.decline(interview_id, note, now)
    except SeriesError as exc:
        return refused(str(exc))
    return done(say.declined(interview.id, note), interview)


async def withdraw(runner: SeriesRunner, actor: str, interview_id: int) -> Result[Withdrawn]:
    """Withdraw an interview and delete its posts on every platform (``runner`` needs the
    adapters for that). Posts a platform would not delete yet stay pending, and the result is
    refused so the caller knows; every run of the bot tries again."""
    if (problem := not_a_curator(runner.settings, actor)) is not None:
        return problem
    try:
        interview, outcomes = await runner.withdraw_interview(interview_id, by=actor)
    except SeriesError as exc:
        return refused(str(exc))
    lines = [f"{o.platform.value}: {o.state} {o.detail}".rstrip() for o in outcomes]
    pending = any(o.state != "withdrawn" for o in outcomes)
    data = Withdrawn(interview, outcomes, pending)
    message = say.withdrawn(interview.id, lines, pending)
    if pending:
        return Result(Outcome.REFUSED, message, data)
    return done(message, data)


def show(runner: SeriesRunner, interview_id: int) -> Result[Interview]:
    """One interview: its answers, its text, whether it fits, and what the member confirms."""
    try:
        interview = runner.interviews.get(interview_id)
    except SeriesError as exc:
        return refused(str(exc))
    lines = [_line(interview)]
    for q, asked in runner.interviews.questions(interview):
        lines.append(f"  {asked}\n    {interview.answers.get(q.id, '(no answer yet)')}")
    if interview.note:
        lines.append(f"note: {interview.note}")
    lines.append(describe(runner, interview))
    if interview.state in (AWAITING_CONSENT, QUEUED) and interview.consent_text:
        lines += ["", "Text the member confirms:", "", interview.consent_text]
    return done("\n".join(lines), interview)


def _line(i: Interview, position: int | None = None) -> str:
    where = f" ({i.handle})" if i.handle else ""
    queue = f"#{position} in the queue" if position else i.state
    return f"{i.id:>5}  {queue:18} {i.language:3} {i.name}{where}"


def _local(at: datetime, tz: str) -> str:
    return at.astimezone(zone(tz)).strftime("%a %Y-%m-%d %H:%M %Z")


def listing(
    runner: SeriesRunner, now: datetime, *, include_done: bool = False, slots: int = 3
) -> Result[Listing]:
    """The queue (published oldest first, one per interview slot), the next ``slots`` slots of
    each interview series with who goes out in them, and the interviews in progress."""
    book = runner.interviews
    items = book.in_states() if include_done else book.in_states(list(OPEN_STATES))
    queued = [i for i in items if i.state == QUEUED]
    others = [i for i in items if i.state != QUEUED]
    lines = ["Queue (published oldest first, one per interview slot):"]
    lines += [_line(i, n) for n, i in enumerate(queued, 1)] or ["  (empty: nothing confirmed yet)"]
    upcoming: list[Slot] = []
    for rule in (r for r in runner.rules.values() if r.kind == "interview"):
        tz = runner.settings.series.zone_of(rule)
        eligible = [i for i in queued if not rule.languages or i.language in rule.languages]
        shown = []
        for k, at in enumerate(runner.schedule.rules[rule.name].next_after(now, slots)):
            who = eligible[k] if k < len(eligible) else None
            upcoming.append(Slot(rule.name, at, tz, who.id if who else None, who.name if who else None))
            shown.append(f"{_local(at, tz)} → " + (f"#{who.id} {who.name}" if who else "—"))
        lines.append(f"Next {rule.name} slots: " + "; ".join(shown))
    if others:
        lines += ["", "In progress:", *(_line(i) for i in others)]
    return done("\n".join(lines), Listing(queued, others, upcoming))


# -- the pipeline as columns -------------------------------------------------------------------------

# (column, state): a curator's approval leaves an interview awaiting the member's consent; her
# confirmation puts it in the queue for a slot.
STAGES = (
    ("invited", INVITED),
    ("answered", ANSWERED),
    ("approved", AWAITING_CONSENT),
    ("confirmed", QUEUED),
    ("scheduled", SCHEDULED),
    ("published", PUBLISHED),
    ("withdrawn", WITHDRAWN),
)
FINISHED = (PUBLISHED, WITHDRAWN)


@dataclass(frozen=True)
class Column:
    stage: str  # one of STAGES' names
    state: str
    cards: list[Fit]  # each interview with its fit per platform
    total: int  # in this stage altogether (finished stages show their latest ``shown`` only)


@dataclass(frozen=True)
class Pipeline:
    columns: list[Column]
    platforms: list[str]


def pipeline(runner: SeriesRunner, *, finished: int = 20) -> Result[Pipeline]:
    """Every interview by stage, oldest first within a stage, each with its fit per platform;
    of the published and withdrawn ones, the latest ``finished``."""
    everyone = runner.interviews.in_states()
    columns = []
    for stage, state in STAGES:
        items = sorted((i for i in everyone if i.state == state), key=lambda i: i.id)
        shown = items[-finished:] if state in FINISHED else items
        columns.append(Column(stage, state, [fit(runner, i) for i in shown], len(items)))
    platforms = [p.value for p in interview_platforms(runner)]
    lines = [f"{c.stage:10} {c.total:>4}" for c in columns]
    return done("\n".join(lines), Pipeline(columns, platforms))
