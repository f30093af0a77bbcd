"""Chats: the scheduled and past community chats with where each stands (announced, questions
posted, held by a freeze), a form to schedule one, removal, and after a chat its recap with the
transcripts to download. Every action is an operation of bot.ops.chats or bot.ops.gatherings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import chats as ops
from bot.ops import gatherings
from bot.ops.result import Result, usage
from bot.web.deps import curator, deps, now, path_id
from bot.web.pages import Page
from bot.web.render import back, render

FIELDS = ("topic", "host", "tag", "start", "timezone", "languages", "questions")
LONGEST_FIELD = 20_000  # the questions, twenty lines in two languages, with room to spare


def _zone(name: str) -> Callable[[datetime], str]:
    zone = ZoneInfo(name)
    return lambda at: at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _page(
    request: Request, *, values: dict[str, str] | None = None, error: str | None = None, status: int = 200
) -> Response:
    d = deps(request)
    listed = ops.chat_statuses(d.store, now(request))
    chats = listed.data or []
    community_zone = d.settings.series.timezone
    blank = {"timezone": community_zone, "languages": ",".join(d.settings.community.languages[:1]) or "en"}
    return render(
        request,
        "chats.html",
        status=status,
        page=PAGE.name,
        upcoming=[c for c in chats if not c.over],
        past=sorted((c for c in chats if c.over), key=lambda c: c.chat.starts_at, reverse=True),
        frozen=any(c.frozen for c in chats),
        community_zone=community_zone,
        in_community=_zone(community_zone),
        values=values or blank,
        error=error,
    )


def show(request: Request) -> Response:
    return _page(request)


async def add(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").replace("\x00", "")[:LONGEST_FIELD] for k in FIELDS}
    fields = ops.ChatFields(
        topic=values["topic"],
        host=values["host"],
        tag=values["tag"],
        start=values["start"].strip().replace("T", " "),
        timezone=values["timezone"].strip(),
        languages=tuple(values["languages"].replace(" ", ",").split(",")),
        questions=[line for line in values["questions"].splitlines() if line.strip()],
    )
    d, who, at = deps(request), curator(request), now(request)
    result = await run_in_threadpool(ops.add_chat, d.store, d.settings, fields, by=who, now=at)
    if not result.ok:  # the page again, with what she typed and what is wrong: nothing lost
        return await run_in_threadpool(
            lambda: _page(request, values=values, error=result.message, status=400)
        )
    return back(request, PAGE.path, result)


def remove(request: Request) -> Response:
    chat_id = path_id(request)
    if chat_id is None:
        return back(request, PAGE.path, usage("no such chat"))
    d = deps(request)
    return back(
        request,
        PAGE.path,
        ops.remove_chat(d.store, d.settings, chat_id, by=curator(request), now=now(request)),
    )


def recap(request: Request) -> Response:
    chat_id = path_id(request)
    d = deps(request)
    found: Result[Any] = (
        ops.chat_statuses(d.store, now(request), chat_id=chat_id)
        if chat_id is not None
        else usage("no such chat")
    )
    if not found.data:
        return back(request, PAGE.path, found)
    status = found.data[0]
    started = now(request) >= status.chat.starts_at
    summary = gatherings.recap(d.store, d.settings, status.chat.id) if started else None
    return render(
        request,
        "chat_recap.html",
        page=PAGE.name,
        chat=status,
        recap=summary.data if summary else None,
        community_zone=d.settings.series.timezone,
        in_community=_zone(d.settings.series.timezone),
        in_chat=_zone(status.chat.timezone),
    )


def _transcript(kind: str) -> Callable[[Request], Response]:
    def download(request: Request) -> Response:
        chat_id = path_id(request)
        d = deps(request)
        if chat_id is None:
            return back(request, PAGE.path, usage("no such chat"))
        made = gatherings.transcript(d.store, d.settings, chat_id, kind)
        if made.data is None:
            return back(request, PAGE.path, made)
        return Response(
            made.data.text,
            media_type=f"{made.data.media_type}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{made.data.name}"'},
        )

    return download


PAGE = Page(
    name="chats",
    path="/chats",
    title_key="chats",
    routes=[
        Route("/chats", show, methods=["GET"]),
        Route("/chats/add", add, methods=["POST"]),
        Route("/chats/{id:int}", recap, methods=["GET"]),
        Route("/chats/{id:int}/remove", remove, methods=["POST"]),
        *(
            Route(f"/chats/{{id:int}}/transcript.{ext}", _transcript(kind), methods=["GET"])
            for kind, (ext, _) in gatherings.TRANSCRIPTS.items()
        ),
    ],
    strings={
        "chats": ("Chats", "Chats"),
        "chat_upcoming": ("Scheduled", "Programados"),
        "chat_past": ("Past chats", "Chats pasados"),
        "chat_none": ("No chats scheduled.", "No hay chats programados."),
        "chat_none_past": ("No past chats yet.", "Todavía no hay chats pasados."),
        "chat_frozen": (
            "The account is frozen: a chat's posts that fall due are held, not posted.",
            "La cuenta está congelada: las publicaciones de un chat que toquen se retienen, no salen.",
        ),
        "chat_with": ("#{tag} with {host}", "#{tag} con {host}"),
        "chat_local": ("{at} ({zone})", "{at} ({zone})"),
        "chat_starts": ("Starts", "Empieza"),
        "chat_languages": ("Languages", "Idiomas"),
        "chat_questions": ("Questions", "Preguntas"),
        "chat_question_at": ("Q{n} at minute {offset}", "P{n} en el minuto {offset}"),
        "chat_state": ("State", "Estado"),
        "chat_state_scheduled": ("scheduled, nothing posted yet", "programado, nada publicado aún"),
        "chat_state_announced": ("announced", "anunciado"),
        "chat_state_questions": ("{n} of {total} questions posted", "{n} de {total} preguntas publicadas"),
        "chat_state_recap": ("over, recap posted", "terminado, resumen publicado"),
        "chat_state_held": (
            "held by a freeze: what fell due while frozen is not posted",
            "retenido por la congelación: lo que tocó mientras estaba congelada no sale",
        ),
        "chat_state_missed": (
            "nothing posted: its times passed (was the bot running?)",
            "nada publicado: sus horas pasaron (¿estaba el bot en marcha?)",
        ),
        "chat_answers": ("{n} answers stored", "{n} respuestas guardadas"),
        "chat_open": ("Details and recap", "Detalles y resumen"),
        "chat_remove": ("Remove", "Quitar"),
        "chat_remove_confirm": (
            "Take this chat off the schedule? Nothing more of it will be posted.",
            "¿Quitar este chat del calendario? No se publicará nada más de él.",
        ),
        "chat_add": ("Schedule a chat", "Programar un chat"),
        "chat_topic": ("Topic", "Tema"),
        "chat_host": ("Host, as the announcement names them", "Anfitriona, como la nombra el anuncio"),
        "chat_tag": ("Hashtag, like LIMchat", "Etiqueta, como LIMchat"),
        "chat_start": ("Start (local time)", "Inicio (hora local)"),
        "chat_timezone": (
            "Time zone of the start, like America/New_York",
            "Zona horaria del inicio, como America/New_York",
        ),
        "chat_languages_hint": (
            "Languages, comma-separated, the first leads: en or en,es",
            "Idiomas, separados por comas, el primero manda: en o es,en",
        ),
        "chat_questions_hint": (
            "One question per line: the minute after the start, a colon, the question. A translation: "
            "minute, colon, language, colon, text. For example:",
            "Una pregunta por línea: el minuto tras el inicio, dos puntos, la pregunta. Una traducción: "
            "minuto, dos puntos, idioma, dos puntos, texto. Por ejemplo:",
        ),
        "chat_questions_example": (
            "0: What brought you to medicine?\n0:es: ¿Qué te trajo a la medicina?\n15: Who helped you?",
            "0: ¿Qué te trajo a la medicina?\n0:en: What brought you to medicine?\n15: ¿Quién te ayudó?",
        ),
        "chat_save": ("Schedule it", "Programarlo"),
        "chat_error": ("Not scheduled: {message}", "No programado: {message}"),
        "chat_back": ("All chats", "Todos los chats"),
        "chat_slots": ("What it posts", "Lo que publica"),
        "chat_slot": ("Post", "Publicación"),
        "chat_slot_when": ("When", "Cuándo"),
        "chat_slot_announce-day": ("Announcement, a day before", "Anuncio, un día antes"),
        "chat_slot_announce-hour": ("Announcement, an hour before", "Anuncio, una hora antes"),
        "chat_slot_recap": ("Recap", "Resumen"),
        "chat_slot_q": ("Question {n}", "Pregunta {n}"),
        "chat_slot_upcoming": ("to come", "por venir"),
        "chat_slot_due": ("due now", "toca ahora"),
        "chat_slot_posting": ("being posted", "publicándose"),
        "chat_slot_posted": ("posted", "publicada"),
        "chat_slot_failed": ("failed", "falló"),
        "chat_slot_skipped": ("nothing to post", "nada que publicar"),
        "chat_slot_held": ("held by a freeze", "retenida por la congelación"),
        "chat_slot_missed": ("missed", "no salió"),
        "chat_recap": ("Recap", "Resumen"),
        "chat_recap_none": (
            "The recap comes once the chat has started.",
            "El resumen llega cuando el chat haya empezado.",
        ),
        "chat_taking_part": ("Taking part", "Participación"),
        "chat_total_answers": ("{n} answers", "{n} respuestas"),
        "chat_on_platform": ("{n} on {platform}", "{n} en {platform}"),
        "chat_nobody": ("nobody yet", "nadie todavía"),
        "chat_first_timers": ("{n} for the first time", "{n} por primera vez"),
        "chat_withheld": (
            "{n} more from members who keep their posts to themselves (counted, not quoted).",
            "{n} más de personas que no comparten sus publicaciones (contadas, no citadas).",
        ),
        "chat_no_answers": ("No answers.", "Sin respuestas."),
        "chat_post": ("post", "publicación"),
        "chat_download": ("Transcript", "Transcripción"),
        "chat_download_md": ("Markdown", "Markdown"),
        "chat_download_html": ("HTML for the website", "HTML para la web"),
    },
)
