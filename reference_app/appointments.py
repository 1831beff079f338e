"""Appointment routes: book (with idempotency and rate limits), list own, cancel own."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from reference_app import idempotency
from reference_app.bookings import BookingError, book, cancel, list_for_patient
from reference_app.client_address import client_address
from reference_app.context import AppContext, context
from reference_app.database import reading, writing
from reference_app.errors import ApiError
from reference_app.identity import hash_token
from reference_app.patients import current_patient, patient_token
from reference_app.rate_limits import hit
from reference_app.waiting_room import require_pass

router = APIRouter(tags=["appointments"])
MAX_ID = 2**62


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_id: int = Field(ge=1, le=MAX_ID, description="a dose-1 slot")
    second_slot_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="a dose-2 slot; omitted: the server picks the earliest in the window",
    )


class DoseOut(BaseModel):
    slot_id: int
    start: str
    center_id: int


class AppointmentOut(BaseModel):
    id: int
    vaccine: str
    status: str
    dose1: DoseOut
    dose2: DoseOut | None


class CancelledOut(BaseModel):
    id: int
    status: str


def _check_rate(ctx: AppContext, request: Request, token: str) -> None:
    client = client_address(request, ctx.settings.trusted_proxies)
    retry_after = hit(
        ctx.engine,
        [
            (f"tok:{hash_token(token)[:32]}", ctx.settings.rate_limit_token_per_min),
            (f"ip:{client}", ctx.settings.rate_limit_ip_per_min),
        ],
        ctx.clock(),
    )
    if retry_after is not None:
        raise ApiError(
            429,
            "rate_limited",
            "too many booking attempts; slow down",
            headers={"Retry-After": str(retry_after)},
        )


@router.post(
    "/appointments",
    status_code=201,
    response_model=AppointmentOut,
    dependencies=[Depends(require_pass)],
    responses={409: {"description": "slot_full, no_dose2_slot, dose_already_booked, ..."}},
)
def post_appointment(
    request: Request,
    ctx: Annotated[AppContext, Depends(context)],
    body: BookingIn,
    token: Annotated[str, Depends(patient_token)],
    idempotency_key: Annotated[str | None, Header(max_length=idempotency.MAX_KEY_CHARS)] = None,
) -> dict | JSONResponse:
    """Book dose 1 and (for two-dose vaccines) dose 2 in one transaction, or nothing."""
    _check_rate(ctx, request, token)
    body_hash = idempotency.request_hash(body.model_dump_json().encode())
    patient_id = None
    try:
        with writing(ctx.engine) as conn:
            patient_id = current_patient(conn, token)
            if idempotency_key:
                stored = idempotency.claim(
                    conn, patient_id, idempotency_key, body_hash, ctx.clock()
                )
                if stored is not None:
                    return _replay(stored, body_hash)
            result = book(conn, patient_id, body.slot_id, body.second_slot_id)
            if idempotency_key:
                idempotency.complete(conn, patient_id, idempotency_key, 201, result)
        return result
    except BookingError as exc:
        if idempotency_key and patient_id is not None:
            answer = {"error": exc.error, "detail": exc.detail}
            idempotency.remember_error(
                ctx.engine, patient_id, idempotency_key, body_hash, exc.status, answer, ctx.clock()
            )
        raise ApiError(exc.status, exc.error, exc.detail) from None


def _replay(stored: dict, body_hash: str) -> JSONResponse:
    if stored["request_hash"] != body_hash:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )
    if stored["state"] != "done":
        raise ApiError(
            409,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still in flight",
            headers={"Retry-After": "1"},
        )
    return JSONResponse(
        json.loads(stored["response"]),
        status_code=stored["status_code"],
        headers={"Idempotent-Replayed": "true"},
    )


@router.get("/appointments", response_model=list[AppointmentOut])
def get_appointments(
    ctx: Annotated[AppContext, Depends(context)], token: Annotated[str, Depends(patient_token)]
) -> list[dict]:
    """The caller's own appointments (active and cancelled), oldest first."""
    with reading(ctx.engine) as conn:
        return list_for_patient(conn, current_patient(conn, token))


@router.delete("/appointments/{appointment_id}", response_model=CancelledOut)
def delete_appointment(
    ctx: Annotated[AppContext, Depends(context)],
    token: Annotated[str, Depends(patient_token)],
    appointment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> dict:
    """Cancel both doses and free their seats. Another patient's appointment is a 404."""
    with writing(ctx.engine) as conn:
        if not cancel(conn, current_patient(conn, token), appointment_id):
            raise ApiError(404, "not_found", f"appointment {appointment_id} not found")
    return {"id": appointment_id, "status": "cancelled"}
