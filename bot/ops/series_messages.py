"""What the series and report operations say to people, in one place, so the command line, the
Telegram console and the web console say the same thing. Plain text; a face adds its markup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

# -- who is asking -------------------------------------------------------------------------------


def unknown_curator(name: str, known: Sequence[str]) -> str:
    names = ", ".join(known) or "none configured"
    return f"no curator named {name!r} (known: {names}); give your curator name with --as"


# -- opportunities -------------------------------------------------------------------------------


def opportunity_added(oid: int, title: str) -> str:
    return f"#{oid} added: {title}"


def opportunity_merged(oid: int, title: str) -> str:
    return f"#{oid} already had that link; merged what was new: {title}"


def opportunity_updated(oid: int, title: str) -> str:
    return f"#{oid} updated: {title}"


def opportunity_removed(oid: int, title: str) -> str:
    return f"#{oid} removed: it will not appear in future digests. ({title})"


def opportunity_already_removed(oid: int) -> str:
    return f"#{oid} was removed already"


def deadline_passed(oid: int, deadline: date, today: date) -> str:
    return (
        f"warning: #{oid}'s deadline {deadline} has passed (today is {today}): no digest will list it; "
        f"correct it with: python -m bot opportunities edit {oid} --deadline YYYY-MM-DD --as NAME"
    )


def nothing_to_change() -> str:
    fields = "--title, --url, --kind, --organisation, --deadline, --eligibility or --language"
    return f"nothing to change: give {fields}"


def bad_deadline(text: str) -> str:
    return f"deadline: expected a date like 2026-04-01 (or none), got {text!r}"


def imported(added: int, merged: int, by: str) -> str:
    return f"{added} added, {merged} merged into entries with the same link (imported by {by})"


def merged_into(oid: int, title: str) -> str:
    return f"  merged into #{oid}: {title}"


def no_open_opportunities(include_closed: bool) -> str:
    return "No opportunities yet." if include_closed else "No open opportunities."


# -- interviews ----------------------------------------------------------------------------------


def invited(iid: int, name: str, invitation: str) -> str:
    return f"Interview #{iid} for {name}. Send them this:\n\n{invitation}"


def invited_by_link(iid: int, name: str) -> str:
    return (
        f"Interview #{iid} for {name}. Forward them the link: it opens a private chat where the "
        "questions come one at a time. Then approve the text and they are asked to confirm it."
    )


def answers_file(path: str) -> str:
    return (
        f"\nAnswers file for them to fill in: {path}\n"
        f"Import it with: python -m bot interviews import {path} --as NAME"
    )


def still_to_answer(iid: int, name: str, missing: Sequence[str]) -> str:
    return f"#{iid} {name}: still to answer: {', '.join(missing)}"


def interview_state(iid: int, name: str, state: str) -> str:
    return f"#{iid} {name}: {state}"


def too_long(describes: Sequence[str]) -> str:
    return "Too long — edit it (interviews edit) before approving:\n" + "\n".join(f"  {d}" for d in describes)


def fits(iid: int, platforms: Sequence[str]) -> str:
    return (
        f"Fits every platform ({', '.join(platforms)}). "
        f"Approve: python -m bot interviews approve {iid} --as NAME"
    )


def no_platform_to_fit() -> str:
    return (
        "Not checked against any platform's length limit: no platform is configured "
        "(platforms in the config, or platforms: on the interview series)."
    )


def answers_imported(count: int, by: str) -> str:
    return f"{count} interview{'s' if count != 1 else ''} updated from the file (imported by {by})"


def approved_in_chat(iid: int, message: str) -> str:
    return (
        f"#{iid} approved. The member gets this in their private chat on Telegram:\n\n{message}\n\n"
        "Their reply (yes, /confirm, or what to change) is recorded by the bot."
    )


def approved_by_hand(iid: int, message: str) -> str:
    return (
        f"#{iid} approved. Ask the member to confirm it; send them this:\n\n{message}\n\n"
        f"When they confirm: python -m bot interviews confirm {iid} --as NAME"
    )


def confirmed(iid: int) -> str:
    return f"#{iid} confirmed by the member: it is in the queue."


def declined(iid: int, note: str) -> str:
    return f"#{iid} is back with the curators: {note}"


def withdrawn(iid: int, lines: Sequence[str], pending: bool) -> str:
    out = [f"#{iid} withdrawn.", *(f"  {line}" for line in lines)]
    if pending:
        out.append("Some posts could not be deleted yet; every run of the bot tries again.")
    return "\n".join(out)


def empty_text() -> str:
    return "give the new text with --text or --file"


# -- schedule and digest ---------------------------------------------------------------------------


def nothing_scheduled() -> str:
    return "No series on the schedule (series.schedule in the config)."


def no_platform_configured(what: str) -> str:
    return (
        f"configuration: no platform is configured, so {what}. "
        "Add one under platforms: in the config (the demo's config has the sandboxes there)."
    )


def no_digest_matches(platform: str | None, language: str | None, languages: Sequence[str]) -> str:
    asked = " and ".join(
        x
        for x in (f"platform {platform}" if platform else "", f"language {language}" if language else "")
        if x
    )
    return f"no digest matches {asked or 'that'} (digest languages: {', '.join(languages) or 'none'})"


def left_out(oid: int, platform: str) -> str:
    return f"(left out #{oid}: too long for one {platform} post even shortened)"


# -- report, members, refresh ------------------------------------------------------------------------


def upload_too_big(name: str, size: int, limit: int) -> str:
    return f"{name}: {size // 1024:,} KB is too big to import (at most {limit // 1024:,} KB)"


def backwards_period() -> str:
    return "--until must come after --since (the period would be empty)"


def period_line(since_text: str, until_text: str, first: date, last: date, *, so_far: bool) -> str:
    typed = f"--since {since_text}" + (f" --until {until_text}" if until_text else "")
    end = f"{last} (today, so far)" if so_far else f"{last}"
    return f"period: {first} to {end}, both days included (UTC) — as typed: {typed}"


def cannot_write(path: str, reason: str) -> str:
    return f"cannot write {path}: {reason}; nothing was written"


def wrote(paths: Sequence[str]) -> str:
    return "wrote " + ", ".join(paths)


def marked(handle: str, platform: str, organisation: bool) -> str:
    kind = "an organisation" if organisation else "an individual"
    return f"{handle} ({platform}) now counts as {kind}."


def exported(count: int, path: str, summary: str) -> str:
    return f"wrote {count} members to {path}; {summary}"


def nothing_to_refresh() -> str:
    return no_platform_configured("there is nothing to refresh")


def at_time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"
