"""Serving the console with uvicorn inside an event loop someone else owns (``run`` serves it
beside the bot; ``python -m bot web`` alone), stopping when told."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from bot.web.app import WebDeps, create_app

log = logging.getLogger(__name__)


async def serve(deps: WebDeps, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set. The caller's signal handlers stay in charge: uvicorn's own
    ``serve()`` would take SIGINT and SIGTERM over, so its steps are run here one by one."""
    app = await asyncio.to_thread(create_app, deps)  # resolving the cookie secret reads the store
    # No WebSocket protocol: the console's live updates are server-sent events, so an upgrade
    # request is refused and uvicorn's WebSocket implementation never loads.
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup()
    if server.should_exit:  # the port was taken: uvicorn logged why
        raise OSError(f"the web console could not listen on {host}:{port}")
    log.info("web console listening", extra={"address": f"http://{host}:{port}"})

    async def stop_when_told() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stop_when_told(), name="web-stop")
    try:
        await server.main_loop()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await server.shutdown()
