"""The console's charts are drawn in a child process that imports only the drawing code: the
chart comes back as drawn, the same figures are not drawn twice, a child that fails says why,
and matplotlib never joins the console's own process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from bot.web import drawing


def stamped(data: str) -> bytes:
    """Which process drew it, and what."""
    return f"{os.getpid()}:{data}:{'matplotlib' in sys.modules}".encode()


def failing(data: str) -> bytes:
    raise ValueError(f"cannot draw {data}")


def test_drawn_by_a_child_once_per_figures() -> None:
    tag = uuid.uuid4().hex  # figures no earlier test of this process drew
    first = drawing.draw_apart(stamped, f"a{tag}")
    pid, data, heavy = first.decode().split(":")
    assert int(pid) != os.getpid()
    assert data == f"a{tag}"
    assert heavy == "False"  # the child imported the drawing code, not matplotlib
    assert drawing.draw_apart(stamped, f"a{tag}") == first  # kept, not drawn again
    other = drawing.draw_apart(stamped, f"b{tag}").decode().split(":")
    assert other[0] != pid  # new figures: a new child
    assert other[1] == f"b{tag}"


def test_a_failing_child_says_why() -> None:
    with pytest.raises(drawing.DrawingFailed, match="cannot draw x"):
        drawing.draw_apart(failing, "x")


def test_the_report_chart_leaves_matplotlib_out_of_the_console() -> None:
    """The report page and the chart's picture module load without matplotlib."""
    code = (
        "import sys, bot.web.pages.report, bot.web.pages.conferences, bot.report.picture;"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
