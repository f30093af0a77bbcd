"""What a card says: pure composition of a candidate's card (who, what, why, flags, the outcome so
far and its buttons) and the short notes sent beside cards. No I/O; `bot.console.delivery` sends them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.curation.queue import CandidateView
from bot.domain import OPEN_STATES, CandidateState, Platform, is_number_handle, shown_name
from bot.links import safe_url
from bot.ops.messages import duration, when
from bot.ports import Button, Card
from bot.richtext import Doc, Line, Span

__all__ = ["compose_card", "duration", "failure_note", "resurfaced_note", "when"]


def _names(view: CandidateView, action: str) -> list[str]:
    return list(dict.fromkeys(d.curator for d in view.decisions if d.action == action))


def _last(view: CandidateView, action: str) -> datetime | None:
    times = [d.at for d in view.decisions if d.action == action]
    return times[-1] if times else None


def _why(view: CandidateView, hashtags: Sequence[str]) -> Line:
    if view.reason == "nomination":
        who = view.nominated_by or "a member"
        return (Span("Why: "), Span("nominated by "), Span(who, untrusted=True))
    mine = set(view.hashtags.split())
    shown = [t for t in hashtags if t.lstrip("#").casefold() in mine] or list(hashtags[:1])
    why = (Span("Why: "), Span(" ".join("#" + t.lstrip("#") for t in shown)))
    if view.reason == "forward":  # the author above wrote it; this member passed it on
        return (*why, Span(" · ↪️ forwarded by "), Span(view.nominated_by or "a member", untrusted=True))
    return why


def _author(view: CandidateView) -> Line:
    """Who posted: the name, then the handle in brackets — or the name alone when the handle is
    only the platform's number for the account (a Telegram member without a username)."""
    if is_number_handle(view.author_handle):
        return (Span(shown_name(view.author_handle, view.author_name), "bold", untrusted=True),)
    return (
        Span(view.author_name or view.author_handle, "bold", untrusted=True),
        Span(" "),
        Span(f"({view.author_handle})", untrusted=True) if view.author_name else Span(""),
    )


def _flags(view: CandidateView, noted: Sequence[str]) -> Line | None:
    flags: list[tuple[Span, ...]] = []
    if view.is_reply:
        flags.append((Span("a reply"),))
    flags.extend((Span(text),) for text in noted)
    if view.content_warning:
        flags.append((Span("content warning: "), Span(view.content_warning, untrusted=True)))
    if not flags:
        return None
    line: list[Span] = [Span("⚑ ", "bold")]
    for i, flag in enumerate(flags):
        line.extend(((Span(" · "),) if i else ()) + flag)
    return tuple(line)


def _outcome(view: CandidateView, required: int, expire_after: timedelta) -> list[Line]:
    state = CandidateState(view.state)
    approvers = _names(view, "approve")
    lines: list[Line] = []
    edits = [d for d in view.decisions if d.action == "edit"]
    if edits:
        lines.append((Span(f"✏️ Edited by the author · {when(edits[-1].at)}", "italic"),))
    if state in (CandidateState.PENDING, CandidateState.SNOOZED) and required > 1:
        tally = f"🗳 {view.approvals} of {required} approvals"
        lines.append((Span(tally, "bold"), Span(f": {', '.join(approvers)}" if approvers else "")))
    if state is CandidateState.SNOOZED and view.snoozed_until is not None:
        who = ", ".join(_names(view, "snooze")[-1:])
        lines.append((Span(f"💤 Snoozed by {who} until {when(view.snoozed_until)}"),))
    if state in (CandidateState.APPROVED, CandidateState.AMPLIFIED, CandidateState.FAILED):
        at = _last(view, "approve")
        lines.append(
            (
                Span("✅ Approved", "bold"),
                Span(f" by {', '.join(approvers)}" + (f" · {when(at)}" if at else "")),
            )
        )
    if state is CandidateState.APPROVED and view.last_error:
        # held by the last look (a profile that could not be read, a freeze) or a retry: say why
        later = f" · next look {when(view.next_attempt_at)}" if view.next_attempt_at else ""
        why = view.last_error.removeprefix("waiting: ")
        lines.append((Span("⏸ Waiting: ", "bold"), Span(why, untrusted=True), Span(later)))
    if state is CandidateState.REJECTED:
        at = _last(view, "reject")
        who = ", ".join(_names(view, "reject"))
        reasons = [d.reason for d in view.decisions if d.action == "reject" and d.reason]
        lines.append((Span("❌ Rejected", "bold"), Span(f" by {who}" + (f" · {when(at)}" if at else ""))))
        if reasons:
            lines.append((Span("Reason: "), Span(reasons[-1], untrusted=True)))
    if state is CandidateState.EXPIRED:
        at = _last(view, "expire")
        lines.append(
            (
                Span("⌛ Expired", "bold"),
                Span(f": nobody decided within {duration(expire_after)}" + (f" · {when(at)}" if at else "")),
            )
        )
    if state is CandidateState.WITHDRAWN:
        withdrawals = [d.reason for d in view.decisions if d.action == "withdraw" and d.reason]
        lines.append(
            (
                Span("↩️ Withdrawn", "bold"),
                Span(f": {withdrawals[-1]}" if withdrawals else ": the member opted out or deleted the post"),
            )
        )
    for amp in view.amplifications:
        where = f"{amp.action} on {Platform(amp.platform).value.capitalize()}"
        if amp.state == "done":
            url = safe_url(amp.url)
            lines.append((Span(f"📣 {where}: "), Span("done", url=url) if url else Span("done")))
        elif amp.state in ("intent", "retry"):
            note = f" (retrying: {amp.error})" if amp.error else ""
            lines.append((Span(f"⏳ {where}: under way"), Span(note, untrusted=True)))
        elif amp.state == "failed":
            lines.append((Span(f"⚠️ {where} failed: "), Span(amp.error or "unknown error", untrusted=True)))
    if (
        state is CandidateState.FAILED
        and view.last_error
        and not any(a.state == "failed" for a in view.amplifications)
    ):
        lines.append((Span("⚠️ Failed: "), Span(view.last_error, untrusted=True)))
    return lines


def compose_card(
    view: CandidateView,
    now: datetime,
    *,
    hashtags: Sequence[str] = (),
    snooze: timedelta = timedelta(hours=24),
    expire_after: timedelta = timedelta(days=7),
    nudged: bool = False,
    flags: Sequence[str] = (),
) -> Card:
    """The card of one candidate as it stands: who, what, why, flags, and the outcome so far.
    ``flags`` are the trust checks' notes (a new account, many mentions, patient details…).

    Everything a member wrote (text, names, content warning) is an untrusted span; the link to
    the original is a trusted line, so cutting the text to fit never loses it.
    """
    platform = Platform(view.platform).value.capitalize()
    url = safe_url(view.url)
    lines: list[Line | None] = [
        (Span(f"{platform} · candidate #{view.id}", "bold"),),
        _author(view),
        (Span(view.text or "(no text)", "quote", untrusted=True, cuttable=True),),
        (Span("Quotes a post by "), Span(view.quoted_handle, untrusted=True)) if view.quoted_handle else None,
        _flags(view, flags),
        _why(view, hashtags),
        (
            Span(f"Posted {when(view.posted_at)} · "),
            Span("open the original", url=url) if url else Span("no web link", "italic"),
        ),
    ]
    state = CandidateState(view.state)
    if nudged and state is CandidateState.PENDING:
        lines.append((Span(f"⏰ Still waiting: queued {when(view.queued_at)}", "bold"),))
    lines.extend(_outcome(view, view.approvals_required, expire_after))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if state in OPEN_STATES:
        snooze_label = f"💤 Snooze {duration(snooze)}"
        second: tuple[Button, ...] = (
            (Button(snooze_label, "snooze"),) if state is CandidateState.PENDING else ()
        )
        if url:
            second += (Button("🔗 Open", url=url),)
        buttons = ((Button("✅ Approve", "approve"), Button("❌ Reject", "reject")), second)
        buttons = tuple(row for row in buttons if row)
    elif state is CandidateState.FAILED:
        buttons = ((Button("🔁 Retry", "retry"),) + ((Button("🔗 Open", url=url),) if url else ()),)
    return Card(Doc.of(*lines), buttons, view.id)


def failure_note(view: CandidateView) -> Card:
    return Card(
        Doc.of(
            (
                Span(f"⚠️ Candidate #{view.id} could not be amplified: ", "bold"),
                Span(view.last_error or "unknown error", untrusted=True),
            ),
            "Retry it from its card once the platform is back, or check the platform by hand first "
            "when the card says it may have gone out.",
        )
    )


def resurfaced_note(candidate_id: int) -> Card:
    return Card(Doc.of((Span(f"⤵ Candidate #{candidate_id} was re-surfaced below.", "italic"),)))
