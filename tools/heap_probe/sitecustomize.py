"""Where the reference app's memory goes, sampled inside its process (an experiment tool).

Put this directory on PYTHONPATH and set SURGE_PROBE_OUT=FILE: in the `surge app serve`
process (and no other), a thread writes one JSON line every SURGE_PROBE_S seconds (10): RSS,
SQLite's own heap (`sqlite3_memory_used`: every connection's page cache, schema and
statements), glibc's heap (`mallinfo2`, all arenas: system bytes, in use, free), the gc's
object count and the thread count. SURGE_PROBE_STATS=1 also prints glibc's `malloc_stats`
(one block per arena) to the app's log every minute; SURGE_PROBE_TRIM_S=N calls
`malloc_trim(0)` every N s and records the RSS after it. glibc and Linux only.

    PYTHONPATH=$PWD:$PWD/tools/heap_probe SURGE_PROBE_OUT=/tmp/probe.jsonl SURGE_PROBE_STATS=1 \\
      surge loadtest run --scenario smoke --start-app sqlite --rate 10 --shape soak ...
"""

from __future__ import annotations

import os
import sys

_OUT = os.environ.get("SURGE_PROBE_OUT")
MB = 2**20
MALLINFO2_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


def _start(out: str) -> None:
    import ctypes
    import ctypes.util
    import gc
    import json
    import threading
    import time

    sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    libc = ctypes.CDLL(ctypes.util.find_library("c"))

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2_FIELDS.split()]

    libc.mallinfo2.restype = Mallinfo2
    every_s = float(os.environ.get("SURGE_PROBE_S", "10"))
    trim_s = float(os.environ.get("SURGE_PROBE_TRIM_S", "0"))
    stats = os.environ.get("SURGE_PROBE_STATS") == "1"

    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        return round(kb / 1024, 2)

    def loop() -> None:
        t0 = time.monotonic()
        next_trim, next_stats = trim_s, 0.0
        with open(out, "a") as sink:
            while True:
                t = time.monotonic() - t0
                heap = libc.mallinfo2()
                row = {
                    "t": round(t, 1),
                    "rss": rss_mb(),
                    "sqlite_mb": round(sqlite.sqlite3_memory_used() / MB, 2),
                    "malloc_arena_mb": round(heap.arena / MB, 2),
                    "malloc_used_mb": round(heap.uordblks / MB, 2),
                    "malloc_free_mb": round(heap.fordblks / MB, 2),
                    "gc_objects": len(gc.get_objects()),
                    "threads": threading.active_count(),
                }
                if trim_s and t >= next_trim:
                    libc.malloc_trim(0)
                    row["rss_after_trim"] = rss_mb()
                    next_trim += trim_s
                if stats and t >= next_stats:
                    sys.stderr.write(f"--- malloc_stats t={row['t']}\n")
                    sys.stderr.flush()
                    libc.malloc_stats()
                    next_stats += 60.0
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                time.sleep(every_s)

    threading.Thread(target=loop, daemon=True, name="heap-probe").start()


if _OUT and sys.argv[1:3] == ["app", "serve"]:
    _start(_OUT)
