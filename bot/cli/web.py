"""``python -m bot web``: serve the curators' web console; ``web login-link --as NAME`` prints a
single-use sign-in link on the server."""

from __future__ import annotations

import argparse

from bot.cli.context import open_context
from bot.cli.main import Commands
from bot.cli.present import add_json_option, show
from bot.ops import web_access


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.web.app import WebDeps, create_app

    ctx = open_context(args)
    deps = WebDeps(ctx.settings, ctx.store, ctx.clock, series_runner=ctx.series_runner)
    host = args.host or ctx.settings.web.host
    port = args.port if args.port is not None else ctx.settings.web.port
    print(f"web console on http://{host}:{port} (links point to {ctx.settings.web.address})", flush=True)
    uvicorn.run(create_app(deps), host=host, port=port, log_level="warning", proxy_headers=False)
    return 0


def cmd_login_link(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    result = web_access.sign_in_link(ctx.store, ctx.settings, args.curator, ctx.now, next_path=args.next)
    return show(result, args)


def register(cli: Commands) -> None:
    web = cli.command("web", cmd_web, "serve the curators' web console (127.0.0.1:8080 unless configured)")
    web.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    web.add_argument("--port", type=int, help="port to listen on (default: web.port, 8080)")
    actions = web.add_subparsers(dest="web_command", metavar="ACTION")
    link = cli.command("login-link", cmd_login_link, "print a single-use sign-in link (15 minutes)", actions)
    link.add_argument("--as", dest="curator", required=True, help="the curator's name, as in the config")
    link.add_argument("--next", help="the console page to land on (a path such as /queue)")
    add_json_option(link)
