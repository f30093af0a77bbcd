"""The Telegram sandbox's JSON: the bot, messages, forward origins and chat members as the Bot API
answers them."""

from __future__ import annotations

import copy

from sandbox.telegram.model import JSON, StoredMessage
from sandbox.telegram.state import TelegramState

_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_post_messages",
    "can_edit_messages",
)


def _member_json(status: str, user: JSON) -> JSON:
    """A ChatMember object of the kind ``status`` names."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = dict.fromkeys(_ADMIN_RIGHTS, True)
        rights["can_promote_members"] = False
        return {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            **rights,
        }
    if status == "restricted":
        return {
            "status": "restricted",
            "user": user,
            "is_member": True,
            "until_date": 0,
            "can_send_messages": False,
            "can_send_audios": False,
            "can_send_documents": False,
            "can_send_photos": False,
            "can_send_videos": False,
            "can_send_video_notes": False,
            "can_send_voice_notes": False,
            "can_send_polls": False,
            "can_send_other_messages": False,
            "can_add_web_page_previews": False,
            "can_change_info": False,
            "can_invite_users": False,
            "can_pin_messages": False,
            "can_manage_topics": False,
        }
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status == "member":
        return {"status": "member", "user": user}
    return {"status": "left", "user": user}


class TelegramRender(TelegramState):
    """The bot, messages and their origins as Bot API JSON."""

    def _bot_json(self) -> JSON:
        return {
            **self.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self._privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _message_json(self, msg: StoredMessage, *, nested: bool = False) -> JSON:
        out: JSON = {"message_id": msg.message_id}
        if msg.from_user_id is not None:
            out["from"] = self._users[msg.from_user_id].to_api()
        if msg.sender_chat_id is not None:
            out["sender_chat"] = self._chats[msg.sender_chat_id].to_api()
        out["date"] = msg.date
        out["chat"] = self._chats[msg.chat_id].to_api()
        if msg.via_bot_id is not None:
            out["via_bot"] = self._users[msg.via_bot_id].to_api()
        if msg.forward_origin is not None:
            out["forward_origin"] = copy.deepcopy(msg.forward_origin)
        if msg.reply_to_message_id is not None and not nested:
            replied = self._live_message(msg.chat_id, msg.reply_to_message_id)
            if replied is not None:
                out["reply_to_message"] = self._message_json(replied, nested=True)
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        out["text"] = msg.text
        if msg.entities:
            out["entities"] = copy.deepcopy(msg.entities)
        if msg.link_preview_options is not None:
            out["link_preview_options"] = copy.deepcopy(msg.link_preview_options)
        if msg.reply_markup is not None:
            out["reply_markup"] = copy.deepcopy(msg.reply_markup)
        return out

    def _origin_of(self, source: StoredMessage) -> JSON:
        """The forward_origin a forward of ``source`` carries (the first origin if it was a forward)."""
        if source.forward_origin is not None:
            return copy.deepcopy(source.forward_origin)
        chat = self._chats[source.chat_id]
        if chat.type == "channel":
            return {
                "type": "channel",
                "date": source.date,
                "chat": chat.to_api(),
                "message_id": source.message_id,
            }
        if source.sender_chat_id is not None:
            return {
                "type": "chat",
                "date": source.date,
                "sender_chat": self._chats[source.sender_chat_id].to_api(),
            }
        user = self._users[source.from_user_id] if source.from_user_id is not None else self.bot
        if user.hide_forwards:
            return {"type": "hidden_user", "date": source.date, "sender_user_name": user.full_name}
        return {"type": "user", "date": source.date, "sender_user": user.to_api()}
