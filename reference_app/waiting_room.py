"""The waiting room as visitors meet it: join, poll, the pass check of the booking funnel.

The line itself is `reference_app.room_line`; tickets and passes are signed, not stored
(`reference_app.room_tickets`): polling a waiting ticket and checking a pass are CPU work only,
with the room's state cached per worker for `waiting_room_cache_s`. A stale cache can only make
a ticket look *later* than it is (the anchor only moves forward), and an "admitted" answer is
confirmed against the database before a pass is minted, so admission order and rate stay
exact. That is what keeps the room cheap at several times the app's capacity: the queue is
where most visitors are, and it must cost far less than a booking. The server paces the polls:
`poll_after_s` is the ticket's admission time (at most `POLL_MAX_S` away), so a visitor polls
about once per `POLL_MAX_S` of waiting. Time comes from the context's clock (`ctx.clock`).
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sqlalchemy import Engine

from reference_app.context import AppContext
from reference_app.database import reading
from reference_app.errors import ApiError
from reference_app.identity import same_secret
from reference_app.room_line import JoinBatcher, RoomState, in_room_thread, read_state, take_numbers
from reference_app.room_tickets import pass_for, pass_is_valid, ticket_for, ticket_number

router = APIRouter(tags=["waiting room"])
PASS_HEADER = "X-Waiting-Room-Pass"  # noqa: S105 - a header name, not a secret
# A queued visitor is told to come back when its turn comes (the admission time is exact at a
# constant rate), or after POLL_MAX_S to see its position move on a long wait.
POLL_MAX_S = 30.0
ADMITTED_STATE = "waiting_room_admitted"  # request state set by the edge once a pass is checked


def join(engine: Engine, pass_key: bytes, now_s: float | None = None) -> dict:
    """One visitor joins the line: `{ticket, status, position, estimated_wait_s, poll_after_s}`."""
    now_s = time.time() if now_s is None else now_s
    number, state = take_numbers(engine, 1, now_s)
    return {"ticket": ticket_for(number, pass_key), **_waiting(state, number, now_s)}


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
        state = await in_room_thread(_fresh_state, ctx, now_s)
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


async def admits(ctx: AppContext, waiting_pass: str | None, authorization: str | None) -> bool:
    """Whether a funnel request may go on: the room is off, its pass is valid, or it carries
    the admin key. An HMAC and a clock read; the database only when the cache is stale."""
    now_s = ctx.clock()
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
        ctx.queue_joins = JoinBatcher(ctx.engine, ctx.clock)
    number, state, now_s = await ctx.queue_joins.take()
    return {"ticket": ticket_for(number, ctx.keyring.pass_key), **_waiting(state, number, now_s)}


async def poll(ctx: AppContext, ticket: str) -> dict | None:
    """Where a ticket stands (None: not a ticket this room signed). A waiting answer comes
    from the cached state; an admitted or expired one is confirmed against the database."""
    pass_key = ctx.keyring.pass_key
    number = ticket_number(ticket, pass_key)
    if number is None:
        return None
    now_s = ctx.clock()
    state = await cached_state(ctx, now_s)
    fresh = ctx.waiting_room_checked_s == now_s
    found = status(state, ticket, number, pass_key, now_s)
    if found["status"] != "waiting" and not fresh:
        # Admitted (or expired) by the cached anchor, which can only be early: confirm.
        state = await in_room_thread(_fresh_state, ctx, now_s)
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
    if not await admits(ctx, waiting_pass, request.headers.get("authorization")):
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
