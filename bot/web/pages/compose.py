"""Compose: a curator writes a post or thread for the central account, sees as she types how it
fits on each platform (the preview is asked of the server, which counts as the publisher will),
schedules it or sends it now; the posts waiting for approvals can be approved, rejected or
cancelled here. Every action is an operation of bot.ops.originals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ops import original_messages as say
from bot.ops import originals as ops
from bot.ops.result import jsonable
from bot.series.originals import APPROVED, PENDING, PUBLISHING
from bot.series.schedule import zone
from bot.web.deps import curator, deps, now
from bot.web.pages import Page
from bot.web.render import redirect, render


def _deps(request: Request) -> ops.Deps | None:
    d = deps(request)
    if d.series_runner is None:
        return None
    return ops.Deps(d.store, d.settings, d.series_runner().catalog)


def _unavailable(request: Request) -> Response:
    return redirect(request, "/", message="the console was started without the series", kind="error")


def show(request: Request) -> Response:
    found = _deps(request)
    if found is None:
        return _unavailable(request)
    listed = ops.listing(found, states=[PENDING, APPROVED, PUBLISHING], limit=100)
    tz = found.settings.series.timezone
    return render(
        request,
        "compose.html",
        page=PAGE.name,
        platforms=[p.value for p in found.settings.enabled_platforms()],
        posts=listed.data.items if listed.data else (),
        frozen=bool(listed.data and listed.data.frozen),
        me=curator(request),
        timezone=tz,
        local=lambda at: at.astimezone(zone(tz)).strftime("%a %d %b %H:%M"),
        said=say.status,
    )


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {
        "text": str(form.get("text", "")),
        "platforms": [str(v) for v in form.getlist("platform")],
        "when": str(form.get("when", "now")),
        "at": str(form.get("at", "")),
        "approve": form.get("approve") == "yes",
    }


def _local_time(text: str, tz: str) -> datetime | None:
    """A ``datetime-local`` field's value, read in the community's time zone."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    return naive.replace(tzinfo=zone(tz)) if naive.tzinfo is None else naive


async def preview(request: Request) -> Response:
    found = await run_in_threadpool(_deps, request)
    if found is None:
        return JSONResponse({"outcome": "refused", "message": "no series"}, status_code=503)
    fields = await _form(request)
    result = await run_in_threadpool(ops.preview, found, fields["text"], fields["platforms"] or None)
    body = result.as_json()
    if result.data is not None:  # the words the page shows beside each platform
        body["lines"] = [say.fit_line(f) for f in result.data.platforms]
    return JSONResponse(jsonable(body), status_code=200 if result.ok else 400)


async def create(request: Request) -> Response:
    fields = await _form(request)
    return await run_in_threadpool(_create, request, fields)


def _create(request: Request, fields: dict[str, Any]) -> Response:
    found = _deps(request)
    if found is None:
        return _unavailable(request)
    at = None
    if fields["when"] == "at":
        at = _local_time(fields["at"], found.settings.series.timezone)
        if at is None:
            return redirect(request, PAGE.path, message="choose a date and time", kind="error")
    result = ops.new(
        found,
        now(request),
        curator(request),
        fields["text"],
        platforms=fields["platforms"] or None,
        at=at,
        send_now=fields["when"] == "now",
        approve=fields["approve"],
    )
    return redirect(
        request, PAGE.path, message=result.message.splitlines()[0], kind="ok" if result.ok else "error"
    )


async def decide(request: Request) -> Response:
    form = await request.form()
    reason = str(form.get("reason", "")).strip() or None
    return await run_in_threadpool(_decide, request, reason)


def _decide(request: Request, reason: str | None) -> Response:
    found = _deps(request)
    if found is None:
        return _unavailable(request)
    original_id = int(request.path_params["original_id"])
    act = {"approve": ops.approve, "reject": ops.reject, "cancel": ops.cancel}[request.path_params["verb"]]
    result = act(found, now(request), curator(request), original_id, reason=reason)
    return redirect(request, PAGE.path, message=result.message, kind="ok" if result.ok else "error")


PAGE = Page(
    name="compose",
    path="/compose",
    title_key="compose",
    routes=[
        Route("/compose", show, methods=["GET"]),
        Route("/compose", create, methods=["POST"]),
        Route("/compose/preview", preview, methods=["POST"]),
        Route("/compose/{original_id:int}/{verb:str}", decide, methods=["POST"]),
    ],
    strings={
        "compose": ("Compose", "Redactar"),
        "compose_text": ("Your post", "Tu publicación"),
        "compose_hint": (
            "A line with only --- starts the next post of a thread; longer text is split for you.",
            "Una línea con solo --- empieza la siguiente publicación del hilo; "
            "el texto largo se divide solo.",
        ),
        "compose_platforms": ("Platforms", "Plataformas"),
        "compose_when": ("When", "Cuándo"),
        "compose_now": ("Send now, once approved", "Enviar ya, una vez aprobada"),
        "compose_at": ("At a time", "A una hora"),
        "compose_time": ("Date and time", "Fecha y hora"),
        "compose_approve": ("Add my approval", "Añadir mi aprobación"),
        "compose_submit": ("Save for approval", "Guardar para aprobar"),
        "compose_fit": ("How it fits", "Cómo cabe"),
        "compose_waiting": ("Waiting and scheduled", "En espera y programadas"),
        "compose_none": ("Nothing waiting.", "Nada en espera."),
        "compose_approvals": ("Approvals", "Aprobaciones"),
        "approve": ("Approve", "Aprobar"),
        "reject": ("Reject", "Rechazar"),
        "cancel": ("Cancel", "Cancelar"),
        "reason": ("Reason (optional)", "Motivo (opcional)"),
        "compose_frozen": (
            "The account is frozen: nothing goes out until it is unfrozen.",
            "La cuenta está congelada: nada sale hasta descongelarla.",
        ),
    },
)
