"""Loopback emulator of the Telegram Bot API methods Coalesce uses, for tests and the demo.

The real python-telegram-bot talks to it over HTTP (``Bot(token, base_url=sandbox.bot_base_url)``);
tests play the people on the other side (``user_sends``, ``user_taps``) and read back what the bot
did (``messages``, ``alerts``). Shapes, limits and error texts follow core.telegram.org/bots/api.
The layers, each on top of the ones before: ``model`` (records, flood control, error answers),
``entities`` and ``markup`` (text and entities), ``rules`` (the documented rules), ``state``,
``render`` (Bot API JSON), ``inputs`` and ``handlers`` (the HTTP side), ``emulator`` (the face).
"""

from sandbox.telegram.emulator import TelegramSandbox
from sandbox.telegram.entities import EntityParseError, detect_entities, utf16_len
from sandbox.telegram.faults import TelegramFaults
from sandbox.telegram.markup import parse_html, parse_markdown, parse_markdown_v2
from sandbox.telegram.model import (
    DEFAULT_TOKEN,
    MAX_MESSAGE_LENGTH,
    ApiCall,
    CallbackAnswer,
    FloodLimits,
    SandboxChat,
    SandboxUser,
    StoredMessage,
    Tap,
    api_error,
)

__all__ = [
    "DEFAULT_TOKEN",
    "MAX_MESSAGE_LENGTH",
    "ApiCall",
    "CallbackAnswer",
    "EntityParseError",
    "FloodLimits",
    "SandboxChat",
    "SandboxUser",
    "StoredMessage",
    "Tap",
    "TelegramFaults",
    "TelegramSandbox",
    "api_error",
    "detect_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]
