"""The curators' commands in the console (/queue /stats /freeze /unfreeze /block /unblock
/opportunity /interview /champion /champions /chats /meetups /meetup /signin /help): each reads
its arguments, calls the operation in bot/ops, and sets the result in the console's rich text
(what members wrote stays an untrusted span)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.clock import Clock
from bot.config import Settings
from bot.console.cards import duration
from bot.curation.queue import Queue
from bot.domain import Platform
from bot.ops import chats as chat_ops
from bot.ops import conferences as conf_ops
from bot.ops import interviews as interview_ops
from bot.ops import meetups as meetup_ops
from bot.ops import messages, safety, web_access, web_messages
from bot.ops import opportunities as opportunity_ops
from bot.ops import queue as q_ops
from bot.ops.result import Outcome
from bot.ports import Command, ConsoleFront
from bot.richtext import Doc, Line, Span
from bot.store.store import Store

log = logging.getLogger(__name__)

COMMANDS = (
    "queue",
    "stats",
    "freeze",
    "unfreeze",
    "block",
    "unblock",
    "opportunity",
    "interview",
    "champion",
    "champions",
    "chats",
    "meetups",
    "meetup",
    "signin",
    "help",
)
SIGN_IN = "signin"  # also taken in a private chat with the bot: the only place it gives a link
BLOCK_USAGE = "Usage: /block account|domain|did|keyword VALUE [reason…] (e.g. /block domain pile.example)"
INTERVIEW_USAGE = "Usage: /interview @handle Name… (e.g. /interview @maria_md María Pérez)"
CHAMPION_USAGE = (
    "Usage: /champion add|remove TAG @handle [mastodon|bluesky|telegram] (e.g. /champion add ACSCC27 "
    "@maria_md); /champions TAG lists them"
)
MEETUP_USAGE = (
    "Usage: /meetup add TAG YYYY-MM-DD HH:MM PLACE… | RIBBON… (e.g. /meetup add ACSCC27 2027-10-17 "
    "18:30 Hall B lobby | Ana wears the pink ribbon); /meetup remove NUMBER; /meetups [TAG] lists them"
)
OPPORTUNITY_USAGE = (
    "Usage: /opportunity URL TITLE… (e.g. /opportunity https://aamc.org/visiting Visiting rotation)"
)

HELP = Doc.of(
    (Span("Curators' console", "bold"),),
    "Every new candidate arrives here as a card: Approve, Reject or Snooze it with a tap.",
    "/queue — how many wait, and the oldest",
    "/stats — this week in numbers",
    "/freeze — stop all amplification at once (a pile-on, a mistake)",
    "/unfreeze — start again",
    "/block KIND VALUE [reason…] — keep an account, a server (domain), a DID or a keyword out "
    "of the queue; /unblock KIND VALUE lifts it",
    "/opportunity URL TITLE… — add an opportunity to the weekly digest",
    "/interview @handle Name… — invite a member to the mini-interview (you get a link to forward)",
    "/champion add|remove TAG @handle [platform] — name a member champion of a conference (she "
    "decides its posts during its days) or take the role back; /champions TAG lists them",
    "/chats — the chats coming up, and where each stands",
    "/meetups [TAG] — the meet-ups on the schedule; /meetup add TAG YYYY-MM-DD HH:MM PLACE… | "
    "RIBBON… schedules one (announced three hours before), /meetup remove NUMBER calls it off",
    "/signin — (in your private chat with me) a sign-in link to the web console",
    "/help — this message",
)


class ConsoleCommands:
    """Answers one curator's command with a Doc (called in a thread: the operations touch the database)."""

    def __init__(
        self, front: ConsoleFront, store: Store, queue: Queue, settings: Settings, clock: Clock
    ) -> None:
        self.front = front
        self.store = store
        self.queue = queue
        self.settings = settings
        self.clock = clock
        self._ctx = {"community": settings.community.slug, "platform": front.platform.value}

    def answer(self, command: Command, curator: str, now: datetime) -> Doc:
        if command.name == "queue":
            return self.queue_summary(now)
        if command.name == "stats":
            return self.stats(now)
        if command.name in ("freeze", "unfreeze"):
            return self.freeze(curator, now, command.name == "freeze")
        if command.name in ("block", "unblock"):
            return self.block(curator, command, now)
        if command.name == "interview":
            return self.invite(curator, command.args, now)
        if command.name == "opportunity":
            return self.add_opportunity(curator, command.args, now)
        if command.name in ("champion", "champions"):
            return self.champions(curator, command, now)
        if command.name == "chats":
            return self.chats(now)
        if command.name in ("meetup", "meetups"):
            return self.meetups(curator, command, now)
        if command.name == SIGN_IN:
            return self.sign_in(curator, command, now)
        return HELP

    def queue_summary(self, now: datetime) -> Doc:
        result = q_ops.summary(self.queue)
        summary = result.data
        assert summary is not None
        lines: list[Line | str | None] = [(Span("The queue", "bold"),), result.message]
        if summary.frozen:
            lines.append((Span(messages.QUEUE_FROZEN, "bold"),))
        if summary.oldest:
            lines.append("Oldest first:")
        for c in summary.oldest:
            lines.append(
                (
                    Span(f"#{c.id} · {Platform(c.platform).value.capitalize()} · "),
                    Span(c.author_handle, untrusted=True),
                    Span(f" · waiting {duration(now - c.queued_at)}"),
                )
            )
        return Doc.of(*lines)

    def sign_in(self, curator: str, command: Command, now: datetime) -> Doc:
        """A single-use link to the web console, given only in the curator's private chat: in
        the group, anyone reading over her shoulder could sign in as her."""
        if not command.private:
            return Doc.of(messages.SIGN_IN_IN_PRIVATE)
        made = web_access.sign_in_link(self.store, self.settings, curator, now)
        if made.data is None:
            return Doc.of(f"⚠️ {made.message}")
        log.info("sign-in link sent in private", extra={**self._ctx, "curator": curator})
        return Doc.of(web_messages.link_message(self.settings.community.name, made.data.url))

    def stats(self, now: datetime) -> Doc:
        """This week in numbers (bot.ops.queue.stats)."""
        head, *rest = q_ops.stats(self.store, now).message.splitlines()
        return Doc.of((Span(head, "bold"),), *rest)

    def freeze(self, curator: str, now: datetime, frozen: bool) -> Doc:
        result = safety.set_amplification(self.store, self.settings, curator, now, frozen=frozen)
        change = result.data
        if change is None:  # not a curator: the console asked who it is first, so only a config change
            return Doc.of(f"⚠️ {result.message}")
        head = messages.switched_head(frozen, change.changed)
        explained = messages.FROZEN_EXPLAINED if frozen else messages.UNFROZEN_EXPLAINED
        return Doc.of((Span(head, "bold"), Span(f" (by {curator})")), *explained)

    def block(self, curator: str, command: Command, now: datetime) -> Doc:
        """/block and /unblock: the runtime blocklist, as ``python -m bot block`` keeps it."""
        kind, _, rest = command.args.strip().partition(" ")
        value, _, reason = rest.strip().partition(" ")
        if not kind or not value:
            return Doc.of(BLOCK_USAGE)
        if command.name == "unblock":
            lifted = safety.unblock(self.store, self.settings, kind, value, curator, now)
            if lifted.outcome is Outcome.USAGE:
                return Doc.of(f"⚠️ {lifted.message}", BLOCK_USAGE)
            if lifted.data is None:  # not a curator any more (the config changed meanwhile)
                return Doc.of(f"⚠️ {lifted.message}")
            shown = Span(lifted.data.value, untrusted=True)
            if not lifted.data.changed:
                return Doc.of((Span(f"{kind} "), shown), messages.NOT_BLOCKED_HERE)
            return Doc.of((Span("Unblocked", "bold"), Span(f": {kind} "), shown))
        why = reason.strip() or None
        added = safety.block(self.store, self.settings, kind, value, curator, now, reason=why)
        if added.data is None:
            return Doc.of(f"⚠️ {added.message}", BLOCK_USAGE)
        change = added.data
        head = "🚫 Blocked" if change.changed else "🚫 Already blocked"
        return Doc.of(
            (Span(head, "bold"), Span(f" (by {curator}): {kind} "), Span(change.value, untrusted=True)),
            messages.BLOCK_EFFECT,
            messages.withdrawn(change.withdrawn) if change.withdrawn else None,
        )

    def champions(self, curator: str, command: Command, now: datetime) -> Doc:
        """/champion add|remove TAG HANDLE [PLATFORM] and /champions TAG, as ``python -m bot
        champions`` does; a handle without a platform is one on this console's platform."""
        words = command.args.split()
        if command.name == "champions":
            if len(words) != 1:
                return Doc.of(CHAMPION_USAGE)
            shown = conf_ops.show_conference(self.store, words[0])
            if shown.data is None:
                return Doc.of((Span("⚠️ "), Span(shown.message, untrusted=True)))
            names = [(Span(f"• {name}", untrusted=True),) for name in shown.data.champions]
            return Doc.of((Span(shown.message, "bold", untrusted=True),), *names)
        if len(words) not in (3, 4) or words[0] not in ("add", "remove"):
            return Doc.of(CHAMPION_USAGE)
        verb, tag, handle = words[:3]
        platform = words[3].casefold() if len(words) == 4 else self.front.platform.value
        change = conf_ops.add_champion if verb == "add" else conf_ops.remove_champion
        result = change(self.store, self.settings, tag, platform, handle, by=curator, now=now)
        log.info(
            "champion from the console",
            extra={**self._ctx, "verb": verb, "curator": curator, "outcome": result.outcome.value},
        )
        if not result.ok:
            extra = CHAMPION_USAGE if result.outcome is Outcome.USAGE else None
            return Doc.of((Span("⚠️ "), Span(result.message, untrusted=True)), extra)
        return Doc.of((Span("🎗️ ", "bold"), Span(result.message, untrusted=True)))

    def chats(self, now: datetime) -> Doc:
        """/chats: the chats not over yet, soonest first, as ``python -m bot chats list`` has them."""
        result = chat_ops.chat_statuses(self.store, now)
        coming = [s for s in result.data or [] if not s.over]
        if not coming:
            return Doc.of("No chats coming up (schedule one in the web console or with `chats add`).")
        lines: list[Line | str | None] = [(Span(f"Chats coming up: {len(coming)}", "bold"),)]
        for status in coming:
            chat = status.chat
            lines.append(
                (
                    Span(
                        f"#{chat.id} · {chat.local_start:%a %d %b %H:%M} ({chat.timezone}) · #{chat.tag} · "
                    ),
                    Span(chat.topic, "bold", untrusted=True),
                    Span(" with "),
                    Span(chat.host, untrusted=True),
                )
            )
            lines.append(f"    {len(chat.questions)} questions · {status.summary}")
        if coming[0].frozen:
            lines.append((Span("The account is frozen: what falls due is held.", "bold"),))
        return Doc.of(*lines)

    def meetups(self, curator: str, command: Command, now: datetime) -> Doc:
        """/meetups [TAG], /meetup add TAG DAY TIME PLACE… | RIBBON…, /meetup remove NUMBER: as
        ``python -m bot conferences meetup`` does (the announcement at its default time)."""
        words = command.args.split()
        if command.name == "meetups":
            if len(words) > 1:
                return Doc.of(MEETUP_USAGE)
            listed = meetup_ops.list_meetups(self.store, tag=words[0] if words else None)
            lines: list[Line | str | None] = [(Span(listed.message, "bold"),)]
            for x in listed.data or []:
                lines.append(
                    (
                        Span(f"#{x.id} · #{x.tag} · {x.local(x.at):%a %d %b %H:%M} ({x.timezone}) · "),
                        Span(x.place, untrusted=True),
                    )
                )
                lines.append((Span("    ribbon: "), Span(x.ribbon, untrusted=True)))
            return Doc.of(*lines)
        verb = words[0] if words else ""
        if verb == "remove" and len(words) == 2 and words[1].lstrip("#").isdigit():
            removed = meetup_ops.remove_meetup(
                self.store, self.settings, int(words[1].lstrip("#")), by=curator, now=now
            )
            return Doc.of(removed.message if removed.ok else f"⚠️ {removed.message}")
        if verb != "add" or len(words) < 5:
            return Doc.of(MEETUP_USAGE)
        place, bar, ribbon = " ".join(words[4:]).partition("|")
        if not bar:
            return Doc.of("⚠️ Put a | between the place and the ribbon.", MEETUP_USAGE)
        fields = meetup_ops.MeetupFields(
            tag=words[1], at=f"{words[2]} {words[3]}", place=place.strip(), ribbon=ribbon.strip()
        )
        result = meetup_ops.add_meetup(self.store, self.settings, fields, by=curator, now=now)
        log.info(
            "meet-up from the console",
            extra={**self._ctx, "curator": curator, "outcome": result.outcome.value},
        )
        if not result.ok:
            extra = MEETUP_USAGE if result.outcome is Outcome.USAGE else None
            return Doc.of((Span("⚠️ Not scheduled: "), Span(result.message, untrusted=True)), extra)
        return Doc.of((Span("📍 ", "bold"), Span(result.message, untrusted=True)))

    def invite(self, curator: str, args: str, now: datetime) -> Doc:
        words = args.split()
        handle = words.pop(0) if words and words[0].startswith("@") else ""
        name = " ".join(words)
        if not name:
            return Doc.of("⚠️ Whom are we interviewing? Give their name after the handle.", INTERVIEW_USAGE)
        result = interview_ops.invite(
            self.store, self.settings, now, curator, name=name, handle=handle, chat=self.front.platform
        )
        if not result.ok or result.data is None:
            return Doc.of((Span("⚠️ Not invited: "), Span(result.message, untrusted=True)), INTERVIEW_USAGE)
        interview = result.data.interview
        log.info("interview invited from the console", extra={**self._ctx, "interview": interview.id})
        payload = result.data.start_payload
        link = self.front.start_link(payload) if payload is not None else None
        head = (
            Span(f"🎙️ Interview #{interview.id} for ", "bold"),
            Span(interview.name, "bold", untrusted=True),
        )
        if link is None:  # a front without start links: the invitation to pass on by hand
            return Doc.of(
                head,
                "Send them this invitation; import their answers with python -m bot interviews import.",
                (Span(result.data.invitation, untrusted=True),),
            )
        return Doc.of(
            head,
            "Forward this link to them: it opens a private chat with me, where I ask the questions "
            "one at a time. Then approve the text (interviews approve) and I ask them to confirm it.",
            (Span(link, url=link),),
        )

    def add_opportunity(self, curator: str, args: str, now: datetime) -> Doc:
        url, _, title = args.strip().partition(" ")
        title = " ".join(title.split())
        if not url:
            return Doc.of("⚠️ Give the opportunity's link and title.", OPPORTUNITY_USAGE)
        if not title:
            return Doc.of("⚠️ The opportunity needs a title after its link.", OPPORTUNITY_USAGE)
        result = opportunity_ops.add(
            self.store, self.settings, now, curator, title=title, url=url, source="console"
        )
        if not result.ok or result.data is None:
            return Doc.of((Span("⚠️ Not added: "), Span(result.message, untrusted=True)), OPPORTUNITY_USAGE)
        added = result.data
        o = added.opportunity
        head = (
            f"#{o.id} already had that link; merged what was new: "
            if added.merged
            else f"#{o.id} added for the next digest ({o.kind}): "
        )
        log.info(
            "opportunity from the console",
            extra={**self._ctx, "opportunity": o.id, "curator": curator, "merged": added.merged},
        )
        return Doc.of((Span(head, "bold"), Span(o.title, untrusted=True)), (Span(o.url, untrusted=True),))
