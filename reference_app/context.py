"""What every route needs, built once per worker by `create_app`: settings, engine, keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy import Engine

from reference_app.identity import Keyring
from reference_app.metrics import Metrics
from reference_app.settings import Settings

if TYPE_CHECKING:
    from reference_app.waiting_room import JoinBatcher, RoomState


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    keyring: Keyring
    metrics: Metrics
    # Waiting-room state cached per worker for `settings.waiting_room_cache_s` (it is in the DB).
    waiting_room_checked_s: float = 0.0
    waiting_room: RoomState | None = None
    queue_joins: JoinBatcher | None = None  # made on the first join, in the serving event loop
    started_s: float = field(default_factory=time.time)


def context(request: Request) -> AppContext:
    return request.app.state.ctx
