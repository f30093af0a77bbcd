"""Pages as HTML: one Jinja2 environment with autoescape on everywhere, the context every page
gets (who is signed in, the form token, the words in the curator's language, the navigation),
flash messages across a redirect, and the filter that lets only web links from members be links."""

from __future__ import annotations

from typing import Any

import jinja2
import markupsafe
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.links import safe_url
from bot.ops.result import Result
from bot.ops.web_access import local_path
from bot.text import HIDDEN
from bot.web import i18n
from bot.web.deps import deps, session, web

FLASH_COOKIE = "coalesce_flash"
FLASH_SECONDS = 120




def printed(value: object) -> object:
    """What ``{{ value }}`` prints, before escaping: text without ``HIDDEN`` characters."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return value.translate(HIDDEN)
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=printed,
    )
    env.filters["member_href"] = member_href
    return env


def member_href(url: object) -> str | None:
    """A member-supplied link as an href: only http(s) with a host; anything else (javascript:,
    data:, a relative path) gives None, and the template shows the text without a link."""
    return safe_url(url) if isinstance(url, str) else None


def csrf_token(request: Request) -> str:
    """The form token of this browser: its session's, or before sign-in its visitor cookie's."""
    token: str = request.scope.get("state", {}).get("csrf", "")
    return token


def language(request: Request) -> str:
    view = session(request)
    return i18n.language_of(view.language if view else None, deps(request).settings.community.languages)


def translator(request: Request) -> Any:
    state = web(request)
    return i18n.translator(language(request), state.strings, state.untranslated)


def _flash_serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(web(request).secret, salt="coalesce-flash")


def _flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = _flash_serializer(request).loads(raw, max_age=FLASH_SECONDS)
    except BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    return {"message": str(value.get("message", "")), "kind": str(value.get("kind", "ok"))}


def render(
    request: Request, template: str, *, status: int = 200, page: str = "", **context: Any
) -> HTMLResponse:
    """``template`` filled with ``context`` and what every page shows; a flash message waiting
    from the last redirect is shown once."""
    state = web(request)
    view = session(request)
    lang = language(request)
    t = i18n.translator(lang, state.strings, state.untranslated)
    settings = state.deps.settings
    flash = _flash(request)
    html = state.templates.get_template(template).render(
        request=request,
        t=t,
        lang=lang,
        languages=[(code, i18n.NAMES[code]) for code in i18n.offered_languages(settings.community.languages)],
        community=settings.community.name,
        curator=view.curator if view else None,
        csrf=csrf_token(request),
        nav=[(p.name, p.path, t(p.title_key)) for p in state.pages if p.nav],
        page=page,
        flash=flash,
        day=lambda d, year=False: i18n.day_label(lang, d, year=year),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, path: str, *, message: str | None = None, kind: str = "ok") -> Response:
    """A 303 to ``path``, carrying ``message`` to show there once. Every redirect the console
    makes comes here, so none leaves the site: a ``path`` that is not a local path (whatever a
    form field or a header put in it) goes to the home page instead."""
    response = RedirectResponse(local_path(path), status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE,
            # a cookie stays small: the message is cut at 1,000 characters
            _flash_serializer(request).dumps({"message": message[:1000], "kind": kind}),
            max_age=FLASH_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=web(request).secure_cookies,
        )
    return response


def back(request: Request, path: str, result: Result[Any]) -> Response:
    """After a form's POST: back to ``path`` with the operation's message, as a toast that says
    whether it worked — the one pattern every page's forms follow."""
    return redirect(request, path, message=result.message, kind="ok" if result.ok else "error")
