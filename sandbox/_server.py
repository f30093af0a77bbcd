"""A small threaded HTTP server on loopback that every platform emulator builds on.

It owns routing, request parsing and fault injection, so each emulator (Mastodon, Telegram,
Bluesky XRPC) only writes handlers that take a :class:`Request` and return a :class:`Response`.
Runs in a background thread so synchronous clients (Mastodon.py) and async ones (httpx under
python-telegram-bot and atproto) can both talk to it, and tests can inspect its state directly.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Fault",
    "FaultInjector",
    "HttpError",
    "LoopbackServer",
    "Request",
    "Response",
    "Router",
]


@dataclass
class Request:
    """One parsed HTTP request. ``params`` merges query string and body fields (lists kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None
    match: dict[str, str] = field(default_factory=dict)
    handled: bool = False

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of ``name`` from the query, the form body or a JSON object body."""
        for source in (self.query, self.form):
            if source.get(name):
                return source[name][0]
            if name + "[]" in source and source[name + "[]"]:
                return source[name + "[]"][0]
        if isinstance(self.json, dict) and name in self.json:
            value = self.json[name]
            return value if isinstance(value, str) else json.dumps(value)
        return default

    def params(self, name: str) -> list[str]:
        """Every value of ``name`` (``name`` and ``name[]`` both count, Rails style)."""
        out: list[str] = []
        for source in (self.query, self.form):
            out.extend(source.get(name, []))
            out.extend(source.get(name + "[]", []))
        if isinstance(self.json, dict) and isinstance(self.json.get(name), list):
            out.extend(str(v) for v in self.json[name])
        return out


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, json.dumps(payload).encode(), hdrs)


class HttpError(Exception):
    """Raised by a handler to answer with an error status and a JSON body."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


@dataclass
class Fault:
    """What to do instead of (or before) answering a request.

    kind: ``status`` answers ``status`` with ``body``/``headers``; ``delay`` waits ``seconds``
    and then answers normally; ``hang`` waits ``seconds`` (long enough for the client to time
    out) and then drops the connection; ``malformed`` answers 200 with a broken JSON body;
    ``drop`` closes the connection without an answer; ``delay_after`` does the work, then
    waits ``seconds`` before answering (the platform acted, the client has not heard yet: the
    window in which a crash tests "did it happen or not?"); ``raw`` answers ``status`` with
    ``body`` as the exact bytes given (invalid UTF-8, hand-made pages of broken items).
    """

    kind: str
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


Handler = Callable[[Request], Response]


class FaultInjector:
    """Faults queued per route pattern, taken in order; tests arm them, handlers never see them.

    :meth:`at_random` adds faults that strike a share of all requests (chaos runs); queued
    faults go first. ``injected`` counts both.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[re.Pattern[str], str | None, Fault, list[int]]] = []
        self.injected = 0
        self._random: tuple[float, list[Fault], random.Random, re.Pattern[str]] | None = None

    def at_random(self, rate: float, faults: list[Fault], rng: random.Random, path_regex: str = r".") -> None:
        """From now on a ``rate`` share of requests matching ``path_regex`` meet one of ``faults``
        (chosen by ``rng``, so a seed replays the same run); ``rate=0`` stops it."""
        with self._lock:
            self._random = (rate, list(faults), rng, re.compile(path_regex)) if rate > 0 else None

    def add(self, path_regex: str, fault: Fault, times: int = 1, method: str | None = None) -> None:
        with self._lock:
            self._rules.append((re.compile(path_regex), method, fault, [times]))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                pattern, rule_method, fault, left = rule
                if rule_method and rule_method != method:
                    continue
                if not pattern.search(path):
                    continue
                left[0] -= 1
                if left[0] <= 0:
                    self._rules.remove(rule)
                self.injected += 1
                return fault
            if self._random is not None:
                rate, faults, rng, pattern = self._random
                if pattern.search(path) and rng.random() < rate:
                    self.injected += 1
                    return rng.choice(faults)
        return None


class Router:
    """Maps (method, path regex) to a handler; named groups land in ``Request.match``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile("^" + pattern + "$"), handler))

    def route(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        allowed = False
        for route_method, pattern, handler in self._routes:
            m = pattern.match(path)
            if m is None:
                continue
            if route_method != method:
                allowed = True
                continue
            return handler, m.groupdict()
        if allowed:
            return _method_not_allowed, {}
        return None


def _method_not_allowed(_: Request) -> Response:
    return Response.of_json({"error": "Method not allowed"}, 405)


def parse_body(headers: dict[str, str], body: bytes) -> tuple[dict[str, list[str]], Any]:
    """Form fields and JSON from a request body (url-encoded, multipart text fields, JSON)."""
    ctype = headers.get("content-type", "")
    if not body:
        return {}, None
    if ctype.startswith("application/json"):
        try:
            return {}, json.loads(body)
        except ValueError:
            return {}, None
    if ctype.startswith("application/x-www-form-urlencoded"):
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True), None
    if ctype.startswith("multipart/form-data"):
        return _parse_multipart(ctype, body), None
    return {}, None


def _parse_multipart(ctype: str, body: bytes) -> dict[str, list[str]]:
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        return {}
    out: dict[str, list[str]] = {}
    for part in body.split(b"--" + m.group(1).encode()):
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        name = re.search(rb'name="([^"]*)"', head)
        if name is None:
            continue
        text = value[:-2] if value.endswith(b"\r\n") else value
        out.setdefault(name.group(1).decode(), []).append(text.decode("utf-8", "replace"))
    return out


class _QuietOnHangUp(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets a kept-alive connection while the handler waits for its next
        # request (a cancelled long poll) is no error here; anything else is still printed.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """Serves a :class:`Router` on 127.0.0.1 (port 0 by default) from a daemon thread."""

    def __init__(self, router: Router, faults: FaultInjector | None = None, port: int = 0) -> None:
        self.router = router
        self.faults = faults or FaultInjector()
        self.requests: list[tuple[str, str]] = []
        self.handled: list[tuple[str, str]] = []  # requests whose work is done, in order
        self.served = threading.Condition()  # notified after every handled request
        self._stopping = threading.Event()
        self._httpd = _QuietOnHangUp(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_request(self, method: str, path_regex: str, timeout: float = 10.0) -> bool:
        """Block until a request matching ``method`` and ``path_regex`` has been handled."""
        pattern = re.compile(path_regex)
        with self.served:
            return self.served.wait_for(
                lambda: any(m == method and pattern.search(p) for m, p in self.handled), timeout
            )

    def _mark_handled(self, req: Request) -> None:
        if req.handled:
            return
        req.handled = True
        with self.served:
            self.handled.append((req.method, req.path))
            self.served.notify_all()

    def dispatch(self, req: Request) -> Response | None:
        try:
            return self._dispatch(req)
        finally:
            self._mark_handled(req)

    def _dispatch(self, req: Request) -> Response | None:
        """Apply any armed fault, then route. ``None`` means: drop the connection."""
        self.requests.append((req.method, req.path))
        fault = self.faults.take(req.method, req.path)
        if fault is not None:
            if fault.kind == "status":
                body = fault.body if fault.body is not None else {"error": f"injected {fault.status}"}
                return Response.of_json(body, fault.status, dict(fault.headers))
            if fault.kind == "malformed":
                return Response(200, b'{"id": "1", "broken": ', {"Content-Type": "application/json"})
            if fault.kind == "raw":
                body = fault.body if isinstance(fault.body, bytes) else str(fault.body or "").encode()
                return Response(fault.status, body, dict(fault.headers))
            if fault.kind in ("hang", "drop"):
                self._stopping.wait(fault.seconds)
                return None
            if fault.kind == "delay":
                self._stopping.wait(fault.seconds)
        found = self.router.route(req.method, req.path)
        if found is None:
            return Response.of_json({"error": "Record not found"}, 404)
        handler, groups = found
        req.match = groups
        try:
            response = handler(req)
        except HttpError as err:
            response = Response.of_json(err.payload, err.status, err.headers)
        if fault is not None and fault.kind == "delay_after":
            self._mark_handled(req)  # the work is done: let waiters see it before we answer
            self._stopping.wait(fault.seconds)
        return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms a request on loopback keep-alive connections).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # the emulators are quiet; tests read server.requests instead

            def _serve(self) -> None:
                split = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                form, payload = parse_body(headers, body)
                req = Request(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers=headers,
                    body=body,
                    form=form,
                    json=payload,
                )
                resp = server.dispatch(req)
                if resp is None:
                    self.close_connection = True
                    return
                try:
                    self.send_response(resp.status)
                    for key, value in resp.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(resp.body)))
                    self.end_headers()
                    self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up first (a timed-out or cancelled long poll): nobody to tell.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return _Handler
