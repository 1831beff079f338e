"""The waiting room: a FIFO queue that admits `rate_per_s` visitors per second, state in the DB.

Joining gives ticket i the admission time max(now, admission time of ticket i-1 + 1/rate): FIFO
by construction, exactly `rate` per second, and no admission credit banked while the queue is
empty. That cursor lives in the single `waiting_room` row, so every worker and every machine
shares it; polling a ticket is a read. A ticket's pass is an HMAC of the ticket (so it can be
shown again without storing it) valid from admission for `pass_lifetime_s`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from reference_app.context import AppContext, context
from reference_app.database import reading, writing
from reference_app.errors import ApiError
from reference_app.identity import hash_token, new_token
from reference_app.schema import queue_tickets, waiting_room

router = APIRouter(tags=["waiting room"])
PASS_HEADER = "X-Waiting-Room-Pass"
HOUSEKEEPING_SHARE = 0.002  # joins that also delete tickets expired for an hour


class WaitingRoomConfig(BaseModel):
    enabled: bool
    rate_per_s: float
    pass_lifetime_s: float


def read_config(conn: Connection) -> WaitingRoomConfig:
    row = conn.execute(select(waiting_room).where(waiting_room.c.id == 1)).mappings().one()
    return WaitingRoomConfig(
        enabled=bool(row["enabled"]),
        rate_per_s=row["rate_per_s"],
        pass_lifetime_s=row["pass_lifetime_s"],
    )


def configure(
    engine: Engine,
    enabled: bool,
    rate_per_s: float,
    pass_lifetime_s: float | None = None,
    now_s: float | None = None,
) -> WaitingRoomConfig:
    """Switch the room on/off or change its rate; queued tickets keep their order and are
    rescheduled at the new rate."""
    now_s = time.time() if now_s is None else now_s
    with writing(engine) as conn:
        old = read_config(conn)
        values: dict = {"enabled": int(enabled), "rate_per_s": float(rate_per_s)}
        if pass_lifetime_s is not None:
            values["pass_lifetime_s"] = float(pass_lifetime_s)
        if (
            old.enabled
            and enabled
            and old.rate_per_s > 0
            and rate_per_s > 0
            and old.rate_per_s != rate_per_s
        ):
            factor = old.rate_per_s / rate_per_s
            lifetime = values.get("pass_lifetime_s", old.pass_lifetime_s)
            new_admit = now_s + (queue_tickets.c.admit_at_s - now_s) * factor
            conn.execute(
                update(queue_tickets)
                .where(queue_tickets.c.admit_at_s > now_s)
                .values(admit_at_s=new_admit, pass_expires_s=new_admit + lifetime)
            )
            latest = conn.execute(select(func.max(queue_tickets.c.admit_at_s))).scalar_one_or_none()
            values["cursor_s"] = latest or now_s
        conn.execute(update(waiting_room).where(waiting_room.c.id == 1).values(**values))
        return read_config(conn)


def pass_for(ticket: str, pass_key: bytes) -> str:
    return "wp_" + hmac.new(pass_key, ticket.encode(), hashlib.sha256).hexdigest()


def join(engine: Engine, pass_key: bytes, now_s: float | None = None) -> dict:
    now_s = time.time() if now_s is None else now_s
    ticket = new_token("wt")
    with writing(engine) as conn:
        config = read_config(conn)
        if config.enabled and config.rate_per_s > 0:
            spacing = 1.0 / config.rate_per_s
            admit_at = conn.execute(
                update(waiting_room)
                .where(waiting_room.c.id == 1)
                .values(cursor_s=_greatest(conn)(waiting_room.c.cursor_s + spacing, now_s))
                .returning(waiting_room.c.cursor_s)
            ).scalar_one()
        else:
            admit_at = now_s
        if random.random() < HOUSEKEEPING_SHARE:  # noqa: S311 - housekeeping, not security
            conn.execute(delete(queue_tickets).where(queue_tickets.c.pass_expires_s < now_s - 3600))
        conn.execute(
            insert(queue_tickets).values(
                ticket_hash=hash_token(ticket),
                pass_hash=hash_token(pass_for(ticket, pass_key)),
                created_s=now_s,
                admit_at_s=admit_at,
                pass_expires_s=admit_at + config.pass_lifetime_s,
            )
        )
    state = "waiting" if admit_at > now_s else "admitted"
    return {"ticket": ticket, "status": state, **_position(admit_at, config.rate_per_s, now_s)}


def _greatest(conn: Connection):  # noqa: ANN202
    """SQLite's scalar max(a, b) is PostgreSQL's greatest(a, b)."""
    return func.max if conn.dialect.name == "sqlite" else func.greatest


def _position(admit_at: float, rate_per_s: float, now_s: float) -> dict:
    wait = max(0.0, admit_at - now_s)
    position = math.ceil(wait * rate_per_s) if rate_per_s > 0 else 0
    return {"position": position, "estimated_wait_s": round(wait, 1)}


def status(engine: Engine, ticket: str, pass_key: bytes, now_s: float | None = None) -> dict | None:
    now_s = time.time() if now_s is None else now_s
    with reading(engine) as conn:
        row = conn.execute(
            select(queue_tickets.c.admit_at_s, queue_tickets.c.pass_expires_s).where(
                queue_tickets.c.ticket_hash == hash_token(ticket)
            )
        ).first()
        if row is None:
            return None
        config = read_config(conn)
    admit_at, expires = row
    if now_s < admit_at:
        return {
            "ticket": ticket,
            "status": "waiting",
            **_position(admit_at, config.rate_per_s, now_s),
        }
    if now_s >= expires:
        return {"ticket": ticket, "status": "expired", "position": 0, "estimated_wait_s": 0.0}
    return {
        "ticket": ticket,
        "status": "admitted",
        "position": 0,
        "estimated_wait_s": 0.0,
        "pass": pass_for(ticket, pass_key),
        "pass_header": PASS_HEADER,
        "pass_expires_in_s": round(expires - now_s, 1),
    }


def pass_is_valid(conn: Connection, token: str, now_s: float) -> bool:
    row = conn.execute(
        select(queue_tickets.c.id).where(
            queue_tickets.c.pass_hash == hash_token(token),
            queue_tickets.c.admit_at_s <= now_s,
            queue_tickets.c.pass_expires_s > now_s,
        )
    ).first()
    return row is not None


def queue_length(conn: Connection, now_s: float) -> int:
    return conn.execute(
        select(func.count()).select_from(queue_tickets).where(queue_tickets.c.admit_at_s > now_s)
    ).scalar_one()


def _refresh(ctx: AppContext, now_s: float) -> None:
    if now_s - ctx.waiting_room_checked_s < ctx.settings.waiting_room_cache_s:
        return
    with reading(ctx.engine) as conn:
        config = read_config(conn)
    ctx.waiting_room_enabled = config.enabled and config.rate_per_s > 0
    ctx.waiting_room_rate_per_s = config.rate_per_s
    ctx.waiting_room_checked_s = now_s


def require_pass(
    ctx: Annotated[AppContext, Depends(context)],
    waiting_pass: Annotated[str | None, Header(alias=PASS_HEADER)] = None,
) -> None:
    """Dependency for availability and booking: while the room is on, a valid pass is needed."""
    now_s = time.time()
    _refresh(ctx, now_s)
    if not ctx.waiting_room_enabled:
        return
    if waiting_pass and len(waiting_pass) < 200:
        with reading(ctx.engine) as conn:
            if pass_is_valid(conn, waiting_pass, now_s):
                return
    raise ApiError(
        503,
        "waiting_room",
        "the waiting room is on: POST /queue, poll GET /queue/{ticket}, then send the pass in "
        f"the {PASS_HEADER} header",
        headers={"Retry-After": "5"},
        queue="/queue",
    )


@router.post("/queue", status_code=201)
def post_queue(ctx: Annotated[AppContext, Depends(context)]) -> dict:
    """Join the waiting room: `{ticket, position, estimated_wait_s}`."""
    return join(ctx.engine, ctx.keyring.pass_key)


@router.get("/queue/{ticket}")
def get_queue(ctx: Annotated[AppContext, Depends(context)], ticket: str) -> dict:
    """Position while waiting; once admitted, the pass to send in the X-Waiting-Room-Pass header."""
    if len(ticket) > 200:
        raise ApiError(404, "not_found", "ticket not found")
    found = status(ctx.engine, ticket, ctx.keyring.pass_key)
    if found is None:
        raise ApiError(404, "not_found", "ticket not found")
    return found
