"""A deterministic synthetic national dataset: centres over real department postcodes, the four
vaccines, opening hours, dose-1 slots from the first day and dose-2 slots across each window.

Slots are written with the driver's bulk path (sqlite3 `executemany`, PostgreSQL `COPY`), so
2,000 centres x 14 days load in seconds rather than minutes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import Engine, insert

from reference_app import schema
from reference_app.database import init_db, writing
from reference_app.departments import DEPARTMENTS
from reference_app.slots import day_start_s
from reference_app.vaccines import DEFAULT_VACCINES

# Bigger departments get more centres (rough population weight; Paris area and big cities).
HEAVY = {
    "75": 4,
    "13": 3,
    "59": 4,
    "69": 3,
    "92": 3,
    "93": 3,
    "94": 2,
    "33": 2,
    "31": 2,
    "06": 2,
    "44": 2,
    "67": 2,
    "62": 2,
    "77": 2,
    "78": 2,
    "91": 2,
    "95": 2,
    "34": 2,
    "76": 2,
    "38": 2,
}
VACCINE_SHARE = {"pfizer": 0.85, "moderna": 0.35, "astrazeneca": 0.2, "janssen": 0.1}
RULES = {v["code"]: v for v in DEFAULT_VACCINES}
SLOT_COLUMNS = ("center_id", "vaccine", "dose", "start_s", "capacity", "remaining")


@dataclass(frozen=True)
class SeedPlan:
    centers: int = 2000
    days: int = 14
    seed: int = 42
    first_day: date | None = None  # default: today (UTC)
    teleconsultation_share: float = 0.15


def _centers(plan: SeedPlan, rng: np.random.Generator) -> list[dict]:
    weights = np.array([HEAVY.get(d.code, 1) for d in DEPARTMENTS], dtype=float)
    weights /= weights.sum()
    # Every department gets a centre first (when there are enough), the rest by weight.
    base = list(range(len(DEPARTMENTS))) if plan.centers >= len(DEPARTMENTS) else []
    extra = rng.choice(len(DEPARTMENTS), size=plan.centers - len(base), p=weights)
    picks = sorted([*base, *extra.tolist()])[: plan.centers]
    out = []
    for n, dep_index in enumerate(picks, start=1):
        dep = DEPARTMENTS[dep_index]
        tele = rng.random() < plan.teleconsultation_share
        if tele:
            vaccines = [str(rng.choice(["astrazeneca", "moderna", "janssen"]))]
            interval, capacity, opens, closes = 15, 1, 9 * 60, 17 * 60
        else:
            vaccines = [code for code, share in VACCINE_SHARE.items() if rng.random() < share] or [
                "pfizer"
            ]
            interval = int(rng.choice([5, 10], p=[0.3, 0.7]))
            capacity = int(rng.integers(2, 7))
            opens = int(rng.choice([8, 9])) * 60
            closes = int(rng.choice([17, 18, 19])) * 60
        suffix = (
            f"{int(rng.integers(0, 100)):02d}" if dep.postcode[2:] == "000" else dep.postcode[3:]
        )
        postcode = dep.postcode[:3] + suffix if not dep.code.startswith("97") else dep.postcode
        out.append(
            {
                "id": n,
                "name": f"{'Cabinet de teleconsultation' if tele else 'Centre de vaccination'} {dep.prefecture} #{n}",
                "kind": "teleconsultation" if tele else "vaccination",
                "postcode": postcode if postcode[:2] == dep.postcode[:2] else dep.postcode,
                "department": dep.code,
                "lat": dep.lat + float(rng.uniform(-0.22, 0.22)),
                "lon": dep.lon + float(rng.uniform(-0.3, 0.3)),
                "opens_min": opens,
                "closes_min": closes,
                "_vaccines": vaccines,
                "_interval": interval,
                "_capacity": capacity,
            }
        )
    return out


def _slot_rows(center: dict, first_day: date, days: int) -> Iterator[tuple]:
    """Dose-1 slots every interval over `days` days; dose-2 slots twice as coarse (and twice as
    big) over [min_days, min_days + days + 3) so the earliest dose 2 in each window exists."""
    tele = center["kind"] == "teleconsultation"
    first_s = day_start_s(first_day)
    minutes1 = range(center["opens_min"], center["closes_min"], center["_interval"])
    minutes2 = range(center["opens_min"], center["closes_min"], center["_interval"] * 2)
    cap = center["_capacity"]
    for code in center["_vaccines"]:
        rule = RULES[code]
        spans = [(1, 0, days, minutes1, cap)]
        if rule["doses"] == 2:
            spans.append((2, rule["min_days"], days + 3, minutes2, cap * 2))
        for dose, offset, span, minutes, capacity in spans:
            for d in range(offset, offset + span):
                day_s = first_s + d * 86_400
                if tele and datetime.fromtimestamp(day_s, UTC).weekday() >= 5:
                    continue
                for m in minutes:
                    yield (center["id"], code, dose, day_s + m * 60, capacity, capacity)


def _bulk_slots(conn, rows: Iterator[tuple], batch: int = 50_000) -> int:
    raw = conn.connection.driver_connection
    total = 0
    if conn.dialect.name == "sqlite":
        raw.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache for the load and index build
        sql = f"INSERT INTO slots ({', '.join(SLOT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608 - identifiers are module constants; values are bound
        cursor = raw.cursor()
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                cursor.executemany(sql, chunk)
                total += len(chunk)
                chunk.clear()
        if chunk:
            cursor.executemany(sql, chunk)
            total += len(chunk)
        return total
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY slots ({', '.join(SLOT_COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            total += 1
    return total


def seed(engine: Engine, plan: SeedPlan) -> dict:
    """Replace the database's content with the plan's dataset; returns counts and seconds."""
    if plan.centers < 1 or plan.days < 1:
        raise ValueError("--centers and --days must be >= 1")
    started = time.perf_counter()
    first_day = plan.first_day or datetime.now(UTC).date()
    rng = np.random.default_rng(np.random.SeedSequence(plan.seed))
    centers = _centers(plan, rng)
    schema.metadata.drop_all(engine)
    init_db(engine)
    with writing(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # a bulk load, not a request
        conn.execute(
            insert(schema.centers),
            [{k: v for k, v in c.items() if not k.startswith("_")} for c in centers],
        )
        conn.execute(
            insert(schema.center_vaccines),
            [{"center_id": c["id"], "vaccine": v} for c in centers for v in c["_vaccines"]],
        )
        # Loading before indexing is several times faster than updating the index row by row.
        conn.exec_driver_sql("DROP INDEX IF EXISTS slots_search")
        slot_count = _bulk_slots(
            conn, (row for c in centers for row in _slot_rows(c, first_day, plan.days))
        )
        slots_search = next(i for i in schema.slots.indexes if i.name == "slots_search")
        slots_search.create(conn)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('centers', 'id'), (SELECT max(id) FROM centers))"
            )
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-2000")
            conn.exec_driver_sql("ANALYZE")
    return {
        "centers": len(centers),
        "teleconsultation": sum(c["kind"] == "teleconsultation" for c in centers),
        "slots": slot_count,
        "first_day": first_day.isoformat(),
        "days": plan.days,
        "seed": plan.seed,
        "seconds": round(time.perf_counter() - started, 2),
    }
