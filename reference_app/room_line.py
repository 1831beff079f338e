"""The waiting room's line: a numbered FIFO that admits `rate_per_s` visitors per second.

Joining takes the next number n in one atomic UPDATE of the single `waiting_room_line` row;
ticket n is admitted at `anchor_s + (n - anchor_n) / rate`. When the line is empty the anchor
moves to (now, n), so no admission credit is banked while nobody waits, and a rate change
re-anchors at the number being served, so every queued ticket keeps its place. Joins that
arrive together share one UPDATE (`JoinBatcher`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import BigInteger, Connection, Engine, Float, bindparam, case, select, update

from reference_app.database import writing
from reference_app.schema import waiting_room, waiting_room_line

# The room's own threads: its few database calls (a batch of joins, a state read) never queue
# for the request thread pool behind bookings and registrations, which may all be busy at once.
T = TypeVar("T")
_ROOM_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="waiting-room")


async def in_room_thread(function: Callable[..., T], *args: object) -> T:
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


def queue_length(conn: Connection, now_s: float) -> int:
    return read_state(conn).queued(now_s)


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


class JoinBatcher:
    """Joins that arrive while a line UPDATE is in flight share the next one (group commit):
    at thousands of joins per second the database sees one short write per batch, and no
    request waits on a thread of its own. `clock` gives the join time (seconds)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
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
                now_s = self.clock()
                try:
                    first, state = await in_room_thread(
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
