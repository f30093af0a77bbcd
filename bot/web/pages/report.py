"""Report: the reach report for a period picked with date words, its chart drawn inline (a PNG the
app serves, so the page needs no data: URL), and the same figures as a CSV download."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import report as ops
from bot.ops.result import Result
from bot.report import picture
from bot.web.deps import deps, now
from bot.web.drawing import draw_apart
from bot.web.pages import Page
from bot.web.render import render

WORD = 40  # a date word is short; anything longer is not one


def _period(request: Request) -> tuple[str | None, str | None]:
    since = request.query_params.get("since", "").strip()[:WORD] or None
    until = request.query_params.get("until", "").strip()[:WORD] or None
    return since, until


def _made(request: Request) -> Result[ops.ReportMade]:
    d = deps(request)
    since, until = _period(request)
    return ops.report(d.store, d.settings, now(request), since=since, until=until)


def show(request: Request) -> Response:
    result = _made(request)
    since, until = _period(request)
    query = urlencode({k: v for k, v in (("since", since), ("until", until)) if v})
    return render(
        request,
        "report.html",
        page=PAGE.name,
        result=result,
        made=result.data,
        since=since or "",
        until=until or "",
        query=("?" + query) if query else "",
        words=ops.DAY_WORDS,
    )


def _refused(result: Result[Any]) -> Response:
    return Response(result.message, status_code=400, media_type="text/plain; charset=utf-8")


def chart(request: Request) -> Response:
    result = _made(request)
    if result.data is None:
        return _refused(result)
    return Response(draw_apart(picture.png, result.data.report), media_type="image/png")


def csv(request: Request) -> Response:
    result = _made(request)
    if result.data is None:
        return _refused(result)
    p = result.data.period
    name = f"report-{p.first_day.isoformat()}-{p.last_day.isoformat()}.csv"
    return Response(
        ops.csv_text(result.data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


PAGE = Page(
    name="report",
    path="/report",
    title_key="report",
    routes=[
        Route("/report", show, methods=["GET"]),
        Route("/report/chart.png", chart, methods=["GET"]),
        Route("/report/report.csv", csv, methods=["GET"]),
    ],
    strings={
        "report": ("Report", "Informe"),
        "rp_since": ("From", "Desde"),
        "rp_until": ("Until (included)", "Hasta (incluido)"),
        "rp_words": ("Date words: {words}", "Palabras de fecha: {words}"),
        "rp_show": ("Show", "Mostrar"),
        "rp_csv": ("Download CSV", "Descargar CSV"),
        "rp_chart": (
            "Weekly posts, authors and followers of the period",
            "Publicaciones, autoras y seguidoras por semana en el periodo",
        ),
        "rp_default": ("Empty: the last full month.", "Vacío: el último mes completo."),
    },
)
