"""What the Telegram adapter does for members, part of it (``adapter.py``): their posts and
nominations in the community chats, their bios (opt-out markers), /start and help, consent and
interview commands in private, links to nominate, and the answers sent back."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Message, MessageEntity, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from adapters.telegram.base import TelegramBase, UpdatePage
from adapters.telegram.errors import call
from adapters.telegram.normalize import HIDDEN, forwarder_of, post_ref, to_author, to_post
from adapters.telegram.render import to_html
from bot.domain import Author, MemberRequest, Nomination, Platform, Post
from bot.errors import MalformedPayload, PlatformError
from bot.richtext import Doc, Span
from bot.series import interview_chat
from bot.trust import member_commands

log = logging.getLogger(__name__)


class TelegramMembers(TelegramBase):
    """Members' messages to the bot, and its answers to them."""

    async def _read_bios(self, page: UpdatePage) -> None:
        """Authors with their profile text (``#nobot`` in a bio keeps them out), read before the
        pipeline decides. A profile that cannot be read is left empty: the amplifier reads it
        again before any platform call and holds the work while it cannot."""
        authors = {p.author.account_id: p.author for p in page.posts}
        authors.update((n.post.author.account_id, n.post.author) for n in page.nominations)
        bios: dict[str, str] = {}
        for account_id, author in authors.items():
            try:
                bio = await self._bio_of(author)
            except PlatformError as exc:
                log.info(
                    "could not read a profile",
                    extra={"platform": "telegram", "account": account_id, "error": str(exc)},
                )
                continue
            if bio:
                bios[account_id] = bio

        def with_bio(post: Post) -> Post:
            bio = bios.get(post.author.account_id)
            return (
                dataclasses.replace(post, author=dataclasses.replace(post.author, bio=bio)) if bio else post
            )

        page.posts = [with_bio(p) for p in page.posts]
        page.nominations = [dataclasses.replace(n, post=with_bio(n.post)) for n in page.nominations]

    async def _bio_of(self, author: Author, *, fresh: bool = False) -> str | None:
        """A user's bio or a chat's description; None for an author with nothing to read."""
        if author.account_id.startswith(HIDDEN) or not author.account_id.lstrip("-").isdigit():
            return None
        if author.is_group and author.handle.startswith("@"):  # a public chat is found by its name
            return await self.profiles.bio(author.handle, fresh=fresh)
        return await self.profiles.bio(int(author.account_id), fresh=fresh)

    async def _read_profile(self, chat_id: int | str) -> str:
        chat = await call(self.bot.get_chat(chat_id))
        return chat.bio or chat.description or ""

    async def fetch_author(self, author: Author) -> Author | None:
        """The author with their bio as it is now (the amplifier's last look; never cached).
        Raises when it cannot be read, so nothing is amplified on a stale profile."""
        await self.start()
        bio = await self._bio_of(author, fresh=True)
        # Nothing to read (a sender who hides their account in forwards) is not an unreadable
        # profile: the author stands as the message showed them.
        return author if bio is None else dataclasses.replace(author, bio=bio)

    async def _on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._page is None:
            return
        try:
            post = to_post(message)
        except MalformedPayload as exc:
            self._page.malformed += 1
            log.warning(
                "skipped malformed message",
                extra={
                    "platform": "telegram",
                    "id": post_ref(message.chat.id, message.message_id),
                    "error": str(exc),
                },
            )
            return
        if not post.hashtags & self._tags and post.edited_at is None:
            return  # other group chatter is none of our business: not stored
        forwarder = forwarder_of(message)
        if forwarder is not None:  # someone else's words: judged as theirs, shown as forwarded
            self._page.nominations.append(Nomination(post, forwarder, note="forwarded", reason="forward"))
        else:
            # An edit is passed on even without the tag: one that removes it withdraws the candidate
            # (the store drops an edit of a post it never stored).
            self._page.posts.append(post)

    async def _on_nominate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._page is None:
            return
        target = message.reply_to_message
        if target is None or target.forum_topic_created is not None:
            self._reply(message, "Reply to the message you want to nominate with /nominate.")
            return
        if target.from_user is not None and target.from_user.id == self.bot.id:
            return
        try:
            post = to_post(target)
            nominator = to_author(message.from_user, message.sender_chat)
        except MalformedPayload as exc:
            self._reply(message, "I can only pass on messages with text.")
            log.info(
                "nomination of a message without text", extra={"platform": "telegram", "error": str(exc)}
            )
            return
        self._page.nominations.append(Nomination(post=post, nominated_by=nominator, note=message.text or ""))
        self._reply(message, "Thank you! The curators will have a look.")

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        payload = (context.args or [""])[0] if message.text and message.text.startswith("/start") else ""
        if payload.startswith(interview_chat.START):  # an interview invitation link was opened
            self._ask_core(message, interview_chat.INTERVIEW, payload.removeprefix(interview_chat.START))
            return
        if self._within_budget(message):
            self._reply(message, self._about(), html=True)

    async def _on_interview_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/confirm and /withdraw in a private chat: the member's mini-interview."""
        message = update.effective_message
        if message is None or not message.text:
            return
        kind = message.text.split()[0].lstrip("/").partition("@")[0].lower()
        self._ask_core(message, kind, None)

    def _ask_core(self, message: Message, kind: str, argument: str | None) -> None:
        """A member's private message for the core (opting out, linking, an interview in
        progress): the core decides, records it once and answers through the trust service."""
        if self._page is None:
            return
        try:
            author = to_author(message.from_user)
        except MalformedPayload:
            return
        self._page.requests.append(
            MemberRequest(
                kind,
                author,
                Platform.TELEGRAM,
                argument,
                reply_ref=post_ref(message.chat.id, message.message_id),
                private=message.chat.type == ChatType.PRIVATE,
            )
        )

    async def _on_member_request(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/optout, /optin, /link CODE in a private chat: the member asking about themselves."""
        message = update.effective_message
        if message is None or self._page is None or not message.text:
            return
        # Unclear ones go to the core too, whose answers are counted per sender (a flood of
        # commands is not answered one by one).
        kind, argument = member_commands.parse_private(message.text)
        self._ask_core(message, kind, argument)

    def _within_budget(self, message: Message) -> bool:
        sender = str(message.from_user.id) if message.from_user else str(message.chat.id)
        if self.sender_budget.allow(sender, message.date):
            return True
        log.debug("private message over the per-sender budget", extra={"platform": "telegram"})
        return False

    def _about(self) -> str:
        where = ", ".join(p.value.capitalize() for p in self.peers) or "other platforms"
        tags = " ".join("#" + t for t in sorted(self._tags)) or "the community hashtag"
        return to_html(
            Doc.of(
                (Span(f"I am the central account of {self.community}.", "bold"),),
                f"Volunteer curators look at messages with {tags} in the community group, and share "
                "the ones they choose in the community channel, with credit to the author.",
                "To suggest someone's message, reply to it in the group with /nominate. To suggest a "
                f"post on {where}, send me its link here.",
                "Nothing is shared without a curator's decision. If you would rather your messages "
                "were never shared, send me /optout: they will not be, on any platform (/optin undoes it).",
            )
        )

    async def _on_private_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or self._page is None:
            return
        found = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
        urls = [e.url if e.type == MessageEntity.TEXT_LINK and e.url else text for e, text in found.items()]
        if not urls:
            # "opt out please", "baja 🙏" typed without a slash are requests too; anything else is
            # an interview answer, or else the core answers with the help text
            parsed = member_commands.parse(message.text or "")
            if parsed is not None and parsed[0] != member_commands.HELP:
                self._ask_core(message, *parsed)
                return
            self._ask_core(message, interview_chat.ANSWER, message.text or "")
            return
        try:
            author = to_author(message.from_user)
        except MalformedPayload:
            return
        if not self._within_budget(message):
            return  # each link costs look-ups on other platforms: a flood gets none
        for url in list(dict.fromkeys(urls))[:3]:
            self._page.links.append((url, author, message))

    async def _resolve_links(self, links: Sequence[tuple[str, Author, Message]]) -> list[Nomination]:
        """Links members sent in private, as posts found through the other platforms' adapters."""
        out: list[Nomination] = []
        for url, author, message in links:
            post = None
            for peer in self.peers.values():
                try:
                    post = await peer.resolve(url)
                    break
                except PlatformError as exc:
                    log.info(
                        "a nominated link is not a post there",
                        extra={"platform": peer.platform.value, "url": url, "error": str(exc)},
                    )
            if post is None:
                self._reply(message, "I could not find a post at that link. Is it public?")
                continue
            out.append(Nomination(post=post, nominated_by=author, note=url))
            self._reply(message, "Thank you! The curators will have a look.")
        return out

    def use_last_look(self, may_answer: Callable[[str], bool]) -> None:
        self._may_answer = may_answer

    def _reply(self, message: Message, text: str, *, html: bool = False, consent: bool = False) -> None:
        """Answer a member without holding up the update stream (replies wait for the pacer).
        The core's last look comes first (nothing for someone opted out, blocked or frozen, or
        while the account is frozen), except for help about consent itself."""
        sender = str(message.from_user.id) if message.from_user is not None else None
        may_answer = None if consent or sender is None else self._may_answer

        async def answer() -> None:
            if (
                may_answer is not None
                and sender is not None
                and not await asyncio.to_thread(may_answer, sender)
            ):
                log.info(
                    "an answer to a member was held back by the last look", extra={"platform": "telegram"}
                )
                return
            await call(
                self.bot.send_message(
                    message.chat.id,
                    text,
                    parse_mode=ParseMode.HTML if html else None,
                    reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
                )
            )

        self._later(answer())

    def _later(self, request: Any) -> None:
        async def quietly() -> None:
            try:
                await request
            except PlatformError as exc:
                log.info("could not answer a member", extra={"platform": "telegram", "error": str(exc)})

        task = asyncio.create_task(quietly(), name="telegram-reply")
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)
