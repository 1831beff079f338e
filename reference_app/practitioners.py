"""Teleconsultation self-onboarding: a practitioner and a weekly agenda that becomes slots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from reference_app import vaccines as vaccine_rules
from reference_app.centers import create_center
from reference_app.client_address import client_address
from reference_app.context import AppContext, context
from reference_app.database import writing
from reference_app.errors import NO_CONTROL, ApiError
from reference_app.rate_limits import hit
from reference_app.slots import AgendaBlock, agenda_rows, dose2_days, insert_rows

router = APIRouter(tags=["practitioners"])
Vaccine = Literal["pfizer", "moderna", "astrazeneca", "janssen"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
MAX_SLOTS = 20_000  # per sign-up: an agenda is a few hundred slots a week, not a flood


def _bounded(rows: Iterator[dict], budget: int) -> list[dict]:
    taken = list(islice(rows, budget + 1))
    if len(taken) > budget:
        raise ApiError(
            422, "too_many_slots", f"this agenda opens more than {MAX_SLOTS} slots; shorten it"
        )
    return taken


class AgendaBlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: str = Field(pattern=HHMM, description="HH:MM (UTC)")
    end: str = Field(pattern=HHMM, description="HH:MM (UTC), after start")

    @model_validator(mode="after")
    def _ordered(self) -> AgendaBlockIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def block(self) -> AgendaBlock:
        def minutes(hhmm: str) -> int:
            return int(hhmm[:2]) * 60 + int(hhmm[3:])

        return AgendaBlock(self.weekday, minutes(self.start), minutes(self.end))


class PractitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    postcode: str = Field(pattern=r"^\d{5}$")
    vaccines: list[Vaccine] = Field(min_length=1, max_length=4)
    agenda: list[AgendaBlockIn] = Field(min_length=1, max_length=50)
    interval_minutes: int = Field(default=15, ge=5, le=240)
    capacity: int = Field(default=1, ge=1, le=20)
    weeks: int = Field(default=2, ge=1, le=8)


@router.post("/practitioners", status_code=201)
def post_practitioner(
    request: Request, ctx: Annotated[AppContext, Depends(context)], body: PractitionerIn
) -> dict:
    """Create a teleconsultation practitioner whose agenda opens dose-1 slots for `weeks` weeks
    from tomorrow, and dose-2 slots across each two-dose vaccine's window."""
    client = client_address(request, ctx.settings.trusted_proxies)
    retry_after = hit(
        ctx.engine, [(f"onboard:{client}", ctx.settings.rate_limit_ip_per_min)], ctx.clock()
    )
    if retry_after is not None:
        raise ApiError(
            429,
            "rate_limited",
            "too many sign-ups from this address",
            headers={"Retry-After": str(retry_after)},
        )
    agenda = [b.block() for b in body.agenda]
    first_day = datetime.now(UTC).date() + timedelta(days=1)
    days = body.weeks * 7
    created = 0
    with writing(ctx.engine) as conn:
        center = create_center(
            conn, body.name, "teleconsultation", body.postcode, list(body.vaccines)
        )
        for code in sorted(set(body.vaccines)):
            rows = agenda_rows(
                center["id"], code, 1, first_day, days, agenda, body.interval_minutes, body.capacity
            )
            created += insert_rows(conn, _bounded(rows, MAX_SLOTS - created))
            rule = vaccine_rules.get_vaccine(conn, code)
            if rule and rule["doses"] == 2:
                start, span = dose2_days(first_day, days, rule["min_days"], rule["max_days"])
                rows = agenda_rows(
                    center["id"], code, 2, start, span, agenda, body.interval_minutes, body.capacity
                )
                created += insert_rows(conn, _bounded(rows, MAX_SLOTS - created))
    return {**center, "slots_created": created}
