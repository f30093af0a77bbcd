"""How the long-running process keeps its resident memory small: the C allocator's side of it
(glibc's ``mallopt`` and ``malloc_trim``). Elsewhere (musl, macOS) both do nothing."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt's parameter number for the arena limit, from glibc's malloc.h
ARENAS = 2


def _glibc() -> ctypes.CDLL | None:
    """The C library this interpreter runs on, when it is glibc (the process's own symbols)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "malloc_trim") else None


def limit_arenas() -> None:
    """At most two malloc arenas, where glibc would give each of the worker threads its own (up
    to eight per core): each keeps a megabyte or more of freed memory it rarely hands back. The
    threads here run short blocking calls (the store, sync SDKs), so sharing two costs nothing
    you could measure. The same as ``MALLOC_ARENA_MAX=2``, applied by ``run`` itself; called
    before the first thread starts."""
    libc = _glibc()
    if libc is not None and not libc.mallopt(M_ARENA_MAX, ARENAS):
        log.debug("mallopt refused the arena limit")


def release_freed() -> None:
    """Hand the memory the allocator holds free (in its heaps' middles too) back to the system:
    what a burst of work (a page tour, a day's start) freed stops counting as resident. Costs
    microseconds when there is little to give back."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
