"""The Mastodon sandbox's HTTP server: rate-limit headers on every answer, a ``Date`` from its clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from sandbox._server import FaultInjector, LoopbackServer, Request, Response, Router

_TOO_MANY = {"error": "Too many requests"}


class MastodonHttp(LoopbackServer):
    """The loopback server plus what every Mastodon response carries: rate-limit headers and a
    ``Date`` taken from the sandbox clock (Mastodon.py corrects ``X-RateLimit-Reset`` by it)."""

    def __init__(
        self,
        router: Router,
        port: int,
        *,
        spend: Callable[[Request], tuple[bool, dict[str, str]]],
        now: Callable[[], datetime],
    ) -> None:
        self._spend = spend  # counts the request against the rate limits: (allowed, headers)
        self._now = now
        self.lost_responses = FaultInjector()  # handled normally, then the connection drops
        self.too_many_requests = 0  # 429s the rate limit itself handed out (injected ones aside)
        super().__init__(router, FaultInjector(), port)

    def dispatch(self, req: Request) -> Response | None:
        allowed, limit_headers = self._spend(req)
        if not allowed:
            self.too_many_requests += 1
            self.requests.append((req.method, req.path))
            return Response.of_json(_TOO_MANY, 429, limit_headers)
        resp = super().dispatch(req)
        if resp is not None and self.lost_responses.take(req.method, req.path) is not None:
            return None
        if resp is not None:
            present = {key.lower() for key in resp.headers}
            for key, value in limit_headers.items():
                if key.lower() not in present:
                    resp.headers[key] = value
        return resp

    def start(self) -> MastodonHttp:
        # stop() waits for one poll of serve_forever; the default half second adds up over a suite
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-mastodon",
            daemon=True,
        )
        self._thread.start()
        return self

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler_class()
        now = self._now

        class _ClockedHandler(base):  # type: ignore[misc]
            def date_time_string(self, timestamp: float | None = None) -> str:
                if timestamp is not None:
                    return str(super().date_time_string(timestamp))
                return format_datetime(now(), usegmt=True)

        return _ClockedHandler
