"""The files the bot writes on the admin's disk: readable by their owner only unless the admin
asks otherwise (``files.mode``, or ``--mode`` on a command), and CSV cells a spreadsheet will
not run as a formula.

Members' names and handles end up in exports and reports; a shared machine or a mis-set umask
must not hand them to every local user, and a display name such as ``=HYPERLINK(...)`` must stay
text when a curator opens the export in a spreadsheet.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from bot.errors import ConfigError

OWNER_ONLY = 0o600

# What makes a spreadsheet read a cell as a formula (OWASP's list), and the full-width forms some
# spreadsheet apps read the same way. Tab and carriage return count: Excel skips them first.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_QUOTE = "'"


def parse_mode(text: str | int, key: str = "files.mode") -> int:
    """An octal file mode as people write it (``600``, ``0640``, ``0o644``); the owner must keep
    read and write (the bot reads its own database back), and no execute bits."""
    raw = str(text).strip().lower().removeprefix("0o")
    if not raw or not raw.isdigit() or any(c in "89" for c in raw) or len(raw) > 4:
        raise ConfigError(key, f"expected an octal file mode like 600 or 640, got {text!r}")
    mode = int(raw, 8)
    if mode & 0o600 != 0o600 or mode & 0o111 or mode > 0o777:
        raise ConfigError(
            key, f"expected a mode the owner can read and write, without execute bits: {text!r}"
        )
    return mode


def dir_mode(file_mode: int) -> int:
    """The mode of a directory holding files of ``file_mode``: who may read may also enter."""
    return file_mode | ((file_mode & 0o444) >> 2)


@contextlib.contextmanager
def open_private(path: Path, mode: int = OWNER_ONLY, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Open ``path`` for writing, created (or truncated) with exactly ``mode``: the file never
    exists with wider permissions, not even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # an existing file keeps its old mode through O_CREAT; the umask narrows
    except BaseException:
        os.close(fd)
        raise
    if binary:
        with os.fdopen(fd, "wb") as fb:
            yield fb
    else:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as ft:
            yield ft


def write_text(path: Path, text: str, mode: int = OWNER_ONLY) -> None:
    with open_private(path, mode) as f:
        f.write(text)


def write_bytes(path: Path, data: bytes, mode: int = OWNER_ONLY) -> None:
    with open_private(path, mode, binary=True) as f:
        f.write(data)


def make_private_dir(path: Path, mode: int = OWNER_ONLY) -> None:
    """Create ``path`` (and missing parents) as a directory for files of ``mode``."""
    path.mkdir(parents=True, exist_ok=True, mode=dir_mode(mode))
    os.chmod(path, dir_mode(mode))


def private_sqlite(database: str, mode: int = OWNER_ONLY) -> None:
    """A SQLite database file (and its ``-wal``/``-shm``/``-journal``) with exactly ``mode``,
    created empty if missing, so SQLite, which gives its side files the main file's mode, never
    writes one readable by others. Nothing happens for in-memory databases or a missing
    directory (SQLite then says what is wrong itself)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    except OSError:
        return
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", mode)


# -- CSV -------------------------------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    """``value`` as a spreadsheet should show it: a number stays a number; text a spreadsheet
    would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a CR) gets a
    leading ``'``, which spreadsheets take as "this is text". Text that starts with ``'`` gets
    one more, so every cell reads back as exactly what was written (``csv_value``)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(_QUOTE) or (text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text)):
        return _QUOTE + text
    return text


def csv_value(cell: str) -> str:
    """A text cell read back from a CSV written here: the original text."""
    return cell[1:] if cell.startswith(_QUOTE) else cell


def csv_rows(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    for row in rows:
        yield [csv_cell(v) for v in row]


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], mode: int = OWNER_ONLY
) -> int:
    """Write ``rows`` under ``header`` to ``path`` (owner-only unless ``mode`` says otherwise),
    every cell neutralised; returns how many rows."""
    count = 0
    with open_private(path, mode) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in csv_rows(rows):
            writer.writerow(row)
            count += 1
    return count


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The same CSV as text (for tests and previews)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(csv_rows(rows))
    return buffer.getvalue()
