"""Idempotency keys for bookings, stored in the database with the response they produced.

The key row is inserted in the same transaction as the booking. A concurrent replay blocks on
the primary key until the first commits (PostgreSQL) or waits for the write lock (SQLite), then
finds the stored response: a replay never creates a second booking.
"""

from __future__ import annotations

import hashlib
import json
import random
import time

from sqlalchemy import Connection, Engine, delete, select, update

from reference_app.database import insert_statement, writing
from reference_app.schema import idempotency_keys

MAX_KEY_CHARS = 200
KEY_LIFETIME_S = 86_400  # a key older than a day is forgotten: its next use is a new request


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def claim(
    conn: Connection, patient_id: int, key: str, body_hash: str, now_s: float | None = None
) -> dict | None:
    """Claim the key inside the booking transaction; return the stored record if used within
    the last KEY_LIFETIME_S (an older record is replaced by this claim)."""
    now_s = time.time() if now_s is None else now_s
    stored = _claim(conn, patient_id, key, body_hash, now_s)
    if stored is None or stored["created_s"] > now_s - KEY_LIFETIME_S:
        return stored
    conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.patient_id == patient_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_s == stored["created_s"],
        )
    )
    return _claim(conn, patient_id, key, body_hash, now_s)


def _claim(
    conn: Connection, patient_id: int, key: str, body_hash: str, now_s: float
) -> dict | None:
    stmt = (
        insert_statement(conn, idempotency_keys)
        .values(
            patient_id=patient_id,
            key=key,
            request_hash=body_hash,
            state="pending",
            created_s=now_s,
        )
        .on_conflict_do_nothing(index_elements=["patient_id", "key"])
        .returning(idempotency_keys.c.patient_id)
    )
    if conn.execute(stmt).first() is not None:
        if random.random() < 0.001:  # noqa: S311 - housekeeping: keys are kept for a day
            conn.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.created_s < now_s - KEY_LIFETIME_S
                )
            )
        return None
    row = (
        conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.patient_id == patient_id, idempotency_keys.c.key == key
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


def complete(conn: Connection, patient_id: int, key: str, status_code: int, body: dict) -> None:
    conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.patient_id == patient_id, idempotency_keys.c.key == key)
        .values(state="done", status_code=status_code, response=json.dumps(body))
    )


def remember_error(
    engine: Engine,
    patient_id: int,
    key: str,
    body_hash: str,
    status_code: int,
    body: dict,
    now_s: float | None = None,
) -> None:
    """Store a refused booking's answer too, so a replay gets the same answer."""
    with writing(engine) as conn:
        conn.execute(
            insert_statement(conn, idempotency_keys)
            .values(
                patient_id=patient_id,
                key=key,
                request_hash=body_hash,
                state="done",
                status_code=status_code,
                response=json.dumps(body),
                created_s=time.time() if now_s is None else now_s,
            )
            .on_conflict_do_nothing(index_elements=["patient_id", "key"])
        )


def forget_patient(conn: Connection, patient_id: int) -> None:
    """Drop a patient's stored keys and responses (on erasure)."""
    conn.execute(delete(idempotency_keys).where(idempotency_keys.c.patient_id == patient_id))
