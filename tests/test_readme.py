"""Every ``python -m bot …`` line after the README's "Carry on by hand" heading works as written
on the world the demo leaves: no traceback, and exit 0 unless the line's comment says the
command refuses (``exit 1``) or names a config mistake (``exit 2``). The commands that serve
until stopped (``run``, ``web``) are started, then stopped with SIGTERM as a host stops them."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web_process import serving

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HEADING = "## Carry on by hand"


def readme_commands() -> list[tuple[str, str]]:
    """(command, comment) for each ``python -m bot`` line in the code blocks after the heading."""
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"the README has no {HEADING!r} section"
    part = text.split(HEADING, 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", part, re.S)
    found = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)  # a command continued on the next line
        for line in joined.splitlines():
            line = line.strip()
            if not line.startswith("python -m bot "):
                continue
            command, _, comment = line.partition("  #")
            found.append((command.strip(), comment.strip()))
    return found


def expected_exit(comment: str) -> int:
    m = re.match(r"exit ([12])\b", comment)
    return int(m.group(1)) if m else 0


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("readme")
    # As the README says: the demo run in a folder, and the commands run from that same folder.
    config = where / "coalesce-demo" / "config.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COALESCE_CONFIG": str(config)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return {**env, "CWD": str(where)}


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, *shlex.split(command)[1:]]
    cwd = env["CWD"]
    if argv[-1] == "run" and argv[-2:] == ["bot", "run"]:
        # runs until stopped: started, then stopped as a host stops it (SIGTERM) once it runs
        with subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # "sandbox: platforms are emulated…": it is up
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
            return subprocess.CompletedProcess(argv, proc.returncode, first + out, err)
    if argv[-2:] == ["bot", "web"]:
        # serves until stopped: on a free port, stopped as a host stops it once it listens
        with serving(argv, cwd, env) as served:
            pass
        assert served.done is not None
        return served.done
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.timeout(900)  # some 40 commands, each a process of its own: minutes on a busy machine
def test_every_readme_command_works_on_the_demo_world(demo_world: dict[str, str]) -> None:
    commands = readme_commands()
    problems = []
    for command, comment in commands:
        done = _run(command, demo_world)
        want = expected_exit(comment)
        if "Traceback" in done.stderr:
            problems.append(f"{command}: traceback\n{done.stderr[-2000:]}")
        elif done.returncode != want:
            problems.append(f"{command}: exit {done.returncode}, expected {want}\n{done.stdout}{done.stderr}")
    assert not problems, "\n\n".join(problems)
    text = README.read_text(encoding="utf-8").split(HEADING, 1)[1]
    assert len(commands) == len(re.findall(r"^python -m bot ", text, re.M)) > 0
    print(f"{len(commands)} README commands checked")
