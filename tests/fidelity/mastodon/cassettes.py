"""Reading Mastodon.py's VCR cassettes (recordings of a real Mastodon server), comparing JSON
shapes, and replaying a recording on loopback so the real client and adapter can read it.

The cassettes are plain YAML, so PyYAML is all it takes; vcrpy is not needed. They are another
project's files, so they live outside this repository (see README.md beside this file):
``$COALESCE_MASTODON_CASSETTES``, else ``shared/fidelity/mastodon/cassettes`` beside the checkout
(or beside its parent folder, for a worktree), else ``.cache/fidelity/mastodon/cassettes``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from sandbox._server import LoopbackServer, Request, Response, Router

ROOT = Path(__file__).resolve().parents[3]
# The recordings the tests use, by file name (without .yaml); README.md says where each came from.
CASSETTES = (
    "test_account",
    "test_account_follow_unfollow",
    "test_account_followers",
    "test_account_relationships",
    "test_hashtag_tl",
    "test_instance",
    "test_instance_v1",
    "test_list_add_remove_account",
    "test_list_create",
    "test_notifications_mentions_only",
    "test_pagination_iterator",
    "test_search",
    "test_status",
    "test_status_context",
    "test_status_empty",
    "test_status_missing",
    "test_status_post[None-direct]",
    "test_status_reblog_unreblog",
    "test_status_reply",
    "test_verify_credentials",
    "test_zzz_revoke",
)


def _candidates() -> list[Path]:
    found = (
        [Path(os.environ["COALESCE_MASTODON_CASSETTES"])]
        if os.environ.get("COALESCE_MASTODON_CASSETTES")
        else []
    )
    found += [
        base / "shared" / "fidelity" / "mastodon" / "cassettes" for base in (ROOT.parent, ROOT.parent.parent)
    ]
    found.append(ROOT / ".cache" / "fidelity" / "mastodon" / "cassettes")
    return found


def cassette_dir() -> Path | None:
    """The first folder that holds every recording the tests use, or None."""
    for folder in _candidates():
        if all((folder / f"{name}.yaml").is_file() for name in CASSETTES):
            return folder
    return None


def require_recordings() -> None:
    """Skip the calling module when the recordings are not on this machine (fail instead when
    COALESCE_REQUIRE_RECORDINGS is set)."""
    import pytest

    if cassette_dir() is not None:
        return
    where = ", ".join(str(p) for p in _candidates())
    message = (
        f"Mastodon.py's recordings are not on this machine (looked in {where}): "
        "see tests/fidelity/mastodon/README.md"
    )
    if os.environ.get("COALESCE_REQUIRE_RECORDINGS"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@dataclass(frozen=True)
class Interaction:
    """One request and the answer the real server gave to it."""

    cassette: str
    method: str
    url: str
    request_body: str
    status: int
    headers: dict[str, str]  # lower-case names, first value
    body: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query, keep_blank_values=True)

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.request_body, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


@cache
def load(name: str) -> tuple[Interaction, ...]:
    """Every interaction of ``cassettes/<name>.yaml``, in the order they were recorded."""
    folder = cassette_dir()
    if folder is None:
        raise FileNotFoundError("Mastodon.py's recordings are not on this machine")
    data = yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))
    out = []
    for item in data["interactions"]:
        req, resp = item["request"], item["response"]
        body = resp["body"].get("string", "")
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        out.append(
            Interaction(
                cassette=name,
                method=req["method"],
                url=req["uri"],
                request_body=req["body"] if isinstance(req.get("body"), str) else "",
                status=int(resp["status"]["code"]),
                headers={k.lower(): str(v[0]) for k, v in resp["headers"].items() if v},
                body=body,
            )
        )
    return tuple(out)


def find(name: str, method: str, path_regex: str, status: int | None = None) -> Interaction:
    """The first interaction of a cassette matching the method and path (and status)."""
    for item in load(name):
        if item.method == method and re.search(path_regex, item.path) and status in (None, item.status):
            return item
    raise LookupError(f"{name}: no {method} {path_regex} {status or ''}")


# -- shapes ------------------------------------------------------------------------------------


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def paths(value: Any, prefix: str = "$") -> Iterator[tuple[str, str]]:
    """Every (path, JSON type) in ``value``; list elements share the path ``prefix[]``."""
    kind = json_type(value)
    yield prefix, kind
    if kind == "object":
        for key, item in value.items():
            yield from paths(item, f"{prefix}.{key}")
    elif kind == "array":
        for item in value:
            yield from paths(item, f"{prefix}[]")


def shape(value: Any) -> dict[str, set[str]]:
    """The shape of a JSON document: each path with the set of types seen there."""
    out: dict[str, set[str]] = {}
    for path, kind in paths(value):
        out.setdefault(path, set()).add(kind)
    return out


def shape_differences(recorded: Any, ours: Any) -> dict[str, str]:
    """What the recording has that ``ours`` lacks or types differently, path -> why.

    ``null`` fits any type on either side (a nullable field that happened to be empty or set);
    a path under an array that is empty on our side cannot be compared and counts as missing
    only if the array itself is missing.
    """
    want, have = shape(recorded), shape(ours)
    out: dict[str, str] = {}
    for path, kinds in want.items():
        if path not in have:
            parent = path.rsplit("[]", 1)[0] if "[]" in path else None
            if parent is not None and parent in have and not any(k.startswith(parent + "[]") for k in have):
                continue  # our array is empty there: nothing to compare
            if _under_null(path, have):
                continue
            out[path] = f"missing (recorded as {'/'.join(sorted(kinds))})"
            continue
        real = kinds - {"null"}
        mine = have[path] - {"null"}
        if real and mine and not real & mine:
            out[path] = f"recorded {'/'.join(sorted(real))}, ours {'/'.join(sorted(mine))}"
    return out


def _under_null(path: str, have: dict[str, set[str]]) -> bool:
    """True when an ancestor of ``path`` is null on our side (a ``reblog`` that is not a boost)."""
    parts = re.split(r"(?=\.)|(?=\[\])", path)
    for i in range(1, len(parts)):
        ancestor = "".join(parts[:i])
        if have.get(ancestor) == {"null"}:
            return True
    return False


def extra_keys(recorded: Any, ours: Any) -> set[str]:
    """Paths our side sends that the recording never showed (under objects the recording has)."""
    want, have = shape(recorded), shape(ours)
    extra = set()
    for path in have:
        if path in want or path.endswith("[]"):
            continue  # an element of an array the recording has empty: nothing to hold it to
        parent = path.rsplit(".", 1)[0]
        if "object" in want.get(parent, set()):
            extra.add(path)
    return extra


# -- replay ------------------------------------------------------------------------------------


class Replay(LoopbackServer):
    """Answers on 127.0.0.1 with recorded responses, matched by method and path (query aside),
    each used once in recorded order, the last one repeated. Links in the recorded headers are
    pointed at this server."""

    def __init__(self, *interactions: Interaction) -> None:
        self._answers: dict[tuple[str, str], list[Interaction]] = {}
        for item in interactions:
            self._answers.setdefault((item.method, item.path.rstrip("/")), []).append(item)
        router = Router()
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            router.add(method, r"/.*", self._answer)
        super().__init__(router)

    def _answer(self, req: Request) -> Response:
        queue = self._answers.get((req.method, req.path.rstrip("/")))
        if not queue:
            return Response.of_json({"error": f"not recorded: {req.method} {req.path}"}, 599)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        headers = {
            k: v.replace("http://localhost:3000", self.base_url)
            for k, v in item.headers.items()
            if k not in ("content-length", "content-encoding", "transfer-encoding", "connection", "date")
        }
        return Response(item.status, item.body.encode("utf-8"), headers)
