"""The Bluesky sandbox's HTTP server: the ``ratelimit-*`` headers on every answer, 429 when spent."""

from __future__ import annotations

from collections.abc import Callable

from sandbox._server import FaultInjector, LoopbackServer, Request, Response, Router


class BlueskyHttp(LoopbackServer):
    """The loopback server plus what every Bluesky answer carries: the ratelimit headers."""

    def __init__(
        self, router: Router, port: int = 0, *, spend: Callable[[Request], tuple[bool, dict[str, str]]]
    ) -> None:
        self._spend = spend  # counts the request against the rate limits: (allowed, headers)
        self.too_many_requests = 0  # 429s the rate limits handed out (faults armed by a test aside)
        super().__init__(router, FaultInjector(), port)

    def dispatch(self, req: Request) -> Response | None:
        allowed, headers = self._spend(req)
        if not allowed:
            self.too_many_requests += 1
            self.requests.append((req.method, req.path))
            self._mark_handled(req)
            return Response.of_json(
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, headers
            )
        resp = super().dispatch(req)
        if resp is not None:
            for key, value in headers.items():
                resp.headers.setdefault(key, value)
        return resp
