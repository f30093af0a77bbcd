"""Charts for the console, drawn in a short-lived child process and kept a little while.

matplotlib and its fonts (some 45 MB) must never join the memory of the bot that serves the
console (``run`` on a small host would keep them for good), so a chart is drawn by a fresh
interpreter that imports only the drawing function's module (``bot.web.draw_child``), never the
console or the bot around it. A page is drawn again after every form a curator sends while its
chart only changes when its figures do, so the last few charts are kept by what they show; one
chart is drawn at a time."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

SECONDS = 60  # a chart not drawn by then is given up (the page says so rather than hang)
KEPT = 8  # charts kept drawn, some 30 KB each


class DrawingFailed(RuntimeError):
    """The child process could not draw the chart; its last words say why."""


_drawn: OrderedDict[str, bytes] = OrderedDict()
_lock = threading.Lock()


def draw_apart(draw: Callable[[T], bytes], data: T) -> bytes:
    """``draw(data)``, run in a child process; the same chart again comes from the kept ones.
    ``draw`` must be a module-level function (it is sent to the child by its name)."""
    payload = pickle.dumps((draw, data))
    key = hashlib.sha256(payload).hexdigest()
    with _lock:
        if key not in _drawn:
            _drawn[key] = _child(payload)
            while len(_drawn) > KEPT:
                _drawn.popitem(last=False)
        _drawn.move_to_end(key)
        return _drawn[key]


def _child(payload: bytes) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "bot.web.draw_child"],
        input=payload,
        capture_output=True,
        timeout=SECONDS,
        check=False,
    )
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise DrawingFailed(f"the chart could not be drawn: {last[0][:300]}")
    return done.stdout
