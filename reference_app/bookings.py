"""The booking transaction and its invariants: the query layer shared by the API and the bench.

No overbooking: a seat is taken with a conditional `UPDATE slots SET remaining = remaining - 1
WHERE id = :id AND remaining > 0`, which locks only that slot row (hot slots don't serialize the
rest). One booking per dose per patient: the primary key of `bookings`. Dose 1 and dose 2 are
taken in the caller's one transaction, so both or neither are committed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reference_app.schema import appointments, bookings, slots, vaccines

DAY_S = 86_400
DOSE2_CANDIDATES_LIMIT = 8


class BookingError(Exception):
    """A booking refused for a reason the client can act on (mapped to a 4xx JSON error)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def iso(start_s: int) -> str:
    return datetime.fromtimestamp(start_s, UTC).isoformat().replace("+00:00", "Z")


# Statements are built once: building Core constructs per call costs more than running them.
_SEAT_COLUMNS = (slots.c.id, slots.c.center_id, slots.c.vaccine, slots.c.start_s)
_DECREMENT = {"remaining": slots.c.remaining - 1}
HELD_DOSES = select(bookings.c.dose).where(bookings.c.patient_id == bindparam("p_patient"))
TAKE_DOSE1 = (
    update(slots)
    .where(
        slots.c.id == bindparam("p_slot"),
        slots.c.remaining > 0,
        slots.c.dose == 1,
        slots.c.start_s >= bindparam("p_now"),
    )
    .values(_DECREMENT)
    .returning(*_SEAT_COLUMNS)
)
_IN_WINDOW = (
    slots.c.center_id == bindparam("p_center"),
    slots.c.vaccine == bindparam("p_vaccine"),
    slots.c.dose == 2,
    slots.c.start_s >= bindparam("p_lo"),
    slots.c.start_s <= bindparam("p_hi"),
)
TAKE_DOSE2 = (
    update(slots)
    .where(slots.c.id == bindparam("p_slot"), slots.c.remaining > 0, *_IN_WINDOW)
    .values(_DECREMENT)
    .returning(*_SEAT_COLUMNS)
)
DOSE2_CANDIDATES = (
    select(slots.c.id)
    .where(slots.c.remaining > 0, *_IN_WINDOW)
    .order_by(slots.c.start_s, slots.c.id)
    .limit(DOSE2_CANDIDATES_LIMIT)
)
# PostgreSQL: the earliest open slot that no other booking is taking right now (no queueing
# behind a hot dose-2 row). SQLite ignores FOR UPDATE (its writers are serialized anyway).
FREE_DOSE2 = (
    select(slots.c.id)
    .where(slots.c.remaining > 0, *_IN_WINDOW)
    .order_by(slots.c.start_s, slots.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
RULE = select(vaccines.c.doses, vaccines.c.min_days, vaccines.c.max_days).where(
    vaccines.c.code == bindparam("p_code")
)
SLOT_BY_ID = select(slots).where(slots.c.id == bindparam("p_slot"))
INSERT_APPOINTMENT = insert(appointments).returning(appointments.c.id)
INSERT_BOOKINGS = insert(bookings)
FREE_SEAT = (
    update(slots).where(slots.c.id == bindparam("p_slot")).values(remaining=slots.c.remaining + 1)
)


def _explain_dose1(conn: Connection, slot_id: int, now_s: int) -> BookingError:
    row = conn.execute(SLOT_BY_ID, {"p_slot": slot_id}).mappings().first()
    if row is None:
        return BookingError(404, "not_found", f"slot {slot_id} not found")
    if row["dose"] != 1:
        return BookingError(
            422, "wrong_dose", f"slot {slot_id} is a dose-{row['dose']} slot; book a dose-1 slot"
        )
    if row["start_s"] < now_s:
        return BookingError(409, "slot_in_past", f"slot {slot_id} has already started")
    return BookingError(409, "slot_full", f"slot {slot_id} is fully booked")


def _explain_dose2(conn: Connection, slot_id: int, window: dict) -> BookingError:
    row = conn.execute(SLOT_BY_ID, {"p_slot": slot_id}).mappings().first()
    center_id, vaccine = window["p_center"], window["p_vaccine"]
    if row is None:
        return BookingError(404, "not_found", f"slot {slot_id} not found")
    if row["dose"] != 2 or row["center_id"] != center_id or row["vaccine"] != vaccine:
        return BookingError(
            422,
            "wrong_second_slot",
            f"slot {slot_id} is not a dose-2 {vaccine} slot at centre {center_id}",
        )
    if not window["p_lo"] <= row["start_s"] <= window["p_hi"]:
        return BookingError(
            409,
            "dose2_out_of_window",
            f"slot {slot_id} is outside the dose-2 window {iso(window['p_lo'])}..{iso(window['p_hi'])}",
        )
    return BookingError(409, "slot_full", f"slot {slot_id} is fully booked")


def _take_dose2(conn: Connection, window: dict, second_slot_id: int | None) -> tuple:
    if second_slot_id is not None:
        seat = conn.execute(TAKE_DOSE2, {**window, "p_slot": second_slot_id}).first()
        if seat is None:
            raise _explain_dose2(conn, second_slot_id, window)
        return seat
    free = conn.execute(FREE_DOSE2, window).scalar_one_or_none()
    if free is not None:
        seat = conn.execute(TAKE_DOSE2, {**window, "p_slot": free}).first()
        if seat is not None:
            return seat
    # Every open slot is being taken by someone else: queue for the earliest ones.
    for _ in range(3):
        candidates = conn.execute(DOSE2_CANDIDATES, window).scalars().all()
        if not candidates:
            break
        for candidate in candidates:
            seat = conn.execute(TAKE_DOSE2, {**window, "p_slot": candidate}).first()
            if seat is not None:
                return seat
    raise BookingError(
        409,
        "no_dose2_slot",
        f"no open dose-2 {window['p_vaccine']} slot at centre {window['p_center']} "
        f"between {iso(window['p_lo'])} and {iso(window['p_hi'])}",
    )


def book(
    conn: Connection,
    patient_id: int,
    slot_id: int,
    second_slot_id: int | None = None,
    now_s: int | None = None,
) -> dict:
    """Book dose 1 (and dose 2 for two-dose vaccines) inside the caller's transaction.

    Raises BookingError; the caller must then roll back (the `writing()` context does).
    """
    now_s = int(time.time()) if now_s is None else now_s
    held = conn.execute(HELD_DOSES, {"p_patient": patient_id}).scalars().all()
    if 1 in held:
        raise BookingError(
            409, "dose_already_booked", "this patient already holds a dose-1 appointment"
        )
    # Read dose 1 without locking it: a full or wrong slot fails fast, and the hot row is locked
    # last, just before commit, so bookings of one popular slot queue as briefly as possible.
    slot = conn.execute(SLOT_BY_ID, {"p_slot": slot_id}).mappings().first()
    if slot is None or slot["dose"] != 1 or slot["start_s"] < now_s or slot["remaining"] <= 0:
        raise _explain_dose1(conn, slot_id, now_s)
    center_id, vaccine, start_s = slot["center_id"], slot["vaccine"], slot["start_s"]
    doses, min_days, max_days = conn.execute(RULE, {"p_code": vaccine}).one()
    second = None
    if doses == 2:
        if 2 in held:
            raise BookingError(
                409, "dose_already_booked", "this patient already holds a dose-2 appointment"
            )
        window = {
            "p_center": center_id,
            "p_vaccine": vaccine,
            "p_lo": start_s + min_days * DAY_S,
            "p_hi": start_s + max_days * DAY_S,
        }
        second = _take_dose2(conn, window, second_slot_id)
    else:
        min_days = max_days = None
        if second_slot_id is not None:
            raise BookingError(
                422, "single_dose_vaccine", f"{vaccine} needs one dose; omit second_slot_id"
            )
    appointment_id = conn.execute(
        INSERT_APPOINTMENT,
        {
            "patient_id": patient_id,
            "center_id": center_id,
            "vaccine": vaccine,
            "dose1_slot_id": slot_id,
            "dose2_slot_id": second[0] if second else None,
            "min_days": min_days,
            "max_days": max_days,
            "status": "active",
            "created_s": now_s,
        },
    ).scalar_one()
    rows = [
        {"patient_id": patient_id, "dose": 1, "slot_id": slot_id, "appointment_id": appointment_id}
    ]
    if second:
        rows.append(
            {
                "patient_id": patient_id,
                "dose": 2,
                "slot_id": second[0],
                "appointment_id": appointment_id,
            }
        )
    try:
        conn.execute(INSERT_BOOKINGS, rows)
    except IntegrityError as exc:  # a concurrent booking by the same patient won the race
        raise BookingError(
            409, "dose_already_booked", "this patient already holds that dose"
        ) from exc
    first = conn.execute(TAKE_DOSE1, {"p_slot": slot_id, "p_now": now_s}).first()
    if first is None:  # filled (or started) since it was read
        raise _explain_dose1(conn, slot_id, now_s)
    return _shape(appointment_id, vaccine, "active", first, second)


def _shape(
    appointment_id: int, vaccine: str, status: str, first: tuple, second: tuple | None
) -> dict:
    def dose(seat: tuple | None) -> dict | None:
        if seat is None:
            return None
        return {"slot_id": seat[0], "start": iso(seat[3]), "center_id": seat[1]}

    return {
        "id": appointment_id,
        "vaccine": vaccine,
        "status": status,
        "dose1": dose(first),
        "dose2": dose(second),
    }


def cancel(conn: Connection, patient_id: int, appointment_id: int) -> bool:
    """Cancel both doses and free their seats; False when it is not this patient's active one."""
    done = conn.execute(
        update(appointments)
        .where(
            appointments.c.id == appointment_id,
            appointments.c.patient_id == patient_id,
            appointments.c.status == "active",
        )
        .values(status="cancelled")
        .returning(appointments.c.dose1_slot_id, appointments.c.dose2_slot_id)
    ).first()
    if done is None:
        return False
    conn.execute(bookings.delete().where(bookings.c.appointment_id == appointment_id))
    # Dose 2, then dose 1: the lock order of booking, so the two never deadlock.
    for slot_id in reversed(tuple(done)):
        if slot_id is not None:
            conn.execute(FREE_SEAT, {"p_slot": slot_id})
    return True


def list_for_patient(conn: Connection, patient_id: int) -> list[dict]:
    s1, s2 = slots.alias("s1"), slots.alias("s2")
    rows = conn.execute(
        select(
            appointments.c.id,
            appointments.c.vaccine,
            appointments.c.status,
            s1.c.id,
            s1.c.center_id,
            s1.c.vaccine,
            s1.c.start_s,
            s2.c.id,
            s2.c.center_id,
            s2.c.vaccine,
            s2.c.start_s,
        )
        .select_from(
            appointments.join(s1, s1.c.id == appointments.c.dose1_slot_id).outerjoin(
                s2, s2.c.id == appointments.c.dose2_slot_id
            )
        )
        .where(appointments.c.patient_id == patient_id)
        .order_by(appointments.c.id)
    ).all()
    return [
        _shape(r[0], r[1], r[2], tuple(r[3:7]), tuple(r[7:11]) if r[7] is not None else None)
        for r in rows
    ]


def invariants(conn: Connection) -> dict[str, int]:
    """Counts of broken booking rules (all 0 on a healthy database) and of active appointments."""
    held = (
        select(bookings.c.slot_id, func.count().label("n")).group_by(bookings.c.slot_id).subquery()
    )
    overbooked = conn.execute(
        select(func.count())
        .select_from(slots.outerjoin(held, held.c.slot_id == slots.c.id))
        .where(
            (slots.c.remaining < 0)
            | (func.coalesce(held.c.n, 0) > slots.c.capacity)
            | (slots.c.capacity - slots.c.remaining != func.coalesce(held.c.n, 0))
        )
    ).scalar_one()
    per_patient = (
        select(appointments.c.patient_id)
        .where(appointments.c.status == "active")
        .group_by(appointments.c.patient_id)
        .having(func.count() > 1)
        .subquery()
    )
    double = conn.execute(select(func.count()).select_from(per_patient)).scalar_one()
    s1, s2 = slots.alias("s1"), slots.alias("s2")
    out_of_window = conn.execute(
        select(func.count())
        .select_from(
            appointments.join(s1, s1.c.id == appointments.c.dose1_slot_id).join(
                s2, s2.c.id == appointments.c.dose2_slot_id
            )
        )
        .where(
            appointments.c.status == "active",
            (s2.c.start_s < s1.c.start_s + appointments.c.min_days * DAY_S)
            | (s2.c.start_s > s1.c.start_s + appointments.c.max_days * DAY_S)
            | (s2.c.center_id != s1.c.center_id)
            | (s2.c.dose != 2),
        )
    ).scalar_one()
    orphans = conn.execute(
        select(func.count())
        .select_from(appointments.join(vaccines, vaccines.c.code == appointments.c.vaccine))
        .where(
            appointments.c.status == "active",
            and_(vaccines.c.doses == 2, appointments.c.min_days.is_not(None)),
            appointments.c.dose2_slot_id.is_(None),
        )
    ).scalar_one()
    dangling = conn.execute(
        select(func.count())
        .select_from(bookings.join(appointments, appointments.c.id == bookings.c.appointment_id))
        .where(appointments.c.status != "active")
    ).scalar_one()
    active = conn.execute(
        select(func.count()).select_from(appointments).where(appointments.c.status == "active")
    ).scalar_one()
    return {
        "overbooked_slots": int(overbooked),
        "double_bookings": int(double),
        "dose2_out_of_window": int(out_of_window),
        "orphan_dose2": int(orphans) + int(dangling),
        "appointments": int(active),
    }
