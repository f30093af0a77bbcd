"""Opportunities: the list with the digest editions each went in; add, correct, remove, and import
a YAML file (an untrusted upload: `bot.ops.opportunities.import_upload` checks it)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.ops import opportunities as ops
from bot.ops.result import Result, usage
from bot.web.deps import curator, deps, now, path_id
from bot.web.pages import Page
from bot.web.render import back, render

FIELDS = ("title", "url", "kind", "organisation", "deadline", "eligibility", "language")
# The upload and the few fields around it; a body bigger than this is refused before it is read.
MAX_BODY = ops.MAX_UPLOAD_BYTES + 16 * 1024


def _back(request: Request, result: Result[Any], path: str = "/opportunities") -> Response:
    return back(request, path, result)


def show(request: Request) -> Response:
    d = deps(request)
    everything = request.query_params.get("all") == "1"
    result = ops.listing(d.store, d.settings, now(request), include_closed=everything)
    listing = result.data
    editing = None
    wanted = request.query_params.get("edit", "")
    if listing is not None and wanted.isdigit():
        editing = next((o for o in listing.opportunities if str(o.id) == wanted), None)
    return render(
        request,
        "opportunities.html",
        page=PAGE.name,
        listing=listing,
        everything=everything,
        editing=editing,
        max_kb=ops.MAX_UPLOAD_BYTES // 1024,
    )


async def add(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").replace("\x00", "").strip() for k in FIELDS}
    d, who, at = deps(request), curator(request), now(request)

    def run() -> Result[Any]:
        return ops.add(
            d.store,
            d.settings,
            at,
            who,
            title=values["title"],
            url=values["url"],
            kind=values["kind"] or None,
            organisation=values["organisation"],
            deadline=values["deadline"] or None,
            eligibility=values["eligibility"] or None,
            language=values["language"] or None,
            source="web",
        )

    return _back(request, await run_in_threadpool(run))


async def edit(request: Request) -> Response:
    oid = path_id(request)
    form = await request.form()
    d, who, at = deps(request), curator(request), now(request)
    if oid is None:
        return _back(request, usage("no such opportunity"))
    # a field left empty is cleared for the optional ones, kept for title and link
    changes: dict[str, Any] = {}
    for k in FIELDS:
        value = str(form.get(k) or "").replace("\x00", "").strip()
        if k in ("title", "url", "kind", "language") and not value:
            continue
        changes[k] = value if value or k != "deadline" else "none"
    result = await run_in_threadpool(ops.edit, d.store, d.settings, at, who, oid, changes)
    return _back(request, result, "/opportunities" if result.ok else f"/opportunities?edit={oid}")


def remove(request: Request) -> Response:
    oid = path_id(request)
    if oid is None:
        return _back(request, usage("no such opportunity"))
    d = deps(request)
    return _back(request, ops.remove(d.store, d.settings, now(request), curator(request), oid))


async def upload(request: Request) -> Response:
    d, who, at = deps(request), curator(request), now(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return _back(
            request, usage(f"the file is too big to import (at most {ops.MAX_UPLOAD_BYTES // 1024} KB)")
        )
    form = await request.form(max_files=1, max_fields=4)
    sent = form.get("file")
    if not isinstance(sent, UploadFile):
        return _back(request, usage("choose a file to import"))
    data = await sent.read(ops.MAX_UPLOAD_BYTES + 1)
    name = sent.filename or "upload"
    await sent.close()
    result = await run_in_threadpool(ops.import_upload, d.store, d.settings, at, who, data, name)
    return _back(request, result)


PAGE = Page(
    name="opportunities",
    path="/opportunities",
    title_key="opportunities",
    routes=[
        Route("/opportunities", show, methods=["GET"]),
        Route("/opportunities/add", add, methods=["POST"]),
        Route("/opportunities/import", upload, methods=["POST"]),
        Route("/opportunities/{id}/edit", edit, methods=["POST"]),
        Route("/opportunities/{id}/remove", remove, methods=["POST"]),
    ],
    strings={
        "opportunities": ("Opportunities", "Oportunidades"),
        "opp_add": ("Add an opportunity", "Añadir una oportunidad"),
        "opp_edit": ("Correct #{id}", "Corregir #{id}"),
        "opp_title": ("Title", "Título"),
        "opp_url": ("Link", "Enlace"),
        "opp_kind": ("Kind (guessed when empty)", "Tipo (se adivina si se deja vacío)"),
        "opp_org": ("Organisation", "Organización"),
        "opp_deadline": ("Deadline (YYYY-MM-DD)", "Fecha límite (AAAA-MM-DD)"),
        "opp_eligibility": ("Who may apply (comma-separated)", "Quién puede aplicar (separado por comas)"),
        "opp_language": ("Language", "Idioma"),
        "opp_save": ("Save", "Guardar"),
        "opp_cancel": ("Cancel", "Cancelar"),
        "opp_edit_button": ("Edit", "Editar"),
        "opp_remove": ("Remove", "Quitar"),
        "opp_remove_confirm": (
            "Take this opportunity off the list?",
            "¿Quitar esta oportunidad de la lista?",
        ),
        "opp_import": ("Import a YAML file", "Importar un archivo YAML"),
        "opp_import_help": (
            "All or nothing: a file with problems is refused and every problem is listed. At most {kb} KB.",
            "Todo o nada: un archivo con problemas se rechaza y se listan todos. Como máximo {kb} KB.",
        ),
        "opp_file": ("File", "Archivo"),
        "opp_import_button": ("Import", "Importar"),
        "opp_show_all": ("Show closed and removed too", "Mostrar también cerradas y quitadas"),
        "opp_show_open": ("Show open ones only", "Mostrar solo las abiertas"),
        "opp_digests": ("In digests", "En resúmenes"),
        "opp_none_yet": ("not yet", "todavía no"),
        "opp_no_deadline": ("no deadline", "sin fecha límite"),
        "opp_removed": ("removed", "quitada"),
        "opp_actions": ("Actions", "Acciones"),
        "opp_empty": ("No opportunities to show.", "No hay oportunidades que mostrar."),
    },
)
