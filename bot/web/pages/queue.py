"""Queue: the candidates as the Telegram console shows them (the same card, word for word), with
approve, reject with a reason, snooze, bulk reject, filters, keyboard shortcuts and live updates.
Every decision is a ``bot.ops.queue`` operation; this page only presents it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.console.cards import compose_card
from bot.curation.flags import view_flags
from bot.curation.queue import CandidateView
from bot.domain import CandidateState, Platform
from bot.errors import QueueError
from bot.ops import queue as q_ops
from bot.ops.result import Result
from bot.web.deps import WebDeps, curator, deps, now
from bot.web.pages import Page
from bot.web.render import back, render

PAGE_SIZE = 50  # cards on one page, as `queue list` shows: the page stays quick on a phone
FLAG_SCAN = 1000  # with a flag filter, how many candidates are looked through
STATES = [s.value for s in CandidateState]


def _snooze(d: WebDeps) -> timedelta:
    return timedelta(hours=d.settings.curation.snooze_hours)


def card_of(d: WebDeps, view: CandidateView) -> dict[str, Any]:
    """What the template draws for one candidate: the Telegram card and its flags' codes."""
    at = d.clock.now()
    flags = view_flags(d.settings.trust.flags, view, at)
    card = compose_card(
        view,
        at,
        hashtags=d.settings.community.hashtags,
        snooze=_snooze(d),
        flags=[f.text for f in flags],
    )
    actions = {b.verb for row in card.buttons for b in row if b.verb}
    return {"view": view, "card": card, "flags": [f.code for f in flags], "actions": actions}


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    return {
        "state": q.get("state", "") if q.get("state", "") in STATES else "",
        "platform": q.get("platform", "") if q.get("platform", "") in {p.value for p in Platform} else "",
        "flag": q.get("flag", "")[:40],
    }


def show(request: Request) -> Response:
    d = deps(request)
    chosen = _filters(request)
    limit = FLAG_SCAN if chosen["flag"] else PAGE_SIZE
    result = q_ops.list_queue(
        d.curation,
        state=chosen["state"] or None,
        platform=chosen["platform"] or None,
        limit=limit,
        history=True,  # the Telegram card's approvers, reasons and amplifications, word for word
    )
    cards = [card_of(d, v) for v in (result.data.items if result.data else ())]
    if chosen["flag"]:
        cards = [c for c in cards if chosen["flag"] in c["flags"]][:PAGE_SIZE]
    return render(
        request,
        "queue.html",
        page=PAGE.name,
        result=result,
        cards=cards,
        chosen=chosen,
        states=STATES,
        platforms=[p.value for p in Platform],
        flag_codes=FLAG_CODES,
    )


def card(request: Request) -> Response:
    """One card, as HTML, for the page to swap in when a live update says it changed."""
    d = deps(request)
    try:
        view = d.curation.show(int(request.path_params["id"]))
    except (QueueError, ValueError):
        return HTMLResponse("", status_code=404)
    html = _card_html(request, view)
    return HTMLResponse(html)


def _card_html(request: Request, view: CandidateView) -> str:
    response = render(request, "queue_card_only.html", item=card_of(deps(request), view))
    return bytes(response.body).decode()


def _answer(request: Request, result: Result[CandidateView]) -> Response:
    """JSON (with the new card) for the page's script; a redirect with a message for a plain form."""
    hook = deps(request).on_decided
    if result.ok and hook is not None:
        hook()
    if "application/json" in request.headers.get("accept", ""):
        body: dict[str, Any] = {"ok": result.ok, "message": result.message}
        if result.data is not None:
            body["id"] = result.data.id
            body["card"] = _card_html(request, result.data)
        return JSONResponse(body, status_code=200 if result.ok else 409)
    return back(request, PAGE.path + request.headers.get("x-queue-filters", ""), result)


def _id(request: Request) -> int:
    return int(request.path_params["id"])


async def _reason(request: Request) -> str | None:
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    return reason[:500] or None


def approve(request: Request) -> Response:
    d = deps(request)
    return _answer(request, q_ops.approve(d.curation, _id(request), curator(request), now(request)))


async def reject(request: Request) -> Response:
    import anyio.to_thread

    reason = await _reason(request)
    d = deps(request)
    who, at, cid = curator(request), now(request), _id(request)
    result = await anyio.to_thread.run_sync(lambda: q_ops.reject(d.curation, cid, who, at, reason=reason))
    return _answer(request, result)


def snooze(request: Request) -> Response:
    d = deps(request)
    at = now(request)
    result = q_ops.snooze(d.curation, _id(request), curator(request), at + _snooze(d), at)
    return _answer(request, result)


async def reject_many(request: Request) -> Response:
    import anyio.to_thread

    form = await request.form()
    ids = [int(v) for v in map(str, form.getlist("ids")) if v.isascii() and v.isdigit() and len(v) < 19]
    reason = str(form.get("reason") or "").strip()[:500] or None
    d = deps(request)
    who, at = curator(request), now(request)
    result = await anyio.to_thread.run_sync(
        lambda: q_ops.reject_many(d.curation, ids, who, at, reason=reason)
    )
    hook = d.on_decided
    if result.ok and hook is not None:
        hook()
    return back(request, PAGE.path, result)


FLAG_CODES = (
    "bot",
    "new_account",
    "many_mentions",
    "stranger_replies",
    "patient_info",
    "not_consenting",
    "stranger_nomination",
    "conference",
)

PAGE = Page(
    name="queue",
    path="/queue",
    title_key="queue",
    routes=[
        Route("/queue", show, methods=["GET"]),
        Route("/queue/card/{id:int}", card, methods=["GET"]),
        Route("/queue/{id:int}/approve", approve, methods=["POST"]),
        Route("/queue/{id:int}/reject", reject, methods=["POST"]),
        Route("/queue/{id:int}/snooze", snooze, methods=["POST"]),
        Route("/queue/reject-many", reject_many, methods=["POST"]),
    ],
    strings={
        "queue": ("Queue", "Cola"),
        "filters": ("Filters", "Filtros"),
        "state": ("State", "Estado"),
        "platform": ("Platform", "Plataforma"),
        "flag": ("Flag", "Señal"),
        "any": ("any", "cualquiera"),
        "open_work": ("open work", "trabajo abierto"),
        "apply": ("Show", "Mostrar"),
        "approve": ("Approve", "Aprobar"),
        "reject": ("Reject", "Rechazar"),
        "reject_reason": ("Reason (optional)", "Motivo (opcional)"),
        "snooze": ("Snooze", "Posponer"),
        "retry": ("Retry", "Reintentar"),
        "open": ("Open", "Abrir"),
        "select": ("Select #{id} for bulk reject", "Seleccionar #{id} para rechazo en bloque"),
        "bulk": ("Reject the selected", "Rechazar los seleccionados"),
        "bulk_reason": ("Reason for all selected", "Motivo para todos los seleccionados"),
        "keys": (
            "Keys: j / k next / previous, a approve, r reject, s snooze.",
            "Teclas: j / k siguiente / anterior, a aprobar, r rechazar, s posponer.",
        ),
        "empty": ("Nothing here.", "Nada por aquí."),
        "live_on": ("Live: decisions made anywhere appear here.", "En vivo: las decisiones aparecen aquí."),
    },
)
