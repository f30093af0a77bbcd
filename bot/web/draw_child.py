"""The child process of ``bot.web.drawing``: reads a pickled (function, data) pair that its parent
wrote to standard input, and writes what the function returns (a PNG) to standard output.
Nothing else is imported, so the child starts with only the drawing code in it."""

from __future__ import annotations

import pickle
import sys


def main() -> None:
    draw, data = pickle.loads(sys.stdin.buffer.read())  # written by our own parent process
    picture = draw(data)
    if not isinstance(picture, bytes):
        raise TypeError(f"a drawing function must return bytes, not {type(picture).__name__}")
    sys.stdout.buffer.write(picture)


if __name__ == "__main__":
    main()
