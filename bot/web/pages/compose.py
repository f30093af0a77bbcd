"""Compose: a curator writes a post or thread for the central account, sees as she types how it
fits on each platform (the preview is asked of the server, which counts as the publisher will),
schedules it or sends it now; the posts waiting for approvals can be approved, rejected or
cancelled here. Every action is an operation of bot.ops.originals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ops import originals as ops
from bot.ops.result import Result, jsonable, usage
from bot.series.original_text import PlatformFit
from bot.series.originals import APPROVED, PENDING, PUBLISHING, OriginalView
from bot.series.schedule import zone
from bot.web.deps import NO_SERIES, curator, deps, now, path_id, series
from bot.web.pages import Page
from bot.web.render import back, redirect, render, translator


def _deps(request: Request) -> ops.Deps | None:
    runner = series(request)
    return None if runner is None else ops.Deps(deps(request).store, deps(request).settings, runner.catalog)


def _local(tz: str) -> Callable[[datetime], str]:
    return lambda at: at.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


def status(t: Callable[..., str], o: OriginalView, tz: str) -> str:
    """Where the post stands, in one sentence, in the curator's language (the page's words for
    what ``bot.ops.original_messages.status`` says in English)."""
    local = _local(tz)
    if o.state == PENDING:
        said = t("cs_waits_one" if o.needs == 1 else "cs_waits_many", n=o.needs)
        if o.due_at is not None:
            said += t("cs_then_at", at=local(o.due_at))
    elif o.state == APPROVED:
        said = t("cs_approved_at", at=local(o.due_at)) if o.due_at else t("cs_approved")
    else:
        said = t("cs_state_" + o.state)
    return t("cs_status", id=o.id, said=said)


def fit_words(t: Callable[..., str], f: PlatformFit) -> str:
    """How the post fits one platform, in the curator's language (what
    ``bot.ops.original_messages.fit_line`` says in English)."""
    name = f.platform.value
    if not f.parts:
        return name
    unit = t("cs_unit_" + f.counting if f.counting in ("chars", "graphemes", "utf16") else "cs_unit_chars")
    if f.link_length:
        unit += t("cs_links_count", n=f.link_length)
    if not f.fits:
        over = [str(i) for i, p in enumerate(f.parts, 1) if not p.fits]
        where = t("cs_part", parts=", ".join(over)) if over else t("cs_parts", n=len(f.parts))
        return t("cs_fit_not", platform=name, where=where, max=f.max_length, unit=unit)
    longest = max(p.length for p in f.parts)
    if f.thread:
        return t("cs_fit_thread", platform=name, n=len(f.parts), longest=longest, max=f.max_length, unit=unit)
    return t("cs_fit_one", platform=name, longest=longest, max=f.max_length, unit=unit)


def show(request: Request) -> Response:
    found = _deps(request)
    if found is None:
        return back(request, "/", usage(NO_SERIES))
    listed = ops.listing(found, states=[PENDING, APPROVED, PUBLISHING], limit=100)
    tz = found.settings.series.timezone
    t = translator(request)
    return render(
        request,
        "compose.html",
        page=PAGE.name,
        platforms=[p.value for p in found.settings.enabled_platforms()],
        posts=listed.data.items if listed.data else (),
        frozen=bool(listed.data and listed.data.frozen),
        me=curator(request),
        timezone=tz,
        local=_local(tz),
        said=lambda o: status(t, o, tz),
    )


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {
        "text": str(form.get("text", "")).replace("\x00", ""),
        "platforms": [str(v) for v in form.getlist("platform")],
        "when": str(form.get("when", "now")),
        "at": str(form.get("at", ""))[:40],
        "approve": form.get("approve") == "yes",
        "reason": str(form.get("reason", "")).replace("\x00", "").strip()[:500] or None,
    }


def _local_time(text: str, tz: str) -> datetime | None:
    """A ``datetime-local`` field's value, read in the community's time zone."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    return naive.replace(tzinfo=zone(tz)) if naive.tzinfo is None else naive


def _when(fields: dict[str, Any], tz: str) -> tuple[datetime | None, str | None]:
    """The time a form asks for (None: now), or what is wrong with it."""
    if fields["when"] != "at":
        return None, None
    at = _local_time(fields["at"], tz)
    return (at, None) if at is not None else (None, "choose a date and time")


def _answer(request: Request, result: Result[Any]) -> Response:
    """Back to the page with the operation's message; when it worked on a post, the post's status
    in the curator's language (the operation says it in English, for the command line)."""
    data = result.data
    post = data.post if isinstance(data, ops.Original) else data
    if result.ok and isinstance(post, OriginalView):
        tz = deps(request).settings.series.timezone
        return redirect(request, PAGE.path, message=status(translator(request), post, tz))
    return back(request, PAGE.path, result)


async def preview(request: Request) -> Response:
    found = await run_in_threadpool(_deps, request)
    if found is None:
        return JSONResponse({"outcome": "refused", "message": NO_SERIES}, status_code=503)
    fields = await _form(request)
    result = await run_in_threadpool(ops.preview, found, fields["text"], fields["platforms"] or None)
    body = result.as_json()
    if result.data is not None:  # the words the page shows beside each platform
        t = translator(request)
        body["lines"] = [fit_words(t, f) for f in result.data.platforms]
    return JSONResponse(jsonable(body), status_code=200 if result.ok else 400)


async def create(request: Request) -> Response:
    fields = await _form(request)
    return await run_in_threadpool(_create, request, fields)


def _create(request: Request, fields: dict[str, Any]) -> Response:
    found = _deps(request)
    if found is None:
        return back(request, "/", usage(NO_SERIES))
    at, wrong = _when(fields, found.settings.series.timezone)
    if wrong is not None:
        return back(request, PAGE.path, usage(wrong))
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
    return _answer(request, result)


def _step(request: Request, fields: dict[str, Any], verb: str) -> Response:
    """One step on one post: approve, reject, cancel, edit (a new text, its approvals start
    again) or schedule (a new time, or now)."""
    found, oid = _deps(request), path_id(request, "original_id")
    if found is None:
        return back(request, "/", usage(NO_SERIES))
    if oid is None:
        return back(request, PAGE.path, usage("no such original post"))
    at, who = now(request), curator(request)
    result: Result[Any]
    if verb == "edit":
        platforms = fields["platforms"] or None
        result = ops.edit(found, at, who, oid, fields["text"], platforms=platforms)
    elif verb == "schedule":
        due, wrong = _when(fields, found.settings.series.timezone)
        if wrong is not None:
            return back(request, PAGE.path, usage(wrong))
        result = ops.schedule(found, at, who, oid, at=due, send_now=due is None)
    else:
        act = {"approve": ops.approve, "reject": ops.reject, "cancel": ops.cancel}[verb]
        result = act(found, at, who, oid, reason=fields["reason"])
    return _answer(request, result)


def _route(verb: str) -> Route:
    async def step(request: Request) -> Response:
        fields = await _form(request)
        return await run_in_threadpool(_step, request, fields, verb)

    return Route(f"/compose/{{original_id:int}}/{verb}", step, methods=["POST"], name=f"compose_{verb}")


PAGE = Page(
    name="compose",
    path="/compose",
    title_key="compose",
    routes=[
        Route("/compose", show, methods=["GET"]),
        Route("/compose", create, methods=["POST"]),
        Route("/compose/preview", preview, methods=["POST"]),
        *(_route(verb) for verb in ("approve", "reject", "cancel", "edit", "schedule")),
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
        "compose_edit": ("Edit the text", "Editar el texto"),
        "compose_edit_hint": (
            "A new text needs its approvals again.",
            "Un texto nuevo necesita de nuevo sus aprobaciones.",
        ),
        "compose_save": ("Save the new text", "Guardar el texto nuevo"),
        "compose_reschedule": ("Change when it goes out", "Cambiar cuándo sale"),
        "compose_set_time": ("Set the time", "Fijar la hora"),
        "cs_fit_one": (
            "{platform}: fits in one post ({longest} of {max} {unit})",
            "{platform}: cabe en una publicación ({longest} de {max} {unit})",
        ),
        "cs_fit_thread": (
            "{platform}: a thread of {n} posts (longest {longest} of {max} {unit})",
            "{platform}: un hilo de {n} publicaciones (la más larga {longest} de {max} {unit})",
        ),
        "cs_fit_not": (
            "{platform}: does NOT fit ({where}; limit {max} {unit})",
            "{platform}: NO cabe ({where}; límite {max} {unit})",
        ),
        "cs_part": ("part {parts}", "parte {parts}"),
        "cs_parts": ("{n} parts", "{n} partes"),
        "cs_unit_chars": ("characters", "caracteres"),
        "cs_unit_graphemes": ("graphemes", "grafemas"),
        "cs_unit_utf16": ("characters", "caracteres"),
        "cs_links_count": (", links count {n}", ", los enlaces cuentan {n}"),
        "cs_status": ("Original post #{id} {said}.", "La publicación propia #{id} {said}."),
        "cs_waits_one": ("waits for {n} more approval", "espera {n} aprobación más"),
        "cs_waits_many": ("waits for {n} more approvals", "espera {n} aprobaciones más"),
        "cs_then_at": (", then goes out at {at}", " y después sale el {at}"),
        "cs_approved": ("is approved; choose when it goes out", "está aprobada; elige cuándo sale"),
        "cs_approved_at": ("is approved and goes out at {at}", "está aprobada y sale el {at}"),
        "cs_state_publishing": ("is being published", "se está publicando"),
        "cs_state_published": ("is published", "está publicada"),
        "cs_state_rejected": ("is rejected", "está rechazada"),
        "cs_state_cancelled": ("is cancelled", "está cancelada"),
        "compose_frozen": (
            "The account is frozen: nothing goes out until it is unfrozen.",
            "La cuenta está congelada: nada sale hasta descongelarla.",
        ),
    },
)
