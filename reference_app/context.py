"""What every route needs, built once per worker by `create_app`: settings, engine, keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from reference_app.identity import Keyring
from reference_app.metrics import Metrics
from reference_app.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    keyring: Keyring
    metrics: Metrics
    # Waiting-room switch cached per worker for `settings.waiting_room_cache_s` (state is in the DB).
    waiting_room_checked_s: float = 0.0
    waiting_room_enabled: bool = False
    waiting_room_rate_per_s: float = 0.0
    started_s: float = field(default_factory=time.time)


def context(request: Request) -> AppContext:
    return request.app.state.ctx
