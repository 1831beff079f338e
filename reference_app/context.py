"""What every route needs, built once per worker by `create_app`: settings, engine, keys,
metrics and the clock (seconds since the epoch; tests inject one they advance)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from reference_app.identity import Keyring
from reference_app.metrics import Metrics
from reference_app.room_line import JoinBatcher, RoomState
from reference_app.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    keyring: Keyring
    metrics: Metrics
    clock: Callable[[], float] = time.time
    # Waiting-room state cached per worker for `settings.waiting_room_cache_s` (it is in the DB).
    waiting_room_checked_s: float = 0.0
    waiting_room: RoomState | None = None
    queue_joins: JoinBatcher | None = None  # made on the first join, in the serving event loop


def context(request: Request) -> AppContext:
    return request.app.state.ctx
