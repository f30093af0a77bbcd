"""Conferences: the conferences the community follows (add, correct, remove), and for each its
champions, its meet-ups, the daily highlights thread (a day's preview per platform, hold and
release) and the report, with its CSV, chart and web page to download. Every action is an
operation of bot.ops.conferences, bot.ops.meetups or bot.ops.gatherings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.conference.model import MATCHES, ConferenceView
from bot.domain import Platform, TextLimits
from bot.ops import conferences as conf_ops
from bot.ops import gatherings
from bot.ops import meetups as meetup_ops
from bot.ops.result import Result, refused, usage
from bot.web.deps import NO_SERIES, curator, deps, now, series
from bot.web.drawing import draw_apart
from bot.web.pages import Page
from bot.web.render import back, render

FIELDS = ("name", "tag", "starts_on", "ends_on", "timezone", "match", "highlights_at")
MEETUP_FIELDS = ("at", "place", "ribbon", "announce")
LONGEST = 2000  # no field of these forms is longer; more is cut before an operation reads it


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").replace("\x00", "").strip()[:LONGEST]


def _home(conference: ConferenceView | None = None) -> str:
    return f"/conferences/{conference.id}" if conference else "/conferences"


def _find(request: Request) -> ConferenceView | None:
    """The conference the path names (by its row id), if it is still in force."""
    wanted = request.path_params.get("id")
    found = conf_ops.list_conferences(deps(request).store).data or []
    return next((c for c in found if c.id == wanted), None)


def _missing() -> Result[Any]:
    return refused("no such conference (it may have been removed)")


def _state(conference: ConferenceView, at: datetime) -> str:
    if conference.is_open(at):
        return "open"
    return "over" if at >= conference.closes else "coming"


def _champion(label: str) -> tuple[str, str]:
    """(handle, platform) of a champion as ``ConferenceView.champions`` lists her: "handle
    (platform)". The platform is the last parenthesis, so a handle with brackets reads right."""
    handle, _, platform = label.rpartition(" (")
    return handle, platform.removesuffix(")")


def _platforms(request: Request) -> dict[Platform, tuple[TextLimits, str]] | None:
    """Each running platform's text limits and markup, as the series see them; None without
    the series (the console was started without them)."""
    runner = series(request)
    if runner is None:
        return None
    return {p: (runner.limits(p), runner.markup(p)) for p in deps(request).settings.enabled_platforms()}


def _default_day(conference: ConferenceView, at: datetime) -> date:
    """The day whose highlights a curator most likely wants: today while the conference is on,
    else its first day (before) or its last (after)."""
    today = conference.local_day(at)
    return min(max(today, conference.starts_on), conference.ends_on)


# -- pages -----------------------------------------------------------------------------------


def show(request: Request) -> Response:
    d, at = deps(request), now(request)
    found = conf_ops.list_conferences(d.store).data or []
    return render(
        request,
        "conferences.html",
        page=PAGE.name,
        conferences=found,
        state=lambda c: _state(c, at),
        matches=MATCHES,
    )


def detail(request: Request) -> Response:
    conference = _find(request)
    if conference is None:
        return back(request, _home(), _missing())
    d, at = deps(request), now(request)
    day = request.query_params.get("day", "").strip()[:40] or _default_day(conference, at).isoformat()
    platforms = _platforms(request)
    preview = (
        gatherings.preview_highlights(d.store, d.settings, conference.tag, day, platforms)
        if platforms is not None
        else usage(NO_SERIES)
    )
    made = gatherings.report(d.store, d.settings, conference.tag)
    return render(
        request,
        "conference.html",
        page=PAGE.name,
        c=conference,
        state=_state(conference, at),
        matches=MATCHES,
        platforms=[p.value for p in d.settings.enabled_platforms()],
        all_platforms=[p.value for p in Platform],
        champions=[_champion(label) for label in conference.champions],
        meetups=meetup_ops.list_meetups(d.store, tag=conference.tag).data or [],
        days=[
            date.fromordinal(n)
            for n in range(conference.starts_on.toordinal(), conference.ends_on.toordinal() + 1)
        ],
        day_value=day,
        preview=preview,
        report=made.data,
    )


# -- the conference ----------------------------------------------------------------------------


def _fields(form: Any) -> conf_ops.ConferenceFields:
    values = {k: _text(form, k) for k in FIELDS}
    # the five a conference must have are given as typed, so an empty one is named in the error;
    # match and highlights time left empty keep their defaults (or the conference's own)
    return conf_ops.ConferenceFields(
        name=values["name"],
        tag=values["tag"],
        starts_on=values["starts_on"],
        ends_on=values["ends_on"],
        timezone=values["timezone"],
        match=values["match"] or None,
        highlights_at=values["highlights_at"] or None,
    )


async def add(request: Request) -> Response:
    fields = _fields(await request.form())
    d, who, at = deps(request), curator(request), now(request)
    result = await run_in_threadpool(conf_ops.add_conference, d.store, d.settings, fields, by=who, now=at)
    return back(request, _home(result.data), result)


async def edit(request: Request) -> Response:
    form = await request.form()
    conference = await run_in_threadpool(_find, request)
    if conference is None:
        return back(request, _home(), _missing())
    d, who, at = deps(request), curator(request), now(request)
    result = await run_in_threadpool(
        conf_ops.edit_conference, d.store, d.settings, conference.tag, _fields(form), by=who, now=at
    )
    return back(request, _home(conference), result)


def remove(request: Request) -> Response:
    conference = _find(request)
    if conference is None:
        return back(request, _home(), _missing())
    d = deps(request)
    result = conf_ops.remove_conference(
        d.store, d.settings, conference.tag, by=curator(request), now=now(request)
    )
    return back(request, _home() if result.ok else _home(conference), result)


# -- champions ---------------------------------------------------------------------------------


async def _champion_change(request: Request, change: Any) -> Response:
    form = await request.form()
    conference = await run_in_threadpool(_find, request)
    if conference is None:
        return back(request, _home(), _missing())
    platform, handle = _text(form, "platform"), _text(form, "handle")
    if not handle:
        return back(request, _home(conference), usage("give the member's handle, like maria@med.example"))
    d, who, at = deps(request), curator(request), now(request)
    result = await run_in_threadpool(
        change, d.store, d.settings, conference.tag, platform, handle, by=who, now=at
    )
    return back(request, _home(conference), result)


async def champion_add(request: Request) -> Response:
    return await _champion_change(request, conf_ops.add_champion)


async def champion_remove(request: Request) -> Response:
    return await _champion_change(request, conf_ops.remove_champion)


# -- meet-ups ----------------------------------------------------------------------------------


async def meetup_add(request: Request) -> Response:
    form = await request.form()
    conference = await run_in_threadpool(_find, request)
    if conference is None:
        return back(request, _home(), _missing())
    values = {k: _text(form, k) for k in MEETUP_FIELDS}
    fields = meetup_ops.MeetupFields(
        tag=conference.tag,
        at=values["at"],
        place=values["place"],
        ribbon=values["ribbon"],
        announce=values["announce"] or None,
    )
    d, who, at = deps(request), curator(request), now(request)
    result = await run_in_threadpool(meetup_ops.add_meetup, d.store, d.settings, fields, by=who, now=at)
    return back(request, _home(conference), result)


def meetup_remove(request: Request) -> Response:
    conference = _find(request)
    if conference is None:
        return back(request, _home(), _missing())
    d = deps(request)
    wanted = int(request.path_params["meetup"])
    listed = meetup_ops.list_meetups(d.store, tag=conference.tag).data or []
    if not any(x.id == wanted for x in listed):  # only this conference's, from its own page
        return back(request, _home(conference), refused(f"no meet-up #{wanted} at #{conference.tag}"))
    result = meetup_ops.remove_meetup(d.store, d.settings, wanted, by=curator(request), now=now(request))
    return back(request, _home(conference), result)


# -- the daily highlights ----------------------------------------------------------------------


async def _highlights(request: Request, operation: Any) -> Response:
    form = await request.form()
    conference = await run_in_threadpool(_find, request)
    if conference is None:
        return back(request, _home(), _missing())
    d, who = deps(request), curator(request)
    day = _text(form, "day")[:40]
    platforms = list(d.settings.enabled_platforms())
    result = await run_in_threadpool(
        operation, d.store, d.settings, d.clock, conference.tag, day, platforms, by=who
    )
    where = f"{_home(conference)}?day={day}" if day.isascii() and day.replace("-", "").isdigit() else ""
    return back(request, (where or _home(conference)) + "#highlights", result)


async def hold(request: Request) -> Response:
    return await _highlights(request, gatherings.hold_highlights)


async def release(request: Request) -> Response:
    return await _highlights(request, gatherings.release_highlights)


# -- the report's files ------------------------------------------------------------------------


def _report(request: Request) -> Result[Any]:
    conference = _find(request)
    if conference is None:
        return _missing()
    d = deps(request)
    return gatherings.report(d.store, d.settings, conference.tag)


def _refused(result: Result[Any]) -> Response:
    return Response(result.message, status_code=400, media_type="text/plain; charset=utf-8")


def _download(body: str | bytes, name: str, media_type: str) -> Response:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def report_csv(request: Request) -> Response:
    result = _report(request)
    if result.data is None:
        return _refused(result)
    tag = result.data.conference.tag
    return _download(gatherings.report_csv(result.data), f"{tag}-report.csv", "text/csv; charset=utf-8")


def chart(request: Request) -> Response:
    result = _report(request)
    if result.data is None:
        return _refused(result)
    if not result.data.posts:  # a chart of nothing says less than the page's own words
        return _refused(refused("no conference posts yet: nothing to draw"))
    return Response(_chart(result.data), media_type="image/png")


def report_page(request: Request) -> Response:
    """The report as the self-contained web page ``conferences report --html`` writes, to keep or
    put on a website. Sent as a file to save, never shown here: it carries its own style and its
    chart inline, which the console's pages do not."""
    result = _report(request)
    if result.data is None:
        return _refused(result)
    picture = _chart(result.data) if result.data.posts else None
    page = gatherings.report_page(result.data, picture)
    return _download(page, f"{result.data.conference.tag}-report.html", "application/octet-stream")


def _chart(found: Any) -> bytes:
    return draw_apart(gatherings.report_chart, found)


PAGE = Page(
    name="conferences",
    path="/conferences",
    title_key="conferences",
    routes=[
        Route("/conferences", show, methods=["GET"]),
        Route("/conferences/add", add, methods=["POST"]),
        Route("/conferences/{id:int}", detail, methods=["GET"]),
        Route("/conferences/{id:int}/edit", edit, methods=["POST"]),
        Route("/conferences/{id:int}/remove", remove, methods=["POST"]),
        Route("/conferences/{id:int}/champions/add", champion_add, methods=["POST"]),
        Route("/conferences/{id:int}/champions/remove", champion_remove, methods=["POST"]),
        Route("/conferences/{id:int}/meetups/add", meetup_add, methods=["POST"]),
        Route("/conferences/{id:int}/meetups/{meetup:int}/remove", meetup_remove, methods=["POST"]),
        Route("/conferences/{id:int}/hold", hold, methods=["POST"]),
        Route("/conferences/{id:int}/release", release, methods=["POST"]),
        Route("/conferences/{id:int}/report.csv", report_csv, methods=["GET"]),
        Route("/conferences/{id:int}/report.html", report_page, methods=["GET"]),
        Route("/conferences/{id:int}/chart.png", chart, methods=["GET"]),
    ],
    strings={
        "conferences": ("Conferences", "Congresos"),
        "cf_empty": ("No conferences yet.", "Todavía no hay congresos."),
        "cf_name": ("Name", "Nombre"),
        "cf_tag": ("Hashtag", "Hashtag"),
        "cf_tag_help": ("Letters, digits and _, like ACSCC27", "Letras, números y _, como ACSCC27"),
        "cf_dates": ("Dates", "Fechas"),
        "cf_from": ("First day", "Primer día"),
        "cf_to": ("Last day", "Último día"),
        "cf_timezone": ("Time zone", "Zona horaria"),
        "cf_timezone_help": (
            "Where it happens, like America/Chicago",
            "Donde se celebra, como America/Chicago",
        ),
        "cf_match": ("Which posts with the tag are queued", "Qué publicaciones con el hashtag se encolan"),
        "cf_match_community_tag": (
            "those that also carry the community's tag",
            "las que llevan también el hashtag de la comunidad",
        ),
        "cf_match_known_members": (
            "any by a member who took part before",
            "cualquiera de una integrante que ya participó",
        ),
        "cf_highlights_at": ("Daily highlights at (local time)", "Destacados diarios a las (hora local)"),
        "cf_state": ("Now", "Ahora"),
        "cf_state_open": ("on now", "en curso"),
        "cf_state_coming": ("coming", "próximo"),
        "cf_state_over": ("over", "terminado"),
        "cf_champions": ("Champions", "Embajadoras"),
        "cf_no_champions": ("no champions yet", "sin embajadoras todavía"),
        "cf_add": ("Add a conference", "Añadir un congreso"),
        "cf_save": ("Save", "Guardar"),
        "cf_all": ("All conferences", "Todos los congresos"),
        "cf_edit": ("Correct this conference", "Corregir este congreso"),
        "cf_remove": ("Remove the conference", "Quitar el congreso"),
        "cf_remove_confirm": (
            "Remove this conference? Its champions lose their role.",
            "¿Quitar este congreso? Sus embajadoras pierden el rol.",
        ),
        "cf_window": (
            "{first} to {last} ({zone}), highlights at {at}",
            "Del {first} al {last} ({zone}), destacados a las {at}",
        ),
        "cf_champions_help": (
            "A champion may approve or reject the conference's posts while it is on. She must"
            " have posted once on the platform, so the bot knows her account.",
            "Una embajadora puede aprobar o rechazar las publicaciones del congreso mientras dura."
            " Tiene que haber publicado una vez en la plataforma, para que el bot conozca su cuenta.",
        ),
        "cf_platform": ("Platform", "Plataforma"),
        "cf_handle": ("Handle", "Usuario"),
        "cf_name_champion": ("Name a champion", "Nombrar embajadora"),
        "cf_take_back": ("Take the role back", "Retirar el rol"),
        "cf_take_back_confirm": (
            "Take the champion's role back from this member?",
            "¿Retirar el rol de embajadora a esta integrante?",
        ),
        "cf_meetups": ("Meet-ups", "Encuentros"),
        "cf_no_meetups": ("No meet-ups scheduled.", "No hay encuentros previstos."),
        "cf_meetup_at": ("When (local time, {zone})", "Cuándo (hora local, {zone})"),
        "cf_place": ("Place", "Lugar"),
        "cf_ribbon": ("How to find the ribbon", "Cómo encontrar el lazo"),
        "cf_announce": (
            "Announce at (local time; empty: three hours before)",
            "Anunciar a las (hora local; vacío: tres horas antes)",
        ),
        "cf_announced": ("announced {at}", "se anuncia {at}"),
        "cf_add_meetup": ("Add a meet-up", "Añadir un encuentro"),
        "cf_meetup_remove": ("Call off", "Cancelar"),
        "cf_meetup_remove_confirm": (
            "Call this meet-up off? Its announcement will not go out.",
            "¿Cancelar este encuentro? Su anuncio no saldrá.",
        ),
        "cf_highlights": ("Daily highlights", "Destacados del día"),
        "cf_day": ("Day", "Día"),
        "cf_show": ("Show", "Mostrar"),
        "cf_goes_out": ("Goes out {at} UTC.", "Sale el {at} UTC."),
        "cf_nothing_yet": ("Nothing approved to show yet.", "Nada aprobado que mostrar todavía."),
        "cf_parts": ("{n} part(s)", "{n} parte(s)"),
        "cf_hl_state_none": ("not posted yet", "sin publicar todavía"),
        "cf_hl_state_held": ("held: will not go out", "retenidos: no saldrán"),
        "cf_hl_state_done": ("posted", "publicados"),
        "cf_hl_state_intent": ("being posted", "publicándose"),
        "cf_hl_state_empty": ("nothing was posted", "no se publicó nada"),
        "cf_hl_state_skipped": ("skipped", "omitidos"),
        "cf_hl_state_failed": ("failed", "fallaron"),
        "cf_hl_state_withdrawing": ("being taken back", "retirándose"),
        "cf_hl_state_withdrawn": ("taken back", "retirados"),
        "cf_hold": ("Hold this day", "Retener este día"),
        "cf_hold_confirm": (
            "Keep this day's highlights from going out?",
            "¿Impedir que salgan los destacados de este día?",
        ),
        "cf_release": ("Release it", "Liberarlos"),
        "cf_report": ("Report", "Informe"),
        "cf_report_csv": ("Download CSV", "Descargar CSV"),
        "cf_report_html": ("Download web page", "Descargar página web"),
        "cf_chart": (
            "Conference posts per day by platform, and members posting",
            "Publicaciones del congreso por día y plataforma, e integrantes que publican",
        ),
        "cf_posts": ("Posts", "Publicaciones"),
        "cf_queued": ("Reached the curators", "Llegaron a las curadoras"),
        "cf_approved": ("Approved", "Aprobadas"),
        "cf_authors": ("Members posting", "Integrantes que publicaron"),
        "cf_first_time": ("First time with us", "Primera vez con nosotras"),
        "cf_engagement": ("Interactions", "Interacciones"),
        "cf_posts_on": ("Posts on {platform}", "Publicaciones en {platform}"),
        "cf_top": ("Top posts", "Publicaciones destacadas"),
        "cf_no_top": ("No interactions counted yet.", "Todavía no hay interacciones contadas."),
        "cf_a_member": ("a member", "una integrante"),
        "cf_by_day": ("Day by day", "Día a día"),
        "cf_link": ("Link", "Enlace"),
        "cf_private": (
            "Members who keep their posts to themselves are counted, never named.",
            "Las integrantes que no comparten sus publicaciones se cuentan, nunca se nombran.",
        ),
    },
)
