"""Audit log: every decision, consent change, block and freeze (and the series' steps), who and
when, filtered by kind, curator, member and dates; read-only — the page has no form that posts."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import audit as ops
from bot.web.deps import deps, now
from bot.web.pages import Page
from bot.web.render import render

PAGE_SIZE = 50
SHORT = 200  # the longest filter text read


def show(request: Request) -> Response:
    d = deps(request)
    params = request.query_params
    kinds = [k for k in params.getlist("kind") if k in ops.KINDS]
    fields = {k: params.get(k, "").strip()[:SHORT] for k in ("by", "member", "since", "until")}
    offset_text = params.get("offset", "0")
    offset = int(offset_text) if offset_text.isdigit() and len(offset_text) < 9 else 0
    result = ops.log(
        d.store,
        d.settings,
        now(request),
        kinds=kinds,
        actor=fields["by"] or None,
        member=fields["member"] or None,
        since=fields["since"] or None,
        until=fields["until"] or None,
        limit=PAGE_SIZE,
        offset=offset,
    )
    base = [("kind", k) for k in kinds] + [(k, v) for k, v in fields.items() if v]
    pages = {
        "newer": urlencode([*base, ("offset", max(0, offset - PAGE_SIZE))]) if offset else None,
        "older": urlencode([*base, ("offset", offset + PAGE_SIZE)])
        if result.data is not None and result.data.more
        else None,
    }
    return render(
        request,
        "audit.html",
        page=PAGE.name,
        result=result,
        log=result.data,
        kinds=ops.KINDS,
        chosen=kinds,
        fields=fields,
        pages=pages,
    )


PAGE = Page(
    name="audit",
    path="/audit",
    title_key="audit",
    routes=[Route("/audit", show, methods=["GET"])],
    strings={
        "audit": ("Audit log", "Registro"),
        "au_kind": ("Kinds", "Tipos"),
        "au_kind_decision": ("decisions", "decisiones"),
        "au_kind_consent": ("consent", "consentimiento"),
        "au_kind_block": ("blocks", "bloqueos"),
        "au_kind_freeze": ("freezes", "congelaciones"),
        "au_kind_champion": ("champions", "campeonas"),
        "au_kind_opportunity": ("opportunities", "oportunidades"),
        "au_kind_interview": ("interviews", "entrevistas"),
        "au_kind_original": ("original posts", "publicaciones propias"),
        "au_by": ("By", "Por"),
        "au_member": ("Member", "Miembro"),
        "au_since": ("From", "Desde"),
        "au_until": ("Until (included)", "Hasta (incluido)"),
        "au_filter": ("Filter", "Filtrar"),
        "au_when": ("When (UTC)", "Cuándo (UTC)"),
        "au_what": ("What", "Qué"),
        "au_about": ("About", "Sobre"),
        "au_detail": ("Why / note", "Motivo / nota"),
        "au_none": ("No audit entries match.", "Ninguna entrada coincide."),
        "au_newer": ("Newer", "Más recientes"),
        "au_older": ("Older", "Anteriores"),
    },
)
