"""Retention and data-subject rights: export, erasure, and the purge beyond retention.

Erasure is crypto-shredding: the patient's data key is deleted and their row is blanked into a
tombstone (no name, email, phone or birth date, a token that matches nothing). Copies of the old
row that the database keeps (PostgreSQL dead tuples and WAL, SQLite free pages and WAL, backups)
hold only ciphertext under the deleted key. SQLite also runs with `secure_delete` and its WAL is
truncated after an erasure, so the file holds no stale copy of the wrapped key either.

Future appointments are cancelled (their seats freed); past ones stay as anonymous records tied
to the tombstone, so seat counts and the booking invariants stay exact. The purge erases the
patients whose last booking (or registration, if they never booked) is older than the retention
period and who hold no future appointment, deletes cancelled appointments older than it, and
deletes tombstones left without any appointment.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from reference_app.bookings import cancel, list_for_patient
from reference_app.context import AppContext, context
from reference_app.database import is_sqlite, reading, writing
from reference_app.idempotency import forget_patient
from reference_app.patient_keys import ERASED_PREFIX, IDENTITY_FIELDS, identity, load, shred
from reference_app.patients import current_patient, patient_token
from reference_app.schema import appointments, patients, slots

router = APIRouter(tags=["patients"])
log = logging.getLogger("reference_app")
ERASED_INDEX = "erased"
PURGE_BATCH = 200
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_age_s(text_value: str) -> int:
    """ "90d", "12h", "30m", "45s" -> seconds. Raises ValueError on anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text_value)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a positive age like 90d, 12h or 30m: {text_value!r}")
    return int(match.group(1)) * _UNITS_S[match.group(2)]


def is_live() -> ColumnElement[bool]:
    """`WHERE` clause: patient rows that are not erased tombstones."""
    return ~patients.c.token_hash.startswith(ERASED_PREFIX)


def export(conn: Connection, ctx: AppContext, patient_id: int) -> dict:
    row = conn.execute(select(patients).where(patients.c.id == patient_id)).mappings().one()
    person = identity(ctx.keyring, load(conn, ctx.keyring, patient_id), row)
    return {
        "patient": {"id": patient_id, **person, "registered_s": row["created_s"]},
        "appointments": list_for_patient(conn, patient_id),
    }


def erase(conn: Connection, patient_id: int, now_s: int) -> dict[str, int]:
    """Cancel the patient's future appointments, shred their key, blank their row."""
    future = conn.execute(
        select(appointments.c.id)
        .join(slots, slots.c.id == appointments.c.dose1_slot_id)
        .where(
            appointments.c.patient_id == patient_id,
            appointments.c.status == "active",
            slots.c.start_s >= now_s,
        )
    ).scalars()
    cancelled = sum(cancel(conn, patient_id, appointment) for appointment in list(future))
    forget_patient(conn, patient_id)
    shredded = shred(conn, patient_id)
    conn.execute(
        update(patients)
        .where(patients.c.id == patient_id)
        .values(
            token_hash=f"{ERASED_PREFIX}{patient_id}",
            email_index=ERASED_INDEX,
            **dict.fromkeys(IDENTITY_FIELDS, ""),
        )
    )
    return {"appointments_cancelled": cancelled, "keys_shredded": int(shredded)}


def settle_erasure(engine: Engine) -> None:
    """SQLite: move the erased pages into the file and empty the WAL, which still holds the
    page images from before the erasure (best effort: a reader in progress keeps them)."""
    if is_sqlite(engine):
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def purge(engine: Engine, older_than_s: int, now_s: int | None = None) -> dict[str, int]:
    """Erase what is beyond retention (see the module docstring); returns counts."""
    now_s = int(time.time()) if now_s is None else now_s
    cutoff = now_s - older_than_s
    last_booked = (
        select(func.max(appointments.c.created_s))
        .where(appointments.c.patient_id == patients.c.id)
        .scalar_subquery()
    )
    upcoming = (
        select(appointments.c.id)
        .join(
            slots,
            or_(
                slots.c.id == appointments.c.dose1_slot_id,
                slots.c.id == appointments.c.dose2_slot_id,
            ),
        )
        .where(
            appointments.c.patient_id == patients.c.id,
            appointments.c.status == "active",
            slots.c.start_s >= now_s,
        )
        .exists()
    )
    due = (
        select(patients.c.id)
        .where(
            is_live(),
            func.coalesce(last_booked, patients.c.created_s) < cutoff,
            ~upcoming,
        )
        .order_by(patients.c.id)
        .limit(PURGE_BATCH)
    )
    erased = 0
    while True:
        with writing(engine) as conn:
            batch = conn.execute(due).scalars().all()
            for patient_id in batch:
                erase(conn, patient_id, now_s)
        erased += len(batch)
        if len(batch) < PURGE_BATCH:
            break
    with writing(engine) as conn:
        dropped = conn.execute(
            delete(appointments).where(
                appointments.c.status != "active", appointments.c.created_s < cutoff
            )
        ).rowcount
        has_appointment = select(appointments.c.id).where(
            appointments.c.patient_id == patients.c.id
        )
        removed = conn.execute(
            delete(patients).where(
                and_(~is_live(), ~has_appointment.exists(), patients.c.created_s < cutoff)
            )
        ).rowcount
    settle_erasure(engine)
    return {
        "patients_erased": erased,
        "appointments_deleted": int(dropped),
        "tombstones_deleted": int(removed),
    }


async def purge_periodically(ctx: AppContext) -> None:
    """`serve --purge-older-than AGE`: purge every `purge_every_s` on the app's clock (each
    worker does; a purge is idempotent). A failed purge is logged and tried again later."""
    while True:
        await asyncio.sleep(ctx.settings.purge_every_s)
        try:
            done = await asyncio.to_thread(
                purge, ctx.engine, ctx.settings.purge_older_than_s, int(ctx.clock())
            )
        except SQLAlchemyError as exc:
            log.warning("periodic purge failed: %s", type(exc).__name__)
            continue
        if done["patients_erased"] or done["appointments_deleted"]:
            log.warning("periodic purge: %s", done)


def purge_command(database_url: str, older_than: str) -> dict:
    """`surge app purge --older-than 90d` (no key needed: erasure only deletes)."""
    from reference_app.database import make_engine
    from reference_app.settings import normalize_database_url

    age_s = parse_age_s(older_than)
    engine = make_engine(normalize_database_url(database_url), pool_size=2)
    try:
        return {"older_than_s": age_s, **purge(engine, age_s)}
    finally:
        engine.dispose()


@router.get("/patients/me/export")
def get_export(
    ctx: Annotated[AppContext, Depends(context)], token: Annotated[str, Depends(patient_token)]
) -> dict:
    """Everything stored about the calling patient, decrypted: identity and appointments."""
    with reading(ctx.engine) as conn:
        return export(conn, ctx, current_patient(conn, token))


@router.delete("/patients/me")
def delete_me(
    ctx: Annotated[AppContext, Depends(context)], token: Annotated[str, Depends(patient_token)]
) -> dict:
    """Erase the calling patient: future appointments cancelled (seats freed), data key
    deleted, identity blanked; the token stops working."""
    with writing(ctx.engine) as conn:
        done = erase(conn, current_patient(conn, token), int(ctx.clock()))
    settle_erasure(ctx.engine)
    return {"erased": True, **done}
