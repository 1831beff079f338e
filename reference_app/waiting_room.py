"""The waiting room: a numbered FIFO line that admits `rate_per_s` visitors per second.

Joining takes the next number n in one atomic UPDATE of the single `waiting_room_line` row;
ticket n is admitted at `anchor_s + (n - anchor_n) / rate`. When the line is empty the anchor
moves to (now, n), so no admission credit is banked while nobody waits, and a rate change
re-anchors at the number being served, so every queued ticket keeps its place.

Tickets and passes are signed (HMAC with a key every worker derives from the data key), not
stored: polling a waiting ticket and checking a pass are CPU work only, with the room's state
cached per worker for `waiting_room_cache_s`. A stale cache can only make a ticket look
*later* than it is (the anchor only moves forward), and an "admitted" answer is confirmed
against the database before a pass is minted, so admission order and rate stay exact. That is
what keeps the room cheap at several times the app's capacity: the queue is where most
visitors are, and it must cost far less than a booking. Joins that arrive together share one
UPDATE, and the server paces the polls: `poll_after_s` is the ticket's admission time (at most
`POLL_MAX_S` away), so a visitor polls about once per `POLL_MAX_S` of waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel
from sqlalchemy import BigInteger, Connection, Engine, Float, bindparam, case, select, update

from reference_app.context import AppContext
from reference_app.database import reading, writing
from reference_app.errors import ApiError
from reference_app.identity import same_secret
from reference_app.schema import waiting_room, waiting_room_line

router = APIRouter(tags=["waiting room"])
PASS_HEADER = "X-Waiting-Room-Pass"
# A queued visitor is told to come back when its turn comes (the admission time is exact at a
# constant rate), or after POLL_MAX_S to see its position move on a long wait.
POLL_MAX_S = 30.0
MAX_TOKEN_CHARS = 200
ADMITTED_STATE = "waiting_room_admitted"  # request state set by the edge once a pass is checked


# The room's own threads: its few database calls (a batch of joins, a state read) never queue
# for the request thread pool behind bookings and registrations, which may all be busy at once.
T = TypeVar("T")
_ROOM_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="waiting-room")


async def _in_room_thread(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_ROOM_THREADS, function, *args)


class WaitingRoomConfig(BaseModel):
    enabled: bool
    rate_per_s: float
    pass_lifetime_s: float


@dataclass(frozen=True)
class RoomState:
    """The room's switch and its line's anchor, as one worker last read them."""

    enabled: bool
    rate_per_s: float
    pass_lifetime_s: float
    next_number: int
    anchor_number: float
    anchor_s: float

    @property
    def on(self) -> bool:
        return self.enabled and self.rate_per_s > 0

    def admit_at(self, number: int) -> float:
        return self.anchor_s + (number - self.anchor_number) / self.rate_per_s

    def serving(self, now_s: float) -> float:
        """Numbers up to this one are admitted by `now_s` (everyone, when the room is off)."""
        if not self.on:
            return float(self.next_number)
        return self.anchor_number + self.rate_per_s * (now_s - self.anchor_s)

    def queued(self, now_s: float) -> int:
        if not self.on:
            return 0
        return max(0, self.next_number - 1 - math.floor(self.serving(now_s)))


def read_config(conn: Connection) -> WaitingRoomConfig:
    row = conn.execute(select(waiting_room).where(waiting_room.c.id == 1)).mappings().one()
    return WaitingRoomConfig(
        enabled=bool(row["enabled"]),
        rate_per_s=row["rate_per_s"],
        pass_lifetime_s=row["pass_lifetime_s"],
    )


def read_state(conn: Connection) -> RoomState:
    config = read_config(conn)
    line = conn.execute(select(waiting_room_line).where(waiting_room_line.c.id == 1)).one()
    return RoomState(
        enabled=config.enabled,
        rate_per_s=config.rate_per_s,
        pass_lifetime_s=config.pass_lifetime_s,
        next_number=int(line.next_number),
        anchor_number=float(line.anchor_number),
        anchor_s=float(line.anchor_s),
    )


def configure(
    engine: Engine,
    enabled: bool,
    rate_per_s: float,
    pass_lifetime_s: float | None = None,
    now_s: float | None = None,
) -> WaitingRoomConfig:
    """Switch the room on/off or change its rate; queued tickets keep their order and are
    admitted at the new rate from now on."""
    now_s = time.time() if now_s is None else now_s
    with writing(engine) as conn:
        old = read_state(conn)
        values: dict = {"enabled": int(enabled), "rate_per_s": float(rate_per_s)}
        if pass_lifetime_s is not None:
            values["pass_lifetime_s"] = float(pass_lifetime_s)
        serving = min(float(old.next_number), old.serving(now_s))
        conn.execute(update(waiting_room).where(waiting_room.c.id == 1).values(**values))
        conn.execute(
            update(waiting_room_line)
            .where(waiting_room_line.c.id == 1)
            .values(anchor_number=serving, anchor_s=now_s)
        )
        return read_config(conn)


def _sign(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def ticket_for(number: int, pass_key: bytes) -> str:
    nonce = secrets.token_hex(8)
    return f"wt_{number}.{nonce}.{_sign(pass_key, 'ticket', str(number), nonce)}"


def ticket_number(ticket: str, pass_key: bytes) -> int | None:
    """The number of a ticket this room signed, else None (constant-time comparison)."""
    if len(ticket) > MAX_TOKEN_CHARS or not ticket.startswith("wt_"):
        return None
    parts = ticket[3:].split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    number, nonce, mac = parts
    if not hmac.compare_digest(mac, _sign(pass_key, "ticket", number, nonce)):
        return None
    return int(number)


def pass_for(number: int, expires_s: float, pass_key: bytes) -> str:
    expires = str(int(expires_s * 1000))
    return f"wp_{number}.{expires}.{_sign(pass_key, 'pass', str(number), expires)}"


def pass_is_valid(token: str, pass_key: bytes, now_s: float) -> bool:
    if len(token) > MAX_TOKEN_CHARS or not token.startswith("wp_"):
        return False
    parts = token[3:].split(".")
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return False
    number, expires, mac = parts
    if not hmac.compare_digest(mac, _sign(pass_key, "pass", number, expires)):
        return False
    return now_s * 1000 < int(expires)


def _line_statements() -> tuple:
    """The two UPDATEs of a join, built once (bind parameters: now, rate, count)."""
    line = waiting_room_line.c
    now, rate, count = (
        bindparam("now", type_=Float),
        bindparam("rate", type_=Float),
        bindparam("count", type_=BigInteger),
    )
    empty = line.anchor_number + rate * (now - line.anchor_s) >= line.next_number
    take = update(waiting_room_line).where(line.id == 1)
    returning = (line.next_number, line.anchor_number, line.anchor_s)
    queued = take.values(
        next_number=line.next_number + count,
        anchor_s=case((empty, now), else_=line.anchor_s),
        anchor_number=case((empty, line.next_number), else_=line.anchor_number),
    ).returning(*returning)
    open_door = take.values(
        next_number=line.next_number + count,
        anchor_s=now,
        anchor_number=line.next_number + count,
    ).returning(*returning)
    config = select(
        waiting_room.c.enabled, waiting_room.c.rate_per_s, waiting_room.c.pass_lifetime_s
    )
    return config.where(waiting_room.c.id == 1), queued, open_door


READ_CONFIG, TAKE_QUEUED, TAKE_OPEN = _line_statements()


def take_numbers(engine: Engine, count: int, now_s: float) -> tuple[int, RoomState]:
    """Give `count` visitors the next numbers in one UPDATE of the line row (re-anchored at
    `now_s` if the line is empty); returns the first number and the room's state after it."""
    with writing(engine) as conn:
        enabled, rate, lifetime = conn.execute(READ_CONFIG).one()
        on = bool(enabled) and rate > 0
        statement = TAKE_QUEUED if on else TAKE_OPEN
        row = conn.execute(statement, {"now": now_s, "rate": rate, "count": count}).one()
    state = RoomState(
        enabled=bool(enabled),
        rate_per_s=float(rate),
        pass_lifetime_s=float(lifetime),
        next_number=int(row[0]),
        anchor_number=float(row[1]),
        anchor_s=float(row[2]),
    )
    return int(row[0]) - count, state


def join(engine: Engine, pass_key: bytes, now_s: float | None = None) -> dict:
    """One visitor joins the line: `{ticket, status, position, estimated_wait_s, poll_after_s}`."""
    now_s = time.time() if now_s is None else now_s
    number, state = take_numbers(engine, 1, now_s)
    return {"ticket": ticket_for(number, pass_key), **_waiting(state, number, now_s)}


class JoinBatcher:
    """Joins that arrive while a line UPDATE is in flight share the next one (group commit):
    at thousands of joins per second the database sees one short write per batch, and no
    request waits on a thread of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pending: list[asyncio.Future] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.draining = False

    async def take(self) -> tuple[int, RoomState, float]:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (tests): forget the old one's state
            self.loop, self.pending, self.draining = loop, [], False
        future = loop.create_future()
        self.pending.append(future)
        if not self.draining:
            self.draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                now_s = time.time()
                try:
                    first, state = await _in_room_thread(
                        take_numbers, self.engine, len(batch), now_s
                    )
                except Exception as exc:  # noqa: BLE001 - every waiter gets the error
                    for future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for offset, future in enumerate(batch):
                    if not future.done():
                        future.set_result((first + offset, state, now_s))
        finally:
            self.draining = False


def _waiting(state: RoomState, number: int, now_s: float) -> dict:
    wait = max(0.0, state.admit_at(number) - now_s) if state.on else 0.0
    return {
        "status": "waiting" if wait > 0 else "admitted",
        "position": math.ceil(wait * state.rate_per_s) if state.on else 0,
        "estimated_wait_s": round(wait, 1),
        "poll_after_s": round(min(wait, POLL_MAX_S), 2),
    }


def status(state: RoomState, ticket: str, number: int, pass_key: bytes, now_s: float) -> dict:
    """Where ticket `number` stands in `state` at `now_s`: waiting, admitted (with a pass) or
    expired (its pass's lifetime is over)."""
    admit_at = state.admit_at(number) if state.on else now_s
    if now_s < admit_at:
        return {"ticket": ticket, **_waiting(state, number, now_s)}
    expires = admit_at + state.pass_lifetime_s
    if now_s >= expires:
        return {"ticket": ticket, "status": "expired", "position": 0, "estimated_wait_s": 0.0}
    return {
        "ticket": ticket,
        "status": "admitted",
        "position": 0,
        "estimated_wait_s": 0.0,
        "pass": pass_for(number, expires, pass_key),
        "pass_header": PASS_HEADER,
        "pass_expires_in_s": round(expires - now_s, 1),
    }


def queue_length(conn: Connection, now_s: float) -> int:
    return read_state(conn).queued(now_s)


def _fresh_state(ctx: AppContext, now_s: float) -> RoomState:
    with reading(ctx.engine) as conn:
        state = read_state(conn)
    ctx.waiting_room = state
    ctx.waiting_room_checked_s = now_s
    return state


async def cached_state(ctx: AppContext, now_s: float) -> RoomState:
    """The room's state, read again when older than the cache period (off the event loop)."""
    state = ctx.waiting_room
    if state is None or now_s - ctx.waiting_room_checked_s >= ctx.settings.waiting_room_cache_s:
        state = await _in_room_thread(_fresh_state, ctx, now_s)
    return state


def refusal() -> ApiError:
    """What a funnel request without a valid pass gets while the room is on."""
    return ApiError(
        503,
        "waiting_room",
        "the waiting room is on: POST /queue, poll GET /queue/{ticket}, then send the pass in "
        f"the {PASS_HEADER} header",
        headers={"Retry-After": "5"},
        queue="/queue",
    )


async def admits(
    ctx: AppContext, waiting_pass: str | None, authorization: str | None, now_s: float
) -> bool:
    """Whether a funnel request may go on: the room is off, its pass is valid, or it carries
    the admin key. An HMAC and a clock read; the database only when the cache is stale."""
    state = await cached_state(ctx, now_s)
    if not state.on:
        return True
    if waiting_pass and pass_is_valid(waiting_pass, ctx.keyring.pass_key, now_s):
        return True
    authorization = authorization or ""
    return authorization.startswith("Bearer ") and same_secret(
        authorization[7:].strip(), ctx.settings.admin_key
    )


async def join_line(ctx: AppContext) -> dict:
    """One visitor joins (batched with whoever joins at the same moment)."""
    if ctx.queue_joins is None:
        ctx.queue_joins = JoinBatcher(ctx.engine)
    number, state, now_s = await ctx.queue_joins.take()
    return {"ticket": ticket_for(number, ctx.keyring.pass_key), **_waiting(state, number, now_s)}


async def poll(ctx: AppContext, ticket: str) -> dict | None:
    """Where a ticket stands (None: not a ticket this room signed). A waiting answer comes
    from the cached state; an admitted or expired one is confirmed against the database."""
    pass_key = ctx.keyring.pass_key
    number = ticket_number(ticket, pass_key)
    if number is None:
        return None
    now_s = time.time()
    state = await cached_state(ctx, now_s)
    fresh = ctx.waiting_room_checked_s == now_s
    found = status(state, ticket, number, pass_key, now_s)
    if found["status"] != "waiting" and not fresh:
        # Admitted (or expired) by the cached anchor, which can only be early: confirm.
        state = await _in_room_thread(_fresh_state, ctx, now_s)
        found = status(state, ticket, number, pass_key, now_s)
    return found


async def require_pass(
    request: Request,
    waiting_pass: Annotated[str | None, Header(alias=PASS_HEADER)] = None,
) -> None:
    """Dependency of the booking funnel (register, search, availability, book): while the room
    is on, a valid pass is needed (the admin key goes through). The edge in front of the app
    (`reference_app.room_edge`) turns most such requests away before they get here."""
    if getattr(request.state, ADMITTED_STATE, False):  # the edge checked it already
        return
    ctx: AppContext = request.app.state.ctx
    if not await admits(ctx, waiting_pass, request.headers.get("authorization"), time.time()):
        raise refusal()


@router.post("/queue", status_code=201)
async def post_queue(request: Request) -> dict:
    """Join the waiting room: `{ticket, status, position, estimated_wait_s, poll_after_s}`."""
    return await join_line(request.app.state.ctx)


@router.get("/queue/{ticket}")
async def get_queue(request: Request, ticket: str) -> dict:
    """Position while waiting (come back after `poll_after_s`); once admitted, the pass to send
    in the X-Waiting-Room-Pass header."""
    found = await poll(request.app.state.ctx, ticket)
    if found is None:
        raise ApiError(404, "not_found", "ticket not found")
    return found
