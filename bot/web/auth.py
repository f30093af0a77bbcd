"""Who may use the console, checked before any page runs.

The guard reads the session cookie (a random id signed with the deployment's secret; the session
itself lives in the store), refuses every state change whose form token (CSRF) is missing or not
this browser's, and sends anyone not signed in to the sign-in page. Signing in takes a single-use
link from the bot; its page asks for one press of a button, so a link preview fetched by a chat
app does not use the link up."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, quote

import anyio.to_thread
from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.ops import web_access
from bot.web.deps import WebState, deps, now, session
from bot.web.render import redirect, render

SESSION_COOKIE = "coalesce_session"
VISITOR_COOKIE = "coalesce_visitor"  # before sign-in: the form token is derived from it
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC = ("/sign-in", "/static/")
MAX_BODY = 8 * 1024 * 1024  # an imported file fits; a body beyond this is refused unread
COOKIE_DAYS = 30  # the browser keeps the cookie; the store's idle expiry decides much sooner


def _signer(secret: str, purpose: str) -> Signer:
    return Signer(secret, salt=f"coalesce-{purpose}")


def sign(secret: str, purpose: str, value: str) -> str:
    return _signer(secret, purpose).sign(value).decode()


def unsign(secret: str, purpose: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return _signer(secret, purpose).unsign(value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def visitor_token(secret: str, visitor: str) -> str:
    return hmac.new(secret.encode(), f"visitor:{visitor}".encode(), hashlib.sha256).hexdigest()


def _public(path: str) -> bool:
    return path == "/sign-in" or path.startswith(("/sign-in/", "/static/"))


class Guard:
    """Session, form token and sign-in, for every HTTP request before it reaches a page."""

    def __init__(self, app: ASGIApp, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        secret = self.state.secret
        sid = unsign(secret, "session", request.cookies.get(SESSION_COOKIE))
        view = None
        if sid is not None:
            d = self.state.deps
            found = await anyio.to_thread.run_sync(
                lambda: web_access.session(d.store, d.settings, sid, d.clock.now())
            )
            view = found.data if found.ok else None
        visitor = unsign(secret, "visitor", request.cookies.get(VISITOR_COOKIE))
        new_visitor = None
        if view is None and visitor is None:
            visitor = new_visitor = secrets.token_urlsafe(24)
        state = scope.setdefault("state", {})
        state["session"] = view
        state["session_id"] = sid if view is not None else None
        state["csrf"] = view.csrf_token if view is not None else visitor_token(secret, visitor or "")

        if scope["method"] not in SAFE_METHODS:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("Request too large", status_code=413)(scope, receive, send)
                return
            receive = _replay(body, receive)
            given = request.headers.get(CSRF_HEADER) or await _form_token(scope, body)
            if not given or not hmac.compare_digest(given.encode(), state["csrf"].encode()):
                await _refuse(scope, receive, send)
                return
        path = str(scope["path"])
        if view is None and not _public(path):
            if scope["method"] in SAFE_METHODS:
                query = scope["query_string"].decode("latin-1")
                target = path + (f"?{query}" if query else "")
                response: Response = RedirectResponse(f"/sign-in?next={quote(target, safe='/')}", 303)
            else:
                response = PlainTextResponse("Sign in first", status_code=403)
            await _with_visitor(response, new_visitor, self.state)(scope, receive, send)
            return
        if new_visitor is None:
            await self.app(scope, receive, send)
            return
        cookie = _visitor_cookie(new_visitor, self.state)

        async def send_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_cookie)


def _visitor_cookie(visitor: str, state: WebState) -> str:
    response = Response()
    response.set_cookie(
        VISITOR_COOKIE,
        sign(state.secret, "visitor", visitor),
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
        path="/",
    )
    return response.headers["set-cookie"]


def _with_visitor(response: Response, visitor: str | None, state: WebState) -> Response:
    if visitor is not None:
        response.raw_headers.append((b"set-cookie", _visitor_cookie(visitor, state).encode("latin-1")))
    return response


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the page the body the guard read, then listens for a disconnect."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_token(scope: Scope, body: bytes) -> str | None:
    kind = Request(scope).headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
        return values[0] if values else None
    if kind == "multipart/form-data":
        form = await Request(scope, _replay(body, _no_more)).form()
        value = form.get(CSRF_FIELD)
        await form.close()
        return value if isinstance(value, str) else None
    return None


async def _no_more() -> Message:
    return {"type": "http.disconnect"}


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    """403 and nothing changed: the page never ran."""
    request = Request(scope, receive)
    response: Response
    try:
        response = render(request, "forbidden.html", status=403, reason="forbidden_csrf")
    except Exception:  # the refusal stands even when its page cannot be drawn
        response = PlainTextResponse("Forbidden: missing or wrong form token", status_code=403)
    await response(scope, receive, send)


# -- the sign-in pages ---------------------------------------------------------------------------


def sign_in_page(request: Request) -> Response:
    if session(request) is not None:
        return redirect(request, web_access.local_path(request.query_params.get("next")))
    target = request.query_params.get("next", "")
    return render(request, "sign_in.html", page="sign-in", token=None, next=target)


def sign_in_confirm(request: Request) -> Response:
    token = request.path_params["token"]
    target = web_access.local_path(request.query_params.get("next"))
    return render(request, "sign_in.html", page="sign-in", token=token, next=target)


async def sign_in(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "")
    target = web_access.local_path(str(form.get("next") or ""))
    d = deps(request)
    result = await anyio.to_thread.run_sync(
        lambda: web_access.redeem(d.store, d.settings, token, now(request))
    )
    if not result.ok or result.data is None:
        return render(
            request, "sign_in.html", status=403, page="sign-in", token=None, next="", error=result.message
        )
    old = request.scope["state"].get("session_id")
    if old:  # a new session replaces this browser's old one
        await anyio.to_thread.run_sync(lambda: web_access.sign_out(d.store, old, now(request)))
    response = redirect(request, target, message=result.message)
    state: WebState = request.app.state.web
    response.set_cookie(
        SESSION_COOKIE,
        sign(state.secret, "session", result.data.session_id),
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
        path="/",
    )
    return response


def _signed_out(request: Request, message: str) -> Response:
    response = redirect(request, "/sign-in", message=message)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def sign_out(request: Request) -> Response:
    sid = request.scope["state"].get("session_id")
    result = web_access.sign_out(deps(request).store, sid, now(request)) if sid else None
    return _signed_out(request, result.message if result else "")


def sign_out_everywhere(request: Request) -> Response:
    view = session(request)
    assert view is not None  # the guard lets only the signed-in here
    d = deps(request)
    result = web_access.sign_out_everywhere(d.store, d.settings, view.curator, now(request))
    return _signed_out(request, result.message)


async def choose_language(request: Request) -> Response:
    form = await request.form()
    view = session(request)
    assert view is not None
    d = deps(request)
    chosen = str(form.get("language") or "")
    await anyio.to_thread.run_sync(lambda: web_access.set_language(d.store, view.id, chosen))
    return redirect(request, web_access.local_path(str(form.get("next") or "")))


def forbidden(request: Request, reason: str = "forbidden_csrf") -> HTMLResponse:
    return render(request, "forbidden.html", status=403, reason=reason)


ROUTES: list[Route] = [
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-in/{token}", sign_in_confirm, methods=["GET"]),
    Route("/sign-out", sign_out, methods=["POST"]),
    Route("/sign-out-everywhere", sign_out_everywhere, methods=["POST"]),
    Route("/language", choose_language, methods=["POST"]),
]
