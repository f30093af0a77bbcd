"""``python -m bot web`` as a person runs it: a process serving the console on a free loopback
port (8080 may be another program's on this machine) until it is stopped with SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Served:
    port: int
    listening: bool = False  # it said so; False: it ended first (``said`` tells why)
    said: list[str] = field(default_factory=list)  # its log, up to "listening"
    done: subprocess.CompletedProcess[str] | None = None  # once stopped

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(argv: list[str], cwd: str, env: dict[str, str]) -> Iterator[Served]:
    """Start ``argv`` (a ``bot web`` command) with ``--port`` on a free port, wait for its log to
    say it listens, and stop it with SIGTERM on leaving; ``served.done`` then holds how it ended."""
    served = Served(free_port())
    argv = [*argv, "--port", str(served.port)]
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # waits on its own word, not on a timer
            served.said.append(line)
            if "web console listening" in line:
                served.listening = True
                break
        try:
            yield served
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
            served.done = subprocess.CompletedProcess(argv, proc.returncode, out, "".join(served.said) + err)
