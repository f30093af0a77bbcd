"""Reading a Bot API call's arguments into the sandbox's terms: typed arguments, target chats,
formatted text, inline keyboards, replies and link previews, with Telegram's refusals."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from sandbox._server import Request
from sandbox.telegram import rules
from sandbox.telegram.entities import (
    EntityParseError,
    _sort_entities,
    _strip_text,
    detect_entities,
    utf16_len,
)
from sandbox.telegram.markup import parse_html, parse_markdown, parse_markdown_v2
from sandbox.telegram.model import (
    _CALLBACK_DATA_MAX_BYTES,
    JSON,
    MAX_MESSAGE_LENGTH,
    SandboxChat,
    StoredMessage,
    _bad_request,
    api_error,
)
from sandbox.telegram.render import TelegramRender


class MethodArgs:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    def of(cls, req: Request) -> MethodArgs:
        values: dict[str, Any] = {k: v[0] for k, v in req.query.items() if v}
        values.update({k: v[0] for k, v in req.form.items() if v})
        if isinstance(req.json, dict):
            values.update(req.json)
        return cls(values)

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value)

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def object(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None


MethodHandler = Callable[[MethodArgs], Any]


class TelegramInputs(TelegramRender):
    """What every method handler needs from its arguments, checked as Telegram checks them."""

    def _known_chat_arg(self, args: MethodArgs, name: str) -> SandboxChat:
        raw = args.text(name)
        if raw is None or raw == "":
            raise _bad_request(f"{name} is empty")
        if raw.startswith("@"):
            wanted = raw[1:].lower()
            for chat in self._chats.values():
                if chat.type != "private" and (chat.username or "").lower() == wanted:
                    return chat
            raise _bad_request("chat not found")
        try:
            chat_id = int(raw)
        except ValueError:
            raise _bad_request("chat not found") from None
        found = self._chats.get(chat_id)
        if found is None:
            raise _bad_request("chat not found")
        return found

    def _target_chat(self, args: MethodArgs) -> SandboxChat:
        wanted = args.text("chat_id") or ""
        if wanted.isdigit():  # a person's id: only once they have opened a chat with the bot
            rules.check_private_chat(int(wanted) in self._users, int(wanted) in self._chats)
        chat = self._known_chat_arg(args, "chat_id")
        if chat.bot_blocked:
            raise api_error(403, "Forbidden: bot was blocked by the user")
        status = chat.members.get(self.bot.id)
        if status in ("left", "kicked"):
            which = "channel" if chat.type == "channel" else "group chat"
            raise api_error(403, f"Forbidden: bot was kicked from the {which}")
        if chat.type == "channel" and status not in ("administrator", "creator"):
            raise _bad_request("need administrator rights in the channel chat")
        return chat

    def _formatted(self, args: MethodArgs) -> tuple[str, list[JSON]]:
        raw = args.text("text")
        if not raw:
            raise _bad_request("message text is empty")
        explicit = args.object("entities")
        mode = (args.text("parse_mode") or "").strip()
        if isinstance(explicit, list):
            text, entities = raw, [e for e in explicit if isinstance(e, dict)]
        elif mode == "":
            text, entities = raw, []
        else:
            parser = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}.get(
                mode.lower()
            )
            if parser is None:
                raise _bad_request(f"unsupported parse_mode {mode!r}")
            try:
                text, entities = parser(raw)
            except EntityParseError as err:
                raise _bad_request(f"can't parse entities: {err}") from None
        text, entities = _strip_text(text, entities)
        if not text:
            raise _bad_request("message text is empty")
        if utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        entities = [self._mention_or_link(e) for e in entities]
        return text, _sort_entities([*entities, *detect_entities(text, entities)])

    def _mention_or_link(self, entity: JSON) -> JSON:
        """A ``tg://user?id=`` link to a known user becomes a text_mention carrying that user."""
        url = entity.get("url", "")
        if entity["type"] == "text_link" and url.startswith("tg://user?id="):
            user = self._users.get(int(url.rpartition("=")[2])) if url.rpartition("=")[2].isdigit() else None
            if user is not None:
                return {
                    "type": "text_mention",
                    "offset": entity["offset"],
                    "length": entity["length"],
                    "user": user.to_api(),
                }
        return entity

    def _inline_markup(self, args: MethodArgs) -> JSON | None:
        """The inline keyboard to keep on the message; other keyboards are accepted but not shown."""
        markup = args.object("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None  # reply keyboards, ForceReply and removals live on the client, not the message
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
                if len(button) == 1:
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                rules.check_button_url(button)
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= _CALLBACK_DATA_MAX_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
        if not any(rows):
            return None
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _reply_target(self, chat: SandboxChat, args: MethodArgs) -> int | None:
        params = args.object("reply_parameters")
        if isinstance(params, dict):
            wanted, lenient = params.get("message_id"), bool(params.get("allow_sending_without_reply"))
        else:
            wanted, lenient = args.integer("reply_to_message_id"), args.boolean("allow_sending_without_reply")
        if wanted is None:
            return None
        try:
            message_id = int(wanted)
        except (TypeError, ValueError):
            raise _bad_request("message to be replied not found") from None
        if self._live_message(chat.id, message_id) is None:
            if lenient:
                return None
            raise _bad_request("message to be replied not found")
        return message_id

    def _link_preview(self, args: MethodArgs) -> JSON | None:
        options = args.object("link_preview_options")
        if isinstance(options, dict):
            return options
        if args.boolean("disable_web_page_preview"):
            return {"is_disabled": True}
        return None

    def _editable(self, args: MethodArgs) -> StoredMessage:
        if args.has("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")  # the bot never sends inline messages here
        chat = self._known_chat_arg(args, "chat_id")
        message_id = args.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        msg = self._live_message(chat.id, message_id)
        if msg is None:
            raise _bad_request("message to edit not found")
        if not msg.by_bot or msg.forward_origin is not None:
            raise _bad_request("message can't be edited")
        return msg

    def _source_message(self, args: MethodArgs, missing: str) -> StoredMessage:
        chat = self._known_chat_arg(args, "from_chat_id")
        message_id = args.integer("message_id")
        msg = self._live_message(chat.id, message_id) if message_id is not None else None
        if msg is None:
            raise _bad_request(missing)
        return msg
