"""The Telegram sandbox's HTTP side: the ``/bot<token>/<method>`` entry point and one handler per
Bot API method Coalesce uses."""

from __future__ import annotations

import copy
import re
import time

from sandbox._server import HttpError, Request, Response, Router
from sandbox.telegram import rules
from sandbox.telegram.inputs import MethodArgs, MethodHandler, TelegramInputs
from sandbox.telegram.model import (
    _NOT_MODIFIED,
    _QUERY_TOO_OLD,
    JSON,
    ApiCall,
    CallbackAnswer,
    SandboxChat,
    _bad_request,
    _scope_key,
    api_error,
)
from sandbox.telegram.render import _member_json


class TelegramHandlers(TelegramInputs):
    """The routing table and the Bot API methods."""

    def _router(self) -> Router:
        named: dict[str, MethodHandler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
        }
        # Telegram matches method names without regard to case; calls are logged by the real name.
        self._methods = {name.lower(): (name, handler) for name, handler in named.items()}
        router = Router()
        for verb in ("GET", "POST"):
            router.add(verb, r"/bot(?P<token>[^/]*)/(?P<method>[^/]*)", self._serve_method)
            router.add(verb, r"/file/bot(?P<token>[^/]*)/(?P<path>.*)", self._serve_file)
            router.add(verb, r"/.*", self._not_found)
        return router

    def _serve_method(self, req: Request) -> Response:
        if req.match["token"] != self._token:
            raise api_error(401, "Unauthorized")
        wanted = req.match["method"].lower()
        found = self._methods.get(wanted)
        if found is None:
            raise api_error(404, "Not Found")
        name, handler = found
        args = MethodArgs.of(req)
        status, error = 200, None
        try:
            result = handler(args)
        except HttpError as err:
            status, error = err.status, str(err.payload.get("description"))
            raise
        finally:
            with self._cond:
                self.calls.append(ApiCall(name, dict(args.values), status, self._clock(), error))
                self._changed()
        return Response.of_json({"ok": True, "result": result})

    def _serve_file(self, req: Request) -> Response:
        raise api_error(404, "Not Found")

    def _not_found(self, req: Request) -> Response:
        raise api_error(404, "Not Found")

    def _get_me(self, args: MethodArgs) -> JSON:
        return self._bot_json()

    def _get_updates(self, args: MethodArgs) -> list[JSON]:
        offset = args.integer("offset")
        limit = min(max(args.integer("limit") or 100, 1), 100)
        timeout = max(args.number("timeout") or 0.0, 0.0)
        allowed = args.object("allowed_updates")
        deadline = time.monotonic() + timeout  # long polling waits real time, whatever the clock
        with self._cond:
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) if allowed else None
            self._poll_generation += 1
            generation = self._poll_generation
            self._confirm(offset)
            self._polls_waiting += 1
            self._changed()
            try:
                while True:
                    if generation != self._poll_generation:
                        raise api_error(
                            409,
                            "Conflict: terminated by other getUpdates request; make sure that only one "
                            "bot instance is running",
                        )
                    batch = self._deliverable(limit)
                    remaining = deadline - time.monotonic()
                    if batch or remaining <= 0 or self._stopping:
                        return batch
                    self._cond.wait(remaining)
            finally:
                self._polls_waiting -= 1
                self._changed()

    def _delete_webhook(self, args: MethodArgs) -> bool:
        with self._cond:
            if args.boolean("drop_pending_updates"):
                self._updates.clear()
                self._changed()
        return True

    def _get_webhook_info(self, args: MethodArgs) -> JSON:
        with self._cond:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def _send_message(self, args: MethodArgs) -> JSON:
        with self._cond:
            chat = self._target_chat(args)
            text, entities = self._formatted(args)
            markup = self._inline_markup(args)
            reply_to = self._reply_target(chat, args)
            preview = self._link_preview(args)
            self._admit(chat)
            msg = self._store(
                chat,
                text,
                entities,
                from_user_id=None if chat.type == "channel" else self.bot.id,
                sender_chat_id=chat.id if chat.type == "channel" else None,
                by_bot=True,
                reply_markup=markup,
                reply_to_message_id=reply_to,
                link_preview_options=preview,
            )
            self._changed()
            return self._message_json(msg)

    def _edit_message_text(self, args: MethodArgs) -> JSON:
        with self._cond:
            msg = self._editable(args)
            text, entities = self._formatted(args)
            markup = self._inline_markup(args)  # no reply_markup means: the keyboard goes away
            preview = self._link_preview(args)
            if text == msg.text and entities == msg.entities and markup == msg.reply_markup:
                raise _bad_request(_NOT_MODIFIED)
            if text != msg.text:
                msg.edits.append(msg.text)
            msg.text, msg.entities, msg.reply_markup = text, entities, markup
            if preview is not None:
                msg.link_preview_options = preview
            msg.edit_date = self._now()
            self._changed()
            return self._message_json(msg)

    def _edit_message_reply_markup(self, args: MethodArgs) -> JSON:
        with self._cond:
            msg = self._editable(args)
            markup = self._inline_markup(args)
            if markup == msg.reply_markup:
                raise _bad_request(_NOT_MODIFIED)
            msg.reply_markup = markup
            msg.edit_date = self._now()
            self._changed()
            return self._message_json(msg)

    def _answer_callback_query(self, args: MethodArgs) -> bool:
        with self._cond:
            query_id = args.text("callback_query_id") or ""
            rules.check_callback_answer(args.text("text"))
            tap = self._open_queries.pop(query_id, None)
            if tap is None:
                raise _bad_request(_QUERY_TOO_OLD)
            answer = CallbackAnswer(
                query_id,
                tap.user_id,
                tap.chat_id,
                tap.message_id,
                tap.data,
                args.text("text"),
                args.boolean("show_alert"),
                args.text("url"),
                args.integer("cache_time") or 0,
            )
            self.alerts.append(answer)
            self._changed()
            return True

    def _copy_message(self, args: MethodArgs) -> JSON:
        with self._cond:
            chat = self._target_chat(args)
            source = self._source_message(args, "message to copy not found")
            rules.check_caption(args.text("caption"))
            markup = self._inline_markup(args)
            reply_to = self._reply_target(chat, args)
            self._admit(chat)
            msg = self._store(
                chat,
                source.text,
                copy.deepcopy(source.entities),
                from_user_id=None if chat.type == "channel" else self.bot.id,
                sender_chat_id=chat.id if chat.type == "channel" else None,
                by_bot=True,
                reply_markup=markup,
                reply_to_message_id=reply_to,
            )
            self._changed()
            return {"message_id": msg.message_id}

    def _forward_message(self, args: MethodArgs) -> JSON:
        with self._cond:
            chat = self._target_chat(args)
            source = self._source_message(args, "message to forward not found")
            self._admit(chat)
            msg = self._store(
                chat,
                source.text,
                copy.deepcopy(source.entities),
                from_user_id=None if chat.type == "channel" else self.bot.id,
                sender_chat_id=chat.id if chat.type == "channel" else None,
                by_bot=True,
                forward_origin=self._origin_of(source),
            )
            self._changed()
            return self._message_json(msg)

    def _delete_message(self, args: MethodArgs) -> bool:
        with self._cond:
            chat = self._known_chat_arg(args, "chat_id")
            message_id = args.integer("message_id")
            msg = self._live_message(chat.id, message_id) if message_id is not None else None
            if msg is None:
                raise _bad_request("message to delete not found")
            rules.check_deletable(msg.date, self._now())
            if (
                not msg.by_bot
                and chat.type != "private"
                and chat.members.get(self.bot.id)
                not in (
                    "administrator",
                    "creator",
                )
            ):
                raise _bad_request("message can't be deleted")
            msg.deleted = True
            self._changed()
            return True

    def _set_my_commands(self, args: MethodArgs) -> bool:
        commands = args.object("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        cleaned: list[JSON] = []
        for entry in commands:
            if not isinstance(entry, dict):
                raise _bad_request("can't parse BotCommand")
            command = str(entry.get("command", "")).removeprefix("/")
            description = str(entry.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        with self._cond:
            self._commands[(_scope_key(args.object("scope")), args.text("language_code") or "")] = cleaned
            self._changed()
        return True

    def _get_my_commands(self, args: MethodArgs) -> list[JSON]:
        with self._cond:
            key = (_scope_key(args.object("scope")), args.text("language_code") or "")
            return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, args: MethodArgs) -> bool:
        with self._cond:
            self._commands.pop((_scope_key(args.object("scope")), args.text("language_code") or ""), None)
            self._changed()
        return True

    def _get_chat(self, args: MethodArgs) -> JSON:
        with self._cond:
            raw = args.text("chat_id") or ""
            user_id = int(raw) if raw.isdigit() else None
            user = self._users.get(user_id) if user_id is not None else None
            if user is not None and user.id not in self._chats and user.id != self.bot.id:
                # A user the bot has met: their private chat, as getChat describes it.
                chat = SandboxChat(user.id, "private", None, user.username, user.first_name, user.last_name)
            else:
                chat = self._known_chat_arg(args, "chat_id")
            out = chat.to_api()
            owner = self._users.get(chat.id) if chat.type == "private" else None
            if owner is not None and owner.bio:
                out["bio"] = owner.bio
            out.update(
                accent_color_id=0,
                max_reaction_count=11,
                accepted_gift_types={
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            )
            if chat.description is not None:
                out["description"] = chat.description
            return out

    def _get_chat_member(self, args: MethodArgs) -> JSON:
        with self._cond:
            chat = self._known_chat_arg(args, "chat_id")
            user_id = args.integer("user_id")
            user = self._users.get(user_id) if user_id is not None else None
            if user is None:
                raise _bad_request("user not found")
            status = chat.members.get(user.id, "left")
            return _member_json(status, user.to_api())
