"""Members: search by handle or name across the platforms; each person's consent, linked accounts
and organisation mark, and the curator's steps on them (freeze, block, mark) through the same
operations as the command line and the Telegram console."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.domain import Platform
from bot.ops import members as ops
from bot.ops import report, safety
from bot.ops.result import Result, usage
from bot.web.deps import curator, deps, now
from bot.web.pages import Page
from bot.web.render import back, render

MAX_QUERY = 200


def show(request: Request) -> Response:
    d = deps(request)
    q = request.query_params.get("q", "")[:MAX_QUERY]
    result = ops.search(d.store, d.settings, q) if q.strip() else None
    return render(request, "members.html", page=PAGE.name, q=q, result=result, people=result and result.data)


async def act(request: Request) -> Response:
    """One step on one account: freeze or unfreeze (the person), block or unblock, mark as an
    organisation or an individual. The account is named by its ref ("platform:account id")."""
    form = await request.form()
    action = str(request.path_params.get("action", ""))
    ref = str(form.get("ref") or "")[:600]
    handle = str(form.get("handle") or "")[:600]
    q = str(form.get("q") or "")[:MAX_QUERY]
    result = await run_in_threadpool(_step, request, action, ref, handle)
    return back(request, PAGE.path + (f"?{urlencode({'q': q})}" if q else ""), result)


def _step(request: Request, action: str, ref: str, handle: str) -> Result[Any]:
    d, who, at = deps(request), curator(request), now(request)
    platform_name = ref.partition(":")[0]
    if not ref or platform_name not in {p.value for p in Platform}:
        return usage("no such account")
    if action == "freeze":
        return safety.freeze_member(d.store, d.settings, ref, who, at)
    if action == "unfreeze":
        return safety.unfreeze_member(d.store, d.settings, ref, who, at)
    if action in ("block", "unblock"):
        value = handle or ref.partition(":")[2]
        step = safety.block if action == "block" else safety.unblock
        return step(d.store, d.settings, "account", value, who, at)
    if action in ("organisation", "individual"):
        return report.mark(
            d.store,
            d.settings,
            who,
            handle or ref.partition(":")[2],
            organisation=action == "organisation",
            platform=Platform(platform_name),
        )
    return usage("no such step")


PAGE = Page(
    name="members",
    path="/members",
    title_key="members",
    routes=[
        Route("/members", show, methods=["GET"]),
        Route("/members/{action}", act, methods=["POST"]),
    ],
    strings={
        "members": ("Members", "Miembros"),
        "mb_search": ("Search by handle or name", "Buscar por usuario o nombre"),
        "mb_search_button": ("Search", "Buscar"),
        "mb_none": ("No member matches.", "Ningún miembro coincide."),
        "mb_consent_out": ("opted out", "no quiere ser amplificada"),
        "mb_consent_in": ("opted in", "quiere ser amplificada"),
        "mb_consent_none": ("consent unsaid", "consentimiento sin indicar"),
        "mb_frozen": ("frozen", "congelada"),
        "mb_blocked": ("blocked", "bloqueada"),
        "mb_organisation": ("organisation", "organización"),
        "mb_individual": ("individual", "persona"),
        "mb_freeze": ("Freeze", "Congelar"),
        "mb_unfreeze": ("Unfreeze", "Descongelar"),
        "mb_block": ("Block this account", "Bloquear esta cuenta"),
        "mb_unblock": ("Unblock", "Desbloquear"),
        "mb_mark_org": ("Mark as organisation", "Marcar como organización"),
        "mb_mark_person": ("Mark as individual", "Marcar como persona"),
        "mb_freeze_confirm": (
            "Stop amplifying this member and take back the last hours' boosts?",
            "¿Dejar de amplificar a esta persona y deshacer los impulsos de las últimas horas?",
        ),
        "mb_block_confirm": ("Block this account?", "¿Bloquear esta cuenta?"),
        "mb_accounts": ("Linked accounts", "Cuentas vinculadas"),
        "mb_frozen_by": ("frozen by {name}", "congelada por {name}"),
    },
)
