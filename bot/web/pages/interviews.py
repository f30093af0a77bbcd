"""Interviews: the pipeline as columns (invited … withdrawn), each with its fit per platform, and
the curator's steps on it — approve the text, record the member's confirmation, withdraw."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import interviews as ops
from bot.ops.result import Result, usage
from bot.web.deps import NO_SERIES, curator, now, path_id, series
from bot.web.pages import Page
from bot.web.render import back, render


def _back(request: Request, result: Result[Any]) -> Response:
    return back(request, PAGE.path, result)


def show(request: Request) -> Response:
    runner = series(request)
    result = ops.pipeline(runner) if runner is not None else usage(NO_SERIES)
    return render(request, "interviews.html", page=PAGE.name, result=result, pipeline=result.data)


def approve(request: Request) -> Response:
    runner, iid = series(request), path_id(request)
    if runner is None or iid is None:
        return _back(request, usage(NO_SERIES if runner is None else "no such interview"))
    return _back(request, ops.approve(runner, now(request), curator(request), iid))


async def confirm(request: Request) -> Response:
    form = await request.form()
    via = str(form.get("via") or "").replace("\x00", "").strip()[:60]
    runner, iid = series(request), path_id(request)
    if runner is None or iid is None:
        return _back(request, usage(NO_SERIES if runner is None else "no such interview"))
    result = await run_in_threadpool(ops.confirm, runner, now(request), curator(request), iid, via)
    return _back(request, result)


async def withdraw(request: Request) -> Response:
    # the operation keeps its database work off the loop and deletes published posts
    runner = await run_in_threadpool(series, request)
    iid = path_id(request)
    if runner is None or iid is None:
        return _back(request, usage(NO_SERIES if runner is None else "no such interview"))
    return _back(request, await ops.withdraw(runner, curator(request), iid))


PAGE = Page(
    name="interviews",
    path="/interviews",
    title_key="interviews",
    routes=[
        Route("/interviews", show, methods=["GET"]),
        Route("/interviews/{id}/approve", approve, methods=["POST"]),
        Route("/interviews/{id}/confirm", confirm, methods=["POST"]),
        Route("/interviews/{id}/withdraw", withdraw, methods=["POST"]),
    ],
    strings={
        "interviews": ("Interviews", "Entrevistas"),
        "stage_invited": ("Invited", "Invitadas"),
        "stage_answered": ("Answered", "Respondidas"),
        "stage_approved": ("Approved by a curator", "Aprobadas por una curadora"),
        "stage_confirmed": ("Confirmed by the member", "Confirmadas por la persona"),
        "stage_scheduled": ("Scheduled", "Programadas"),
        "stage_published": ("Published", "Publicadas"),
        "stage_withdrawn": ("Withdrawn", "Retiradas"),
        "iv_fits": ("fits", "cabe"),
        "iv_too_long": ("too long", "demasiado larga"),
        "iv_no_text": ("no text yet", "aún sin texto"),
        "iv_missing": ("Still to answer: {questions}", "Falta responder: {questions}"),
        "iv_approve": ("Approve the text", "Aprobar el texto"),
        "iv_confirm": ("She confirmed", "Ella confirmó"),
        "iv_via": ("How she told you", "Cómo te lo dijo"),
        "iv_withdraw": ("Withdraw", "Retirar"),
        "iv_withdraw_confirm": (
            "Withdraw this interview and delete whatever of it was published?",
            "¿Retirar esta entrevista y borrar lo que se haya publicado?",
        ),
        "iv_empty": ("none", "ninguna"),
        "iv_more": ("latest {shown} of {total}", "últimas {shown} de {total}"),
        "iv_platforms": ("Fit on {platforms}", "Encaje en {platforms}"),
    },
)
