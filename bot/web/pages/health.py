"""Health: per platform whether the bot keeps up, the backlogs, and the freeze switch.

The example page: a GET that presents one operation's ``Result`` and POSTs that run another (the
guard has checked their form token) and redirect back with its message."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import health as health_ops
from bot.ops import safety
from bot.web.deps import curator, deps, now
from bot.web.pages import Page
from bot.web.render import back, render


def show(request: Request) -> Response:
    d = deps(request)
    result = health_ops.health(d.store, d.settings, now(request))
    return render(request, "health.html", page=PAGE.name, result=result, health=result.data)


def freeze(request: Request) -> Response:
    d = deps(request)
    return back(request, PAGE.path, safety.freeze(d.store, d.settings, curator(request), now(request)))


def unfreeze(request: Request) -> Response:
    d = deps(request)
    return back(request, PAGE.path, safety.unfreeze(d.store, d.settings, curator(request), now(request)))


PAGE = Page(
    name="health",
    path="/health",
    title_key="health",
    routes=[
        Route("/health", show, methods=["GET"]),
        Route("/health/freeze", freeze, methods=["POST"]),
        Route("/health/unfreeze", unfreeze, methods=["POST"]),
    ],
)
