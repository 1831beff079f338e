"""Patients: registration with encrypted identity, bearer-token authentication, email lookup."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection, bindparam, insert, select

from reference_app.context import AppContext, context
from reference_app.database import reading, writing
from reference_app.errors import NO_CONTROL, ApiError
from reference_app.identity import Keyring, hash_token, new_token, same_secret
from reference_app.patient_keys import identity, load, sealed_identity, store
from reference_app.schema import patients
from reference_app.waiting_room import require_pass

router = APIRouter(tags=["patients"])


class PatientIn(BaseModel):
    first_name: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL)
    last_name: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL)
    birth_date: date
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str = Field(min_length=4, max_length=32, pattern=r"^\+?[0-9 .()-]{4,32}$")

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("birth_date must be between 1900-01-01 and today")
        return value


class PatientCreated(BaseModel):
    id: int
    token: str


def register(
    conn: Connection, keyring: Keyring, person: dict, token: str | None = None
) -> tuple[int, str]:
    """Store a patient with every identity field sealed under their own data key, wrapped by the
    current master key; returns (id, bearer token)."""
    token = token or new_token()
    key, values = sealed_identity(person)
    patient_id = conn.execute(
        insert(patients)
        .values(
            token_hash=hash_token(token),
            email_index=keyring.blind_index(str(person["email"])),
            created_s=int(time.time()),
            **values,
        )
        .returning(patients.c.id)
    ).scalar_one()
    store(conn, keyring, patient_id, key)
    return patient_id, token


BY_TOKEN = select(patients.c.id, patients.c.token_hash).where(
    patients.c.token_hash == bindparam("p_hash")
)


def find_by_token(conn: Connection, token: str) -> int | None:
    digest = hash_token(token)
    row = conn.execute(BY_TOKEN, {"p_hash": digest}).first()
    if row is None or not same_secret(row[1], digest):
        return None
    return row[0]


def find_by_email(conn: Connection, keyring: Keyring, email: str) -> list[dict]:
    rows = conn.execute(
        select(patients).where(patients.c.email_index == keyring.blind_index(email))
    ).mappings()
    return [{"id": r["id"], **identity(keyring, load(conn, keyring, r["id"]), r)} for r in rows]


def bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or a 401."""
    if not authorization:
        raise ApiError(
            401,
            "unauthorized",
            "missing Authorization: Bearer <token> header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        raise ApiError(
            401,
            "unauthorized",
            "Authorization must be 'Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


def patient_token(authorization: Annotated[str | None, Header()] = None) -> str:
    return bearer(authorization)


def current_patient(conn: Connection, token: str) -> int:
    patient_id = find_by_token(conn, token)
    if patient_id is None:
        raise ApiError(
            401,
            "invalid_token",
            "unknown or revoked patient token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return patient_id


@router.post(
    "/patients",
    status_code=201,
    response_model=PatientCreated,
    dependencies=[Depends(require_pass)],
)
def post_patient(ctx: Annotated[AppContext, Depends(context)], body: PatientIn) -> dict:
    """Register a patient; the token (shown once, stored hashed) authenticates their bookings."""
    with writing(ctx.engine) as conn:
        patient_id, token = register(conn, ctx.keyring, body.model_dump())
    return {"id": patient_id, "token": token}


def patient_id_from_token(ctx: AppContext, token: str) -> int:
    with reading(ctx.engine) as conn:
        return current_patient(conn, token)
