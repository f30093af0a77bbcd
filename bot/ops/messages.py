"""What the operations say to people, in one place (English). The command line prints these; the
console sets the same words in its rich text, marking what members wrote as untrusted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.curation.queue import CandidateView
    from bot.ops.result import Stats


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def when(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %H:%M} UTC"


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def age(moment: datetime, now: datetime) -> str:
    """How long ago, shortest unit that fits: 45s, 12m, 3h, 2d."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- who ------------------------------------------------------------------------------------------


def no_curator(name: str, known: Sequence[str]) -> str:
    return f"no curator named {name!r} (known: {', '.join(known) or 'none configured'})"


NOT_A_CURATOR_TAP = "Only the community's curators can decide."
NOT_A_CURATOR = "Only the community's curators can do that."
SIGN_IN_IN_PRIVATE = (
    "Send /signin to me in our private chat: a sign-in link is for you alone, not for the group."
)


# -- the queue --------------------------------------------------------------------------------------


def decided(view: CandidateView, *, frozen: bool = False) -> str:
    """After a decision from the command line: what happens next."""
    if view.state == "pending":
        tally = f"{view.approvals} of {view.approvals_required}"
        return f"#{view.id}: your approval is recorded ({tally}); it needs another curator."
    if view.state == "approved" and frozen:
        return f"#{view.id} approved: amplification is frozen, so it waits for the unfreeze."
    if view.state == "approved":
        return f"#{view.id} approved: the central account will amplify it at its next turn."
    if view.state == "rejected":
        return f"#{view.id} rejected. It will not be amplified."
    if view.state == "snoozed" and view.snoozed_until is not None:
        return f"#{view.id} snoozed until {view.snoozed_until:%Y-%m-%d %H:%M} UTC."
    return f"#{view.id} is now {view.state}."


def toast(view: CandidateView, verb: str, *, frozen: bool = False) -> str:
    """After a tap on a card: the short answer the curator sees."""
    if verb == "approve" and view.state == "pending":
        return f"Your approval is recorded: {view.approvals} of {view.approvals_required}."
    if verb == "approve" and frozen:
        return "Approved: amplification is frozen, so it waits for the unfreeze."
    if verb == "approve":
        return "Approved: it goes out at the next turn."
    if verb == "reject":
        return "Rejected."
    if verb == "retry":
        return "Sent back: it is tried again at the next turn."
    return f"Snoozed until {when(view.snoozed_until)}." if view.snoozed_until else "Snoozed."


def retried(candidate_id: int) -> str:
    return f"#{candidate_id} goes back to the amplifier."


def retry_only_failed(candidate_id: int, state: str) -> str:
    return f"#{candidate_id} is {state}: only failed candidates can be retried."


def snooze_in_past() -> str:
    return "snooze until a time in the future"


def unreadable_time(text: str) -> str:
    return f"cannot read {text!r} as a time: try 2h, 3d, tomorrow or 2026-12-01T09:00"


def rejected_many(rejected: Sequence[int], refused: Sequence[tuple[int, str]]) -> str:
    lines = []
    if rejected:
        ids = ", ".join(f"#{i}" for i in rejected)
        lines.append(f"Rejected {plural(len(rejected), 'candidate')}: {ids}. None will be amplified.")
    lines += [f"#{i} not rejected: {why}" for i, why in refused]
    return "\n".join(lines) or "Nothing to reject."


def queue_note(view: CandidateView, now: datetime) -> str:
    """The one line under a candidate in ``queue list`` saying what it waits for."""
    if view.state == "pending" and view.approvals_required > 1:
        return f"{view.approvals} of {view.approvals_required} approvals"
    if view.state == "snoozed" and view.snoozed_until:
        return f"until {view.snoozed_until:%Y-%m-%d %H:%M} UTC"
    if view.state == "failed":
        return f"failed: {view.last_error}"
    if view.state == "approved" and view.last_error and view.last_error.startswith("waiting: "):
        later = f" (next look {view.next_attempt_at:%Y-%m-%d %H:%M} UTC)" if view.next_attempt_at else ""
        return f"{view.last_error}{later}"  # held by the last look before amplifying: it says why
    if view.state == "approved" and view.last_error:
        return f"retrying ({view.attempts}): {view.last_error}"
    if view.reason == "nomination":
        return f"nominated by {view.nominated_by}"
    return ""


def nothing_listed(state: str | None, limit: int) -> str:
    if limit <= 0:
        return "No rows shown: --limit 0 lists none (the counts below are the whole queue)."
    return f"Nothing is {state}." if state else "Nothing waits: the queue is empty."


def open_counts(counts: Mapping[str, int]) -> str:
    return "open: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing")


def queue_counts(counts: Mapping[str, int]) -> str:
    return (
        f"{counts.get('pending', 0)} pending, {counts.get('snoozed', 0)} snoozed, "
        f"{counts.get('approved', 0)} approved and waiting to go out"
    )


QUEUE_FROZEN = "🧊 Amplification is frozen (/unfreeze to restart)"


# -- freeze ------------------------------------------------------------------------------------------


def switched(frozen: bool, changed: bool) -> str:
    if frozen:
        return (
            "Amplification is frozen: nothing is boosted, copied or spotlighted until `unfreeze`."
            if changed
            else "Amplification was already frozen."
        )
    return "Amplification is back on." if changed else "Amplification was not frozen."


def switched_head(frozen: bool, changed: bool) -> str:
    if frozen:
        return "🧊 Amplification is frozen" if changed else "🧊 Amplification was already frozen"
    return "▶️ Amplification is back on" if changed else "▶️ Amplification was not frozen"


FROZEN_EXPLAINED = (
    "Nothing is boosted, copied or spotlighted on any platform, and no scheduled series "
    "is published, until a curator sends /unfreeze.",
    "Decisions still count: approved posts wait. A digest or interview whose slot comes "
    "meanwhile goes out on /unfreeze if that is within its grace window.",
)
UNFROZEN_EXPLAINED = ("Approved posts go out at the usual pace, and the series on their schedule.",)


def frozen_since(by: str | None, at: datetime | None) -> str:
    who = f" by {by}" if by else ""
    since = f" since {at:%Y-%m-%d %H:%M} UTC" if at else ""
    return f"Amplification is FROZEN{who}{since}: nothing goes out until `unfreeze`."


# -- blocks ------------------------------------------------------------------------------------------


def blocked(kind: str, value: str, new: bool) -> str:
    return f"{'Blocked' if new else 'Already blocked'}: {kind} {value}."


BLOCK_EFFECT = "Their posts no longer reach the queue."


def withdrawn(n: int) -> str:
    return f"{plural(n, 'waiting candidate')} left the queue."


def unblocked(kind: str, value: str) -> str:
    return f"Unblocked: {kind} {value}. Posts from now on may reach the queue again."


def not_blocked(kind: str, value: str) -> str:
    return f"{kind} {value} was not on the runtime blocklist (the config's is edited in the file)."


NOT_BLOCKED_HERE = "was not blocked here (a block in the config file stays until the file changes)."
NOTHING_BLOCKED = "Nothing is blocked."


# -- members -----------------------------------------------------------------------------------------


def member_frozen(accounts: Sequence[str], undoing: int, hours: float) -> str:
    lines = [f"Frozen: {', '.join(accounts)}. Nothing of theirs is amplified until unfrozen."]
    if undoing:
        lines.append(f"{plural(undoing, 'boost')} of the last {hours:g} h will be taken back.")
    return "\n".join(lines)


def member_unfrozen(accounts: Sequence[str], kept: int) -> str:
    lines = [f"Unfrozen: {', '.join(accounts)}. Approved posts of theirs go ahead."]
    if kept:
        lines.append(f"{plural(kept, 'take-back')} not yet made {'was' if kept == 1 else 'were'} called off.")
    return "\n".join(lines)


def opted_out(accounts: int, withdrawn_: int, undoing: int) -> str:
    return (
        f"Opted out ({plural(accounts, 'account')}): "
        f"{withdrawn_} waiting withdrawn, {undoing} boosts being taken back."
    )


def member_standing(consent: str | None, frozen: bool, blocked_: bool) -> str:
    said = {"out": "opted out", "in": "opted in", None: "has said nothing"}[consent]
    frozen_ = ", is frozen" if frozen else ""
    return f"This member {said}{frozen_}" + (", is blocked" if blocked_ else "") + "."


# -- health ------------------------------------------------------------------------------------------


def health_summary(stale: Sequence[str], frozen: bool) -> str:
    parts = []
    if frozen:
        parts.append("amplification is frozen")
    if stale:
        parts.append(f"stale: {', '.join(stale)}")
    return "Health: " + ("; ".join(parts) if parts else "every platform is being watched") + "."


NO_PLATFORM = "No platform is enabled in the config."


# -- stats -------------------------------------------------------------------------------------------


def stats_lines(stats: Stats) -> tuple[str, ...]:
    median = stats.median_seconds
    return (
        f"The last {stats.days} days",
        f"seen: {stats.seen} posts · queued: {stats.queued}",
        f"approved: {stats.approved} · rejected: {stats.rejected} · expired: {stats.expired}",
        f"amplified: {stats.amplified}",
        f"median time to a decision: {duration(timedelta(seconds=median)) if median is not None else '—'}",
    )
