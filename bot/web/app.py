"""The console as an ASGI app: ``create_app(deps)`` puts the pages of ``PAGES`` behind the guard
(sessions, form tokens, sign-in) and the security headers, with the static files beside them.

Adding a page: a module in ``bot/web/pages/`` exposing ``PAGE = Page(...)``, its template in
``bot/web/templates/``, and one line in ``PAGES`` (its place there is its place in the nav)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.ops.web_access import signing_secret
from bot.web import i18n
from bot.web.auth import ROUTES as AUTH_ROUTES
from bot.web.auth import Guard
from bot.web.deps import WebDeps as WebDeps
from bot.web.deps import WebState, web
from bot.web.live import ROUTES as LIVE_ROUTES
from bot.web.live import LiveFeed
from bot.web.pages import Page
from bot.web.render import environment, redirect, render
from bot.web.security import SecurityHeaders

# The pages, in the order the navigation shows them: one line each.
PAGES: list[str] = [
    "bot.web.pages.queue",
    "bot.web.pages.calendar",  # what goes out when
    "bot.web.pages.compose",  # original posts
    "bot.web.pages.conferences",  # champions, meet-ups, highlights, report
    "bot.web.pages.chats",  # scheduled chats and their recaps
    "bot.web.pages.opportunities",
    "bot.web.pages.interviews",
    "bot.web.pages.members",
    "bot.web.pages.report",
    "bot.web.pages.audit",
    "bot.web.pages.health",
]

STATIC = Path(__file__).with_name("static")


def load_pages(names: Sequence[str]) -> list[Page]:
    pages = []
    for name in names:
        page = getattr(importlib.import_module(name), "PAGE", None)
        if not isinstance(page, Page):
            raise TypeError(f"{name} has no PAGE = Page(...)")
        pages.append(page)
    return pages


def home(request: Request) -> Response:
    first = next((p.path for p in web(request).pages if p.nav), "/health")
    return redirect(request, first)


async def not_found(request: Request, exc: Exception) -> Response:
    try:
        return render(request, "not_found.html", status=404)
    except Exception:  # a page that cannot be drawn still answers 404
        return PlainTextResponse("Not found", status_code=404)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await not_found(request, exc)
    return PlainTextResponse(str(getattr(exc, "detail", "")) or "Error", status_code=status)


def create_app(deps: WebDeps, pages: Sequence[str] = PAGES) -> Starlette:
    """The console over ``deps``. The cookie secret is resolved now (config, else the store's)."""
    loaded = load_pages(pages)
    strings = dict(i18n.STRINGS)
    for page in loaded:
        strings.update(page.strings)
    secret = deps.secret or signing_secret(deps.store, deps.settings, deps.clock.now())
    https = deps.settings.web.address.startswith("https://")
    state = WebState(
        deps=deps,
        secret=secret,
        templates=environment(),
        pages=loaded,
        strings=strings,
        secure_cookies=https,
    )
    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET"]),
        *AUTH_ROUTES,
        *LIVE_ROUTES,
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    for page in loaded:
        routes.extend(page.routes)
    feed = LiveFeed(deps.store)
    state.extras["live"] = feed

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await feed.stop()  # open event streams end, so the server stops at once

    app = Starlette(
        lifespan=lifespan,
        routes=routes,
        middleware=[Middleware(SecurityHeaders, https=https), Middleware(Guard, state=state)],
        exception_handlers={404: not_found, HTTPException: http_error},
    )
    app.state.web = state
    return app
