"""Calendar: a week or a month of everything the central account will post, in the community's
time zone — series slots, paced amplifications, original posts, chats and conference highlights
— each with what every platform gets, in every language (bot.ops.calendar)."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import calendar as cal_ops
from bot.ops.result import usage
from bot.web.deps import NO_SERIES, now, series
from bot.web.pages import Page
from bot.web.render import back, render


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def show(request: Request) -> Response:
    runner = series(request)
    if runner is None:
        return back(request, "/", usage(NO_SERIES))
    view: cal_ops.View = "month" if request.query_params.get("view") == "month" else "week"
    result = cal_ops.calendar(
        runner, runner.catalog, now(request), view=view, day=_day(request.query_params.get("from"))
    )
    found = result.data
    assert found is not None  # the view is one of the two
    step = timedelta(days=7) if view == "week" else timedelta(days=1)
    before = found.first_day - step
    after = found.last_day + timedelta(days=1)
    return render(
        request,
        "calendar.html",
        page=PAGE.name,
        cal=found,
        view=view,
        before=before.isoformat(),
        after=after.isoformat(),
        anchor=found.first_day.isoformat(),
    )


PAGE = Page(
    name="calendar",
    path="/calendar",
    title_key="calendar",
    routes=[Route("/calendar", show, methods=["GET"])],
    strings={
        "calendar": ("Calendar", "Calendario"),
        "cal_week": ("Week", "Semana"),
        "cal_month": ("Month", "Mes"),
        "cal_before": ("Earlier", "Antes"),
        "cal_after": ("Later", "Después"),
        "cal_nothing": ("Nothing planned.", "Nada previsto."),
        "cal_frozen": (
            "The account is frozen: nothing goes out until it is unfrozen.",
            "La cuenta está congelada: nada sale hasta descongelarla.",
        ),
        "cal_too_long": ("does not fit", "no cabe"),
        "kind_series": ("series", "serie"),
        "kind_amplification": ("boost", "difusión"),
        "kind_original": ("original post", "publicación propia"),
        "kind_highlights": ("highlights", "destacados"),
        "kind_chat": ("chat", "chat"),
    },
)
