"""Booking commits/s straight through the database layer vs through HTTP (`surge bench app`).

(a) direct: the booking transaction (`reference_app.bookings.book` in one write transaction),
issued by C threads; (b) HTTP: the same bookings sent as `POST /appointments` to the app served
by uvicorn, from a load generator of plain asyncio keep-alive connections in separate processes
(cheap enough per request that it is not the bottleneck). Both for a spread-out load (random
slots over many centres) and a hot-slot load (everyone books the same slot).

Without `db`: SQLite in a temp dir, plus a fresh PostgreSQL database when SURGE_TEST_POSTGRES_URL
or SURGE_DATABASE_URL is set. With `db`, that database's content is replaced.

A little over 400 lines: the two paths (direct and HTTP) and their process fan-out are measured
side by side in one run, and splitting them would split one comparison across modules.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

from surge.bench.record import BenchRecord, new_record

HOT_CAPACITY = 1_000_000


# ---- dataset -------------------------------------------------------------------------------


def _prepare(url: str, patients: int, data_key: str) -> dict:
    """Seed centres and slots, one hot centre, and `patients` patients with known tokens."""
    from sqlalchemy import insert, select

    from reference_app import schema
    from reference_app.database import make_engine, writing
    from reference_app.identity import Keyring, hash_token, new_token
    from reference_app.seed import SeedPlan, seed

    engine = make_engine(url, pool_size=4)
    seed(engine, SeedPlan(centers=60, days=7, seed=7))
    keyring = Keyring.parse(data_key)
    sealed = {
        f: keyring.encrypt("bench", f)
        for f in ("first_name", "last_name", "birth_date", "email", "phone")
    }
    tokens = [new_token() for _ in range(patients)]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    with writing(engine) as conn:
        hot_center = conn.execute(
            insert(schema.centers)
            .values(
                name="Stade (hot)",
                kind="vaccination",
                postcode="75015",
                department="75",
                lat=48.84,
                lon=2.29,
                opens_min=480,
                closes_min=1200,
            )  # fmt: skip
            .returning(schema.centers.c.id)
        ).scalar_one()
        conn.execute(insert(schema.center_vaccines).values(center_id=hot_center, vaccine="pfizer"))
        hot = conn.execute(
            insert(schema.slots)
            .values(
                center_id=hot_center,
                vaccine="pfizer",
                dose=1,
                start_s=int(start.timestamp()),
                capacity=HOT_CAPACITY,
                remaining=HOT_CAPACITY,
            )  # fmt: skip
            .returning(schema.slots.c.id)
        ).scalar_one()
        conn.execute(
            insert(schema.slots).values(
                center_id=hot_center, vaccine="pfizer", dose=2, start_s=int((start + timedelta(days=25)).timestamp()),
                capacity=HOT_CAPACITY, remaining=HOT_CAPACITY,
            )
        )  # fmt: skip
        rows = [
            {"token_hash": hash_token(t), "email_index": uuid.uuid4().hex, "created_s": 0, **sealed}
            for t in tokens
        ]
        for i in range(0, len(rows), 5000):
            conn.execute(insert(schema.patients), rows[i : i + 5000])
        ids = (
            conn.execute(select(schema.patients.c.id).order_by(schema.patients.c.id))
            .scalars()
            .all()
        )
        spread = (
            conn.execute(
                select(schema.slots.c.id).where(
                    schema.slots.c.dose == 1,
                    schema.slots.c.center_id != hot_center,
                    schema.slots.c.start_s > int(time.time()) + 3600,
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return {"tokens": tokens, "patient_ids": list(ids), "hot": hot, "spread": list(spread)}


def _percentiles_ms(latencies: list[float]) -> tuple[float | None, float | None]:
    if not latencies:
        return None, None
    import numpy as np

    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return round(float(p50), 2), round(float(p99), 2)


# ---- (a) direct ------------------------------------------------------------------------------


def _direct_process(
    url: str, patient_ids: list[int], slots: list[int], threads: int, duration_s: float, barrier
) -> dict:
    """One process of the direct path: `threads` threads booking through the query layer."""
    from sqlalchemy.exc import SQLAlchemyError

    from reference_app.bookings import BookingError, book
    from reference_app.database import make_engine, writing

    engine = make_engine(url, pool_size=threads)
    lock = threading.Lock()
    queue = iter(patient_ids)
    outcomes: Counter = Counter()
    latencies: list[float] = []
    go = threading.Event()
    end_at = [0.0]

    def run(worker: int) -> None:
        rng = random.Random(worker)  # noqa: S311 - load and simulation randomness, not security
        mine: list[float] = []
        counts: Counter = Counter()
        go.wait()
        while time.perf_counter() < end_at[0]:
            with lock:
                patient = next(queue, None)
            if patient is None:
                counts["out_of_patients"] += 1
                break
            started = time.perf_counter()
            try:
                with writing(engine) as conn:
                    book(conn, patient, rng.choice(slots))
                mine.append(time.perf_counter() - started)
                counts["commit"] += 1
            except BookingError as exc:
                counts[exc.error] += 1
            except SQLAlchemyError as exc:  # e.g. a lock wait over the statement timeout
                counts[f"db_error:{type(exc).__name__}"] += 1
        with lock:
            latencies.extend(mine)
            outcomes.update(counts)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()  # every process is ready: start together
    end_at[0] = time.perf_counter() + duration_s
    go.set()
    for t in pool:
        t.join()
    engine.dispose()
    return {"outcomes": dict(outcomes), "latencies": latencies}


def _direct(
    url: str, patient_ids: list[int], slots: list[int], concurrency: int, duration_s: float,
    processes: int,
) -> dict:  # fmt: skip
    """The booking transaction straight through the database layer: `concurrency` threads spread
    over `processes` processes (as many as the server has workers, so neither side is GIL-bound
    where the other is not)."""
    processes = max(1, min(processes, concurrency))
    threads = [
        concurrency // processes + (1 if p < concurrency % processes else 0)
        for p in range(processes)
    ]
    results = _fan_out(
        _direct_process,
        [(url, patient_ids[p::processes], slots, threads[p], duration_s) for p in range(processes)],
    )
    outcomes: Counter = Counter()
    latencies: list[float] = []
    for r in results:
        outcomes.update(r["outcomes"])
        latencies.extend(r["latencies"])
    p50, p99 = _percentiles_ms(latencies)
    return {"commits_per_s": round(outcomes["commit"] / duration_s, 1), "p50_ms": p50, "p99_ms": p99,
            "processes": processes, "outcomes": dict(outcomes)}  # fmt: skip


# ---- (b) HTTP ----------------------------------------------------------------------------------


async def _connection(
    port: int, jobs: list[tuple[bytes, int]], start: asyncio.Event, end_at: list[float], out: dict
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await start.wait()
    for token, slot in jobs:
        if time.perf_counter() >= end_at[0]:
            break
        body = b'{"slot_id": %d}' % slot
        request = (
            b"POST /appointments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token
            + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body
        )  # fmt: skip
        started = time.perf_counter()
        writer.write(request)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        out["statuses"][status] += 1
        if status == 201:
            out["latencies"].append(time.perf_counter() - started)
    writer.close()


def _http_process(
    port: int, jobs: list[list[tuple[bytes, int]]], duration_s: float, barrier
) -> dict:
    """One load-generator process: one keep-alive connection per job list."""
    out: dict = {"statuses": Counter(), "latencies": []}

    async def main() -> None:
        start = asyncio.Event()
        end_at = [0.0]
        tasks = [asyncio.create_task(_connection(port, j, start, end_at, out)) for j in jobs]
        await asyncio.sleep(0.2)  # let the connections open
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
        end_at[0] = time.perf_counter() + duration_s
        start.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return {"statuses": dict(out["statuses"]), "latencies": out["latencies"]}


def _fan_out(target, per_process_args: list[tuple]) -> list[dict]:
    """Run `target(*args, barrier)` in one spawned process per args tuple; each process prepares,
    waits on the shared barrier (so all start measuring together), runs, and returns a dict."""
    ctx = get_context("spawn")
    barrier = ctx.Barrier(len(per_process_args) + 1)
    queue = ctx.Queue()
    processes = [
        ctx.Process(target=_child, args=(target, args, barrier, queue)) for args in per_process_args
    ]
    for p in processes:
        p.start()
    try:
        barrier.wait(timeout=300)
        results = [queue.get(timeout=900) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return results


def _child(target, args: tuple, barrier, queue) -> None:
    queue.put(target(*args, barrier))


def _http(port: int, tokens: list[str], slots: list[int], concurrency: int, duration_s: float,
          processes: int) -> dict:  # fmt: skip
    rng = random.Random(11)  # noqa: S311 - load and simulation randomness, not security
    per_connection = [[] for _ in range(concurrency)]
    for i, token in enumerate(tokens):
        per_connection[i % concurrency].append((token.encode(), rng.choice(slots)))
    groups = [per_connection[p::processes] for p in range(processes)]
    results = _fan_out(_http_process, [(port, group, duration_s) for group in groups])
    statuses: Counter = Counter()
    latencies: list[float] = []
    for r in results:
        statuses.update({int(k): v for k, v in r["statuses"].items()})
        latencies.extend(r["latencies"])
    p50, p99 = _percentiles_ms(latencies)
    return {"commits_per_s": round(statuses[201] / duration_s, 1), "p50_ms": p50, "p99_ms": p99,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}  # fmt: skip


# ---- one backend -------------------------------------------------------------------------------


def bench_backend(url: str, backend: str, concurrency: int, duration_s: float, loads: list[str],
                  workers: int, processes: int, patients: int) -> list[dict]:  # fmt: skip
    from loadtests.app_launcher import fresh_keys, served_app

    admin_key, data_key = fresh_keys()
    print(f"[{backend}] preparing dataset and {patients} patients...", file=sys.stderr, flush=True)
    data = _prepare(url, patients, data_key)
    load_before = round(os.getloadavg()[0], 1)
    half = len(data["patient_ids"]) // 2
    direct_ids, http_tokens = data["patient_ids"][:half], data["tokens"][half:]
    per_load = max(1, half // len(loads))
    runs = []
    for n, load in enumerate(loads):
        slots = [data["hot"]] if load == "hot" else data["spread"]
        ids = direct_ids[n * per_load : (n + 1) * per_load]
        print(
            f"[{backend}] direct {load}: {concurrency} threads in {workers} processes x {duration_s:g} s",
            file=sys.stderr,
            flush=True,
        )
        runs.append(
            {
                "backend": backend,
                "load": load,
                "direct": _direct(url, ids, slots, concurrency, duration_s, workers),
            }
        )
    extra = [
        "--rate-limit-ip",
        "0",
        "--rate-limit-token",
        "0",
        "--db-pool-size",
        str(max(4, concurrency // workers + 2)),
    ]
    with served_app(
        url, workers=workers, extra_args=extra, admin_key=admin_key, data_key=data_key
    ) as app:
        for n, (load, run) in enumerate(zip(loads, runs, strict=True)):
            slots = [data["hot"]] if load == "hot" else data["spread"]
            tokens = http_tokens[n * per_load : (n + 1) * per_load]
            print(f"[{backend}] HTTP {load}: {concurrency} connections from {processes} processes, "
                  f"{workers} server workers", file=sys.stderr, flush=True)  # fmt: skip
            run["http"] = _http(app.port, tokens, slots, concurrency, duration_s, processes)
        import httpx

        run_checks = httpx.get(f"{app.base_url}/admin/invariants", headers={"Authorization": f"Bearer {admin_key}"},
                               timeout=120).json()  # fmt: skip
    for run in runs:
        direct, http = run["direct"]["commits_per_s"], run["http"]["commits_per_s"]
        run.update(
            concurrency=concurrency, duration_s=duration_s, server_workers=workers, generator_processes=processes,
            ratio=round(http / direct, 3) if direct else None, invariants=run_checks,
            load_average_1m={"before": load_before, "after": round(os.getloadavg()[0], 1)},
        )  # fmt: skip
    return runs


def describe(record: BenchRecord) -> list[str]:
    runs = record.figures["runs"]
    lines = []
    lines.append(f"{'backend':<10} {'load':<7} {'direct/s':>9} {'HTTP/s':>8} {'ratio':>6}  "
          f"{'direct p50/p99 ms':>18}  {'HTTP p50/p99 ms':>16}")  # fmt: skip
    for r in runs:
        d, h = r["direct"], r["http"]
        lines.append(f"{r['backend']:<10} {r['load']:<7} {d['commits_per_s']:>9} {h['commits_per_s']:>8} {r['ratio']!s:>6}  "
              f"{d['p50_ms']!s:>8}/{d['p99_ms']!s:<9}  {h['p50_ms']!s:>7}/{h['p99_ms']!s:<8}")  # fmt: skip
    bad = {
        f"{r['backend']}:{k}": v
        for r in runs
        for k, v in r["invariants"].items()
        if k != "appointments" and v
    }
    lines.append("invariants: " + ("all zero" if not bad else json.dumps(bad)))
    return lines


def _targets(db: str | None, tmp: Path, stack: ExitStack) -> list[tuple[str, str]]:
    """(backend, URL) pairs; a fresh PostgreSQL database lives as long as `stack`."""
    from loadtests.postgres import fresh_database
    from reference_app.settings import normalize_database_url

    if db:
        url = normalize_database_url(db)
        return [("postgresql" if url.startswith("postgresql") else "sqlite", url)]
    targets = [("sqlite", f"sqlite:///{tmp / 'bench.db'}")]
    server = os.environ.get("SURGE_TEST_POSTGRES_URL") or os.environ.get("SURGE_DATABASE_URL")
    if server and server.startswith("postgres"):
        fresh = stack.enter_context(fresh_database(server, prefix="surge_bench"))
        targets.append(("postgresql", normalize_database_url(fresh)))
    return targets


@dataclass(frozen=True)
class AppBenchOptions:
    db: str | None = None  # benchmark this database (its content is replaced)
    concurrency: int = 16  # threads / HTTP connections
    duration_s: float = field(default=8.0, metadata={"flag": "--duration"})
    hot: bool = False  # only the hot-slot load
    app_workers: int = 2
    generators: int = 2  # load-generator processes


def run(options: AppBenchOptions) -> BenchRecord:
    concurrency, duration_s = options.concurrency, options.duration_s
    workers, processes = options.app_workers, options.generators
    loads = ["hot"] if options.hot else ["spread", "hot"]
    patients = int(min(200_000, max(4000, concurrency * duration_s * 400)))
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="surge-bench-app-") as tmp, ExitStack() as stack:
        for backend, url in _targets(options.db, Path(tmp), stack):
            runs += bench_backend(
                url, backend, concurrency, duration_s, loads, workers, processes, patients
            )
    return new_record("app", options, {"runs": runs})
