"""What the series and report operations share: checking who acts, the community's "today", and
writing a set of files all or nothing."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot import files
from bot.config import Settings
from bot.ops import series_messages as say
from bot.ops.result import Result, usage
from bot.series.schedule import zone


def not_a_curator(settings: Settings, actor: str) -> Result[Any] | None:
    """A usage result when ``actor`` is not a curator of the config; None when they are."""
    if any(c.name == actor for c in settings.curators):
        return None
    return usage(say.unknown_curator(actor, [c.name for c in settings.curators]))


def read_input(path: str | Path) -> str | Result[Any]:
    """The text of a file a command reads (answers, an import list, an edited text), or a usage
    result saying in one line why it cannot be read: missing, a folder, not allowed, not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return usage(f"{path}: no such file")
    except IsADirectoryError:
        return usage(f"{path}: a folder, not a file")
    except OSError as exc:
        return usage(f"{path}: cannot read it ({exc.strerror or exc})")
    except UnicodeDecodeError:
        return usage(f"{path}: not a text file in UTF-8")


def today(settings: Settings, now: datetime) -> date:
    """The date where the series are published (the series time zone)."""
    return now.astimezone(zone(settings.series.timezone)).date()


def write_all(outputs: Sequence[tuple[Path, str | bytes]], mode: int = files.OWNER_ONLY) -> None:
    """Write every file or none: each goes to a temporary file beside its target first, and only
    when all are written are they renamed into place. OSError names the path that failed."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, content in outputs:
            try:
                fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            staged.append((temp, path))
            os.close(fd)
            with files.open_private(Path(temp), mode, binary=isinstance(content, bytes)) as f:
                f.write(content)
        for temp, path in staged:
            try:
                os.replace(temp, path)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


def write_failed(exc: OSError) -> Result[Any]:
    """The usage result for an output that cannot be written: one line, what and why."""
    return usage(say.cannot_write(str(exc.filename or "the output"), exc.strerror or str(exc)))
