"""The app process's C heap: a cap on glibc malloc's arenas.

glibc gives a thread that allocates while others do its own arena, up to 8 per core. The app's
synchronous routes run in anyio's worker threads, which are started and retired as the load
varies, so each arena ends up holding freed memory that the others do not reuse and that is
not returned to the system: the app's RSS creeps up while the memory in use stays level. A
few arenas shared by all threads reuse each other's free space (docs/reliability.md, Soak, has
the measurements). `cap_malloc_arenas` is called once per worker process, before it serves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["DEFAULT_MALLOC_ARENAS", "M_ARENA_MAX", "cap_malloc_arenas"]

# One per core of the 2-core machine the soak was measured on: RSS level (docs/reliability.md).
DEFAULT_MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # mallopt parameter number (glibc <malloc.h>)


def cap_malloc_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas in this process from now on (0: glibc's default).

    Returns True when the cap was applied; False when `arenas` is 0 or the C library is not
    glibc (musl, macOS: their allocators have no such arenas). Raises ValueError on a negative
    count.
    """
    if arenas < 0:
        raise ValueError(f"malloc arenas must be 0 (glibc's default) or more, not {arenas}")
    if arenas == 0 or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return libc.mallopt(M_ARENA_MAX, arenas) == 1
