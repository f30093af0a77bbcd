"""Faults a test arms on the Telegram sandbox by Bot API method name (retry-after, server errors,
hangs, drops, delays)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus

from sandbox._server import Fault, FaultInjector
from sandbox.telegram.model import _too_many_requests


class TelegramFaults(FaultInjector):
    """The server's fault queue, with helpers that arm faults for one Bot API method (or all).

    Status faults armed without a body get Telegram's error body; every 429 handed out is counted.
    """

    def __init__(self, on_too_many: Callable[[], None]) -> None:
        super().__init__()
        self._on_too_many = on_too_many

    @staticmethod
    def path_for(method: str | None) -> str:
        name = re.escape(method) if method else "[^/]+"
        return rf"(?i)^/bot[^/]*/{name}$"

    def take(self, method: str, path: str) -> Fault | None:
        fault = super().take(method, path)
        if fault is None or fault.kind != "status":
            return fault
        if fault.body is None:
            if fault.status == 429:
                body = _too_many_requests(int(fault.headers.get("Retry-After", "1")))
            else:
                try:
                    phrase = HTTPStatus(fault.status).phrase
                except ValueError:
                    phrase = "Error"
                body = {"ok": False, "error_code": fault.status, "description": phrase}
            fault = replace(fault, body=body)
        if fault.status == 429:
            self._on_too_many()
        return fault

    def retry_after(self, seconds: int, method: str | None = None, times: int = 1) -> None:
        """Answer 429 "Too Many Requests: retry after N" (flood control) ``times`` times."""
        self.add(self.path_for(method), Fault("status", 429, _too_many_requests(seconds)), times)

    def server_error(self, status: int = 500, method: str | None = None, times: int = 1) -> None:
        """Answer a 5xx ("Internal Server Error", "Bad Gateway", ...) in Telegram's error shape."""
        self.add(self.path_for(method), Fault("status", status), times)

    def error(self, status: int, description: str, method: str | None = None, times: int = 1) -> None:
        """Answer any Bot API error, e.g. ``error(403, "Forbidden: bot was kicked from the group chat")``."""
        body = {"ok": False, "error_code": status, "description": description}
        self.add(self.path_for(method), Fault("status", status, body), times)

    def malformed(self, method: str | None = None, times: int = 1) -> None:
        """Answer 200 with a body that is not valid JSON."""
        self.add(self.path_for(method), Fault("malformed"), times)

    def hang(self, seconds: float = 30.0, method: str | None = None, times: int = 1) -> None:
        """Say nothing for ``seconds`` (or until the sandbox stops), then drop the connection."""
        self.add(self.path_for(method), Fault("hang", seconds=seconds), times)

    def drop(self, method: str | None = None, times: int = 1) -> None:
        """Close the connection without an answer."""
        self.add(self.path_for(method), Fault("drop"), times)

    def delay(self, seconds: float, method: str | None = None, times: int = 1) -> None:
        """Answer normally, ``seconds`` late."""
        self.add(self.path_for(method), Fault("delay", seconds=seconds), times)

    def delay_after(self, seconds: float, method: str | None = None, times: int = 1) -> None:
        """Do the work (the message is sent), then answer ``seconds`` late: the window in which a
        client that times out cannot know whether its call took effect."""
        self.add(self.path_for(method), Fault("delay_after", seconds=seconds), times)
