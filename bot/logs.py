"""One line per event, naming community, platform and ids; JSON for hosts that collect logs.

A redaction filter sits on the root handler: every secret that came from the environment,
and anything shaped like a bearer token, is masked before a line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_TOKENISH = re.compile(r"(?i)(bearer\s+|access_token=|token=|password=|/bot)([A-Za-z0-9:_\-.]{8,})")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s/]+@")  # postgresql://user:secret@host


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        text = _URL_PASSWORD.sub(r"\1***@", text)
        return _TOKENISH.sub(lambda m: m.group(1) + "***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.clean(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.clean(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = " ".join(f"{k}={_quote(v)}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname.lower():7} {record.getMessage()}"
        if extra:
            line += " " + extra
        if record.exc_text:
            line += " | " + record.exc_text.replace("\n", " | ")
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **{
                k: v if isinstance(v, int | float | bool | None) else str(v)
                for k, v in _fields(record).items()
            },
        }
        if record.exc_text:
            payload["error"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def setup(
    fmt: str = "line", level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> Redactor:
    """Configure the root logger; returns the redactor so new secrets can be added later."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LineFormatter())
    redactor = Redactor(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "urllib3", "alembic", "telegram.ext"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
