"""Admin routes (Bearer admin key): centres, slots, invariants, vaccine rules, waiting room."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from reference_app import room_line
from reference_app import vaccines as vaccine_rules
from reference_app.bookings import invariants
from reference_app.centers import create_center
from reference_app.context import AppContext, context
from reference_app.database import reading, writing
from reference_app.errors import NO_CONTROL, ApiError, not_found
from reference_app.identity import same_secret
from reference_app.patients import bearer, find_by_email
from reference_app.schema import center_vaccines, centers
from reference_app.slots import open_series

MAX_ID = 2**62
Vaccine = Literal["pfizer", "moderna", "astrazeneca", "janssen"]


def require_admin(
    ctx: Annotated[AppContext, Depends(context)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    token = bearer(authorization)
    if not same_secret(token, ctx.settings.admin_key):
        raise ApiError(403, "forbidden", "this token is not the admin key")


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class CenterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    kind: Literal["vaccination", "teleconsultation"]
    postcode: str = Field(pattern=r"^\d{5}$")
    vaccines: list[Vaccine] = Field(min_length=1, max_length=4)


class SlotsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vaccine: Vaccine
    dose: int = Field(ge=1, le=2)
    start: datetime = Field(description="ISO 8601; without a timezone it is UTC")
    capacity: int = Field(ge=1, le=1000)
    count: int = Field(default=1, ge=1, le=2000)
    interval_minutes: int = Field(default=10, ge=1, le=1440)


class VaccineWindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(ge=1, le=365)
    max_days: int = Field(ge=1, le=365)

    @model_validator(mode="after")
    def _ordered(self) -> VaccineWindowIn:
        if self.max_days < self.min_days:
            raise ValueError("max_days must be >= min_days")
        return self


class WaitingRoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    rate_per_s: float = Field(default=0.0, ge=0, le=1_000_000)
    pass_lifetime_s: float | None = Field(default=None, gt=0, le=86_400)


@router.post("/centers", status_code=201)
def post_center(ctx: Annotated[AppContext, Depends(context)], body: CenterIn) -> dict:
    """Create a centre offering some vaccines (then open its slots)."""
    with writing(ctx.engine) as conn:
        return create_center(conn, body.name, body.kind, body.postcode, list(body.vaccines))


@router.post("/centers/{center_id}/slots", status_code=201)
def post_slots(
    ctx: Annotated[AppContext, Depends(context)],
    center_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: SlotsIn,
) -> dict:
    """Open `count` slots every `interval_minutes` from `start`: how a campaign opens."""
    start = body.start if body.start.tzinfo else body.start.replace(tzinfo=UTC)
    start_s = int(start.timestamp())
    now_s = time.time()
    if not now_s - 86_400 <= start_s <= now_s + 400 * 86_400:
        raise ApiError(
            422, "date_out_of_range", "start must be between yesterday and 400 days ahead"
        )
    with writing(ctx.engine) as conn:
        if conn.execute(select(centers.c.id).where(centers.c.id == center_id)).first() is None:
            raise not_found(f"centre {center_id}")
        offered = conn.execute(
            select(center_vaccines.c.vaccine).where(
                center_vaccines.c.center_id == center_id, center_vaccines.c.vaccine == body.vaccine
            )
        ).first()
        if offered is None:
            raise ApiError(
                422, "vaccine_not_offered", f"centre {center_id} does not offer {body.vaccine}"
            )
        rule = vaccine_rules.get_vaccine(conn, body.vaccine)
        if body.dose == 2 and rule and rule["doses"] == 1:
            raise ApiError(422, "single_dose_vaccine", f"{body.vaccine} has no dose 2")
        opened = open_series(
            conn,
            center_id,
            body.vaccine,
            body.dose,
            start_s,
            body.capacity,
            body.count,
            body.interval_minutes,
        )
    return {"slots": opened}


@router.get("/invariants")
def get_invariants(ctx: Annotated[AppContext, Depends(context)]) -> dict:
    """Broken booking rules (each always 0) and the number of active appointments."""
    with reading(ctx.engine) as conn:
        return invariants(conn)


@router.put("/vaccines/{code}")
def put_vaccine(
    ctx: Annotated[AppContext, Depends(context)], code: Vaccine, body: VaccineWindowIn
) -> dict:
    """Change a two-dose vaccine's dose-2 window: new bookings follow it, existing ones stay valid."""
    with writing(ctx.engine) as conn:
        rule = vaccine_rules.get_vaccine(conn, code)
        if rule is None:
            raise not_found(f"vaccine {code}")
        if rule["doses"] != 2:
            raise ApiError(422, "single_dose_vaccine", f"{code} has no dose-2 window")
        return vaccine_rules.set_window(conn, code, body.min_days, body.max_days) or rule


@router.get("/waiting-room")
def get_waiting_room(ctx: Annotated[AppContext, Depends(context)]) -> dict:
    with reading(ctx.engine) as conn:
        config = room_line.read_config(conn)
        queued = room_line.queue_length(conn, ctx.clock())
    return {**config.model_dump(), "queued": queued}


@router.put("/waiting-room")
def put_waiting_room(ctx: Annotated[AppContext, Depends(context)], body: WaitingRoomIn) -> dict:
    """Switch the waiting room on or off and set its admission rate (visitors per second)."""
    if body.enabled and body.rate_per_s <= 0:
        raise ApiError(422, "invalid_request", "rate_per_s must be > 0 when enabled")
    config = room_line.configure(
        ctx.engine, body.enabled, body.rate_per_s, body.pass_lifetime_s, now_s=ctx.clock()
    )
    ctx.waiting_room = None  # this worker sees it at once; others within the cache period
    return config.model_dump()


@router.get("/patients")
def get_patients(
    ctx: Annotated[AppContext, Depends(context)],
    email: Annotated[str, Query(min_length=3, max_length=254)],
) -> list[dict]:
    """Look patients up by email through the blind index (no plaintext email is stored)."""
    with reading(ctx.engine) as conn:
        return find_by_email(conn, ctx.keyring, email)
