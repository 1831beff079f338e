"""Centres (vaccination centres and teleconsultation practitioners), search and availability."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select

from reference_app.bookings import DAY_S, iso
from reference_app.context import AppContext, context
from reference_app.database import reading
from reference_app.departments import BY_CODE, DEPARTMENTS, department_of, distance_km
from reference_app.errors import ApiError, not_found
from reference_app.schema import center_vaccines, centers, slots
from reference_app.vaccines import VACCINE_CODES
from reference_app.waiting_room import require_pass

router = APIRouter(tags=["centers"])

Vaccine = Literal["pfizer", "moderna", "astrazeneca", "janssen"]
Postcode = Annotated[str, Field(pattern=r"^\d{5}$", description="five-digit French postcode")]
MAX_DAYS_AHEAD = 366
MAX_ID = 2**62


class CenterOut(BaseModel):
    id: int
    name: str
    kind: Literal["vaccination", "teleconsultation"]
    postcode: str
    department: str
    vaccines: list[str]
    distance_km: float


class SlotOut(BaseModel):
    id: int
    start: str
    capacity: int
    remaining: int


def departments_by_distance(code: str) -> list[str]:
    here = BY_CODE[code]
    return [
        d.code
        for d in sorted(DEPARTMENTS, key=lambda d: distance_km(here.lat, here.lon, d.lat, d.lon))
    ]


def center_position(department: str, rng: random.Random) -> tuple[float, float]:
    """A point near the department's prefecture (about +-25 km)."""
    dep = BY_CODE[department]
    return dep.lat + rng.uniform(-0.22, 0.22), dep.lon + rng.uniform(-0.3, 0.3)


def create_center(
    conn: Connection,
    name: str,
    kind: str,
    postcode: str,
    vaccines: list[str],
    opens_min: int = 540,
    closes_min: int = 1080,
) -> dict:
    dep = department_of(postcode)
    if dep is None:
        raise ApiError(
            422, "unknown_postcode", f"postcode {postcode} is not in a known French department"
        )
    lat, lon = center_position(dep.code, random.Random(f"{name}|{postcode}"))  # noqa: S311 - load and simulation randomness, not security
    center_id = conn.execute(
        insert(centers)
        .values(
            name=name,
            kind=kind,
            postcode=postcode,
            department=dep.code,
            lat=lat,
            lon=lon,
            opens_min=opens_min,
            closes_min=closes_min,
        )
        .returning(centers.c.id)
    ).scalar_one()
    conn.execute(
        insert(center_vaccines),
        [{"center_id": center_id, "vaccine": v} for v in sorted(set(vaccines))],
    )
    return {
        "id": center_id,
        "name": name,
        "kind": kind,
        "postcode": postcode,
        "department": dep.code,
        "vaccines": sorted(set(vaccines)),
    }


def search(conn: Connection, postcode: str, vaccine: str | None, limit: int) -> list[dict]:
    """Centres nearest the postcode's department (same department first), offering `vaccine`."""
    dep = department_of(postcode)
    if dep is None:
        raise ApiError(
            422, "unknown_postcode", f"postcode {postcode} is not in a known French department"
        )
    order = departments_by_distance(dep.code)
    found: list[dict] = []
    step = 1
    start = 0
    while start < len(order) and len(found) < limit:
        batch = order[start : start + step]
        start += step
        step = min(step * 2, 32)
        query = select(centers).where(centers.c.department.in_(batch))
        if vaccine:
            query = query.join(center_vaccines, center_vaccines.c.center_id == centers.c.id).where(
                center_vaccines.c.vaccine == vaccine
            )
        rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["distance_km"] = round(distance_km(dep.lat, dep.lon, row["lat"], row["lon"]), 1)
        rows.sort(key=lambda r: (order.index(r["department"]), r["distance_km"], r["id"]))
        found.extend(rows)
    found = found[:limit]
    offered: dict[int, list[str]] = {row["id"]: [] for row in found}
    if offered:
        for center_id, code in conn.execute(
            select(center_vaccines.c.center_id, center_vaccines.c.vaccine)
            .where(center_vaccines.c.center_id.in_(list(offered)))
            .order_by(center_vaccines.c.vaccine)
        ):
            offered[center_id].append(code)
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "kind": r["kind"],
            "postcode": r["postcode"],
            "department": r["department"],
            "vaccines": offered[r["id"]],
            "distance_km": r["distance_km"],
        }
        for r in found
    ]


def availability(
    conn: Connection, center_id: int, vaccine: str, dose: int, day: date, days: int
) -> list[dict]:
    if conn.execute(select(centers.c.id).where(centers.c.id == center_id)).first() is None:
        raise not_found(f"centre {center_id}")
    lo = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    hi = lo + days * DAY_S
    lo = max(lo, int(time.time()))  # slots that already started are not open
    rows = conn.execute(
        select(slots.c.id, slots.c.start_s, slots.c.capacity, slots.c.remaining)
        .where(
            slots.c.center_id == center_id,
            slots.c.vaccine == vaccine,
            slots.c.dose == dose,
            slots.c.start_s >= lo,
            slots.c.start_s < hi,
            slots.c.remaining > 0,
        )
        .order_by(slots.c.start_s, slots.c.id)
        .limit(2000)
    )
    return [{"id": r[0], "start": iso(r[1]), "capacity": r[2], "remaining": r[3]} for r in rows]


@router.get("/centers", response_model=list[CenterOut], dependencies=[Depends(require_pass)])
def get_centers(
    ctx: Annotated[AppContext, Depends(context)],
    postcode: Annotated[str, Query(pattern=r"^\d{5}$", description="five-digit French postcode")],
    vaccine: Annotated[Vaccine | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[dict]:
    """Centres near a postcode offering that vaccine: same department first, then by distance."""
    with reading(ctx.engine) as conn:
        return search(conn, postcode, vaccine, limit)


@router.get(
    "/centers/{center_id}/availability",
    response_model=list[SlotOut],
    dependencies=[Depends(require_pass)],
)
def get_availability(
    ctx: Annotated[AppContext, Depends(context)],
    center_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    vaccine: Annotated[Vaccine, Query()],
    dose: Annotated[int, Query(ge=1, le=2)] = 1,
    from_: Annotated[
        date | None, Query(alias="from", description="YYYY-MM-DD, default today (UTC)")
    ] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
) -> list[dict]:
    """Open slots (remaining > 0) of one vaccine and dose over `days` days from `from`."""
    today = datetime.now(UTC).date()
    day = from_ or today
    if not today - timedelta(days=1) <= day <= today + timedelta(days=MAX_DAYS_AHEAD):
        raise ApiError(
            422,
            "date_out_of_range",
            f"from must be between yesterday and {MAX_DAYS_AHEAD} days ahead",
        )
    if vaccine not in VACCINE_CODES:  # pragma: no cover - Literal already checks
        raise not_found(f"vaccine {vaccine}")
    with reading(ctx.engine) as conn:
        return availability(conn, center_id, vaccine, dose, day, days)
