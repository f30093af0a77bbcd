"""The reference atproto network (PLC + PDS + AppView from @atproto/dev-env) as a pytest fixture.

`.ci/atproto-setup.sh` installs Node 22 into `.cache/node22` and the dev-env packages into
`tests/atproto_network/node_modules`. Without them the fixture skips, unless
COALESCE_REQUIRE_ATPROTO=1, when their absence fails the test instead.

Environment:
    COALESCE_REQUIRE_ATPROTO=1         a missing setup is a failure, not a skip
    COALESCE_ATPROTO_MODE=no-appview   start PLC + PDS only (no PostgreSQL needed)
    COALESCE_ATPROTO_START_TIMEOUT     seconds to wait for the ready line (default 180)
    COALESCE_ATPROTO_PG_URL            PostgreSQL URL for the AppView (default: a database of the
                                       network's own, created at start and dropped at exit, so
                                       networks started side by side never meet)

Under pytest-xdist with --dist loadgroup (pyproject's addopts), the modules of the tests that take
the fixture (network_test_modules) run on one worker (tests/conftest.py's scheduler), so a
parallel run starts one network.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

NETWORK_DIR = Path(__file__).resolve().parent
REPO_ROOT = NETWORK_DIR.parents[1]
NODE_PREFIX = REPO_ROOT / ".cache" / "node22"
START_SCRIPT = NETWORK_DIR / "start.mjs"
SETUP_SCRIPT = REPO_ROOT / ".ci" / "atproto-setup.sh"
MIN_NODE_MAJOR = 22
STOP_TIMEOUT_S = 45.0
PROCESS_ALL_TIMEOUT_S = 60.0


class NetworkUnavailableError(Exception):
    """Node 22 or the dev-env packages are not installed."""


@dataclass(frozen=True)
class AtprotoAccount:
    role: str  # "central" or "member"
    handle: str
    did: str
    password: str
    email: str


@dataclass(frozen=True)
class AtprotoNetwork:
    mode: str  # "full" (PLC + PDS + AppView) or "no-appview"
    pds_url: str  # http://127.0.0.1:PORT, the base_url for atproto.AsyncClient
    pds_ws_url: str  # ws://127.0.0.1:PORT/xrpc, the base_uri for the firehose clients
    pds_did: str
    plc_url: str
    appview_url: str | None
    appview_did: str | None
    control_url: str  # POST /process-all waits for indexing; see process_all()
    accounts: tuple[AtprotoAccount, ...]
    startup_seconds: float

    @property
    def has_appview(self) -> bool:
        return self.appview_url is not None

    @property
    def central(self) -> AtprotoAccount:
        return next(a for a in self.accounts if a.role == "central")

    @property
    def members(self) -> tuple[AtprotoAccount, ...]:
        return tuple(a for a in self.accounts if a.role == "member")

    @property
    def member(self) -> AtprotoAccount:
        return self.members[0]

    def account(self, handle: str) -> AtprotoAccount:
        for acc in self.accounts:
            if acc.handle == handle:
                return acc
        raise KeyError(handle)

    async def process_all(self) -> None:
        """Wait until the PDS queue and the AppView's subscription have processed every event so far."""
        async with httpx.AsyncClient(timeout=PROCESS_ALL_TIMEOUT_S) as http:
            response = await http.post(f"{self.control_url}/process-all")
        response.raise_for_status()


# How a test takes the fixture: a parameter annotated with the network's type.
_TAKES_NETWORK = re.compile(r"\batproto_network: AtprotoNetwork\b")


def network_test_modules(root: Path = REPO_ROOT) -> frozenset[str]:
    """The test modules (paths from ``root``, as in node ids) with a test on the network."""
    return frozenset(
        path.relative_to(root).as_posix()
        for path in (root / "tests").rglob("test_*.py")
        if _TAKES_NETWORK.search(path.read_text(encoding="utf-8"))
    )


def find_node() -> Path:
    """The Node 22 binary that .ci/atproto-setup.sh installs, or NetworkUnavailableError."""
    candidates = sorted((NODE_PREFIX / "node_modules").glob("node-linux-*/bin/node"))
    if not candidates:
        raise NetworkUnavailableError(f"no Node 22 under {NODE_PREFIX}")
    return candidates[0]


def check_setup() -> Path:
    """Return the node binary if Node >= 22 and the dev-env packages are installed."""
    hint = f"run `bash {SETUP_SCRIPT.relative_to(REPO_ROOT)}` first"
    try:
        node = find_node()
    except NetworkUnavailableError as exc:
        raise NetworkUnavailableError(f"{exc}; {hint}") from None
    version = subprocess.run(
        [str(node), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        raise NetworkUnavailableError(f"{node} --version said {version!r}; {hint}") from None
    if major < MIN_NODE_MAJOR:
        raise NetworkUnavailableError(f"{node} is {version}, need >= {MIN_NODE_MAJOR}; {hint}")
    if not (NETWORK_DIR / "node_modules" / "@atproto" / "dev-env" / "package.json").is_file():
        raise NetworkUnavailableError(f"@atproto/dev-env is not installed in {NETWORK_DIR}; {hint}")
    return node


def _parse_ready(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("ready") is True else None


def _read_stdout(stream: IO[str], ready: queue.Queue[dict[str, Any] | None], log: IO[str]) -> None:
    """Hand the ready line to the waiting fixture; log anything else; signal EOF with None."""
    sent = False
    for line in stream:
        data = None if sent else _parse_ready(line)
        if data is not None:
            ready.put(data)
            sent = True
        else:
            log.write(f"[stdout] {line}")
            log.flush()
    if not sent:
        ready.put(None)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[str]) -> None:
    """Close stdin (the script's cue to shut down cleanly), then escalate if it lingers."""
    if proc.poll() is None and proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
        return
    except subprocess.TimeoutExpired:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _build(data: dict[str, Any], startup_seconds: float) -> AtprotoNetwork:
    accounts = tuple(
        AtprotoAccount(
            role=a["role"], handle=a["handle"], did=a["did"], password=a["password"], email=a["email"]
        )
        for a in data["accounts"]
    )
    return AtprotoNetwork(
        mode=data["mode"],
        pds_url=data["pds_url"],
        pds_ws_url=data["pds_ws_url"],
        pds_did=data["pds_did"],
        plc_url=data["plc_url"],
        appview_url=data["appview_url"],
        appview_did=data["appview_did"],
        control_url=data["control_url"],
        accounts=accounts,
        startup_seconds=startup_seconds,
    )


@contextlib.contextmanager
def run_network(node: Path, log_path: Path, *, no_appview: bool = False) -> Iterator[AtprotoNetwork]:
    """Start start.mjs, wait for its ready line and stop it on exit."""
    timeout = float(os.environ.get("COALESCE_ATPROTO_START_TIMEOUT", "180"))
    args = [str(node), str(START_SCRIPT)] + (["--no-appview"] if no_appview else [])
    env = dict(os.environ)
    env["PATH"] = f"{node.parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("REDIS_HOST", "127.0.0.1:6379")
    with log_path.open("a") as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            args,
            cwd=NETWORK_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert proc.stdout is not None
        ready: queue.Queue[dict[str, Any] | None] = queue.Queue()
        reader = threading.Thread(
            target=_read_stdout, args=(proc.stdout, ready, log), name="atproto-network-stdout", daemon=True
        )
        reader.start()
        try:
            try:
                data = ready.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(
                    f"atproto network not ready within {timeout:.0f} s; log {log_path}:\n{_tail(log_path)}"
                ) from None
            if data is None:
                raise RuntimeError(
                    f"atproto network exited ({proc.wait(timeout=30)}) before it was ready; "
                    f"log {log_path}:\n{_tail(log_path)}"
                )
            yield _build(data, time.monotonic() - started)
        finally:
            _stop(proc)
            reader.join(timeout=10)


@pytest.fixture(scope="session")
def atproto_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtprotoNetwork]:
    """A running PLC + PDS (+ AppView) on 127.0.0.1 with a central account and members, for the session."""
    try:
        node = check_setup()
    except NetworkUnavailableError as exc:
        reason = f"reference atproto network unavailable: {exc}"
        if os.environ.get("COALESCE_REQUIRE_ATPROTO", "") not in ("", "0"):
            pytest.fail(f"{reason} (COALESCE_REQUIRE_ATPROTO is set)")
        pytest.skip(reason)
    no_appview = os.environ.get("COALESCE_ATPROTO_MODE", "full") == "no-appview"
    log_dir = tmp_path_factory.mktemp("atproto-network")
    with run_network(node, log_dir / "network.log", no_appview=no_appview) as network:
        yield network
