"""``run`` serves the web console in the same process when ``web.enabled`` is true."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from bot.ops import web_access


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_serves_the_console_and_stops_with_the_bot(start_app: Any, settings_factory: Any) -> None:
    port = _free_port()
    settings = settings_factory(web={"enabled": True, "port": port, "base_url": f"http://127.0.0.1:{port}"})
    app = await start_app(settings, {})
    stop = asyncio.Event()
    running = asyncio.create_task(app.run(stop))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(200):  # until uvicorn listens (its startup is not observable from here)
            try:
                answer = await client.get("/sign-in")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        assert answer.status_code == 200
        link = await asyncio.to_thread(web_access.sign_in_link, app.store, settings, "ana", app.clock.now())
        assert link.data is not None
        page = await client.get(link.data.url)
        assert page.status_code == 200
    stop.set()
    await asyncio.wait_for(running, 10)
    await asyncio.wait_for(app.stop(), 10)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the console stopped with the bot
