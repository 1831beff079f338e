"""Opening slots: explicit series (admin) and weekly agendas turned into bookable slots."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, insert

from reference_app.bookings import iso
from reference_app.schema import slots


@dataclass(frozen=True)
class AgendaBlock:
    """Open on `weekday` (0 = Monday) from `opens_min` to `closes_min` (minutes after 00:00 UTC)."""

    weekday: int
    opens_min: int
    closes_min: int


def day_start_s(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def agenda_rows(
    center_id: int,
    vaccine: str,
    dose: int,
    first_day: date,
    days: int,
    agenda: list[AgendaBlock],
    interval_min: int,
    capacity: int,
) -> Iterator[dict]:
    """Slots of a weekly agenda over `days` days from `first_day` (rows for `slots`)."""
    by_weekday: dict[int, list[AgendaBlock]] = {}
    for block in agenda:
        by_weekday.setdefault(block.weekday, []).append(block)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        base = day_start_s(day)
        for block in by_weekday.get(day.weekday(), ()):
            for minute in range(block.opens_min, block.closes_min, interval_min):
                yield {
                    "center_id": center_id,
                    "vaccine": vaccine,
                    "dose": dose,
                    "start_s": base + minute * 60,
                    "capacity": capacity,
                    "remaining": capacity,
                }


def open_series(
    conn: Connection,
    center_id: int,
    vaccine: str,
    dose: int,
    start_s: int,
    capacity: int,
    count: int,
    interval_min: int,
) -> list[dict]:
    """Open `count` slots every `interval_min` minutes from `start_s`; returns them."""
    rows = [
        {
            "center_id": center_id,
            "vaccine": vaccine,
            "dose": dose,
            "start_s": start_s + i * interval_min * 60,
            "capacity": capacity,
            "remaining": capacity,
        }
        for i in range(count)
    ]
    ids = (
        conn.execute(insert(slots).returning(slots.c.id, sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    return [
        {"id": slot_id, "start": iso(row["start_s"]), "capacity": capacity, "remaining": capacity}
        for slot_id, row in zip(ids, rows, strict=True)
    ]


def insert_rows(conn: Connection, rows: list[dict]) -> int:
    if rows:
        conn.execute(insert(slots), rows)
    return len(rows)


def dose2_days(first_day: date, days: int, min_days: int, max_days: int) -> tuple[date, int]:
    """Days on which dose-2 slots must exist for dose-1 slots on [first_day, first_day + days)."""
    start = first_day + timedelta(days=min_days)
    return start, days + (max_days - min_days)
