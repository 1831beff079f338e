"""Booking-attempt rate limits per patient token and per client address (fixed one-minute
windows), counted in the database so every worker and machine shares them."""

from __future__ import annotations

import random
import time

from sqlalchemy import Engine, delete

from reference_app.database import insert_statement, writing
from reference_app.schema import rate_limits

WINDOW_S = 60


def hit(engine: Engine, subjects: list[tuple[str, int]], now_s: float | None = None) -> int | None:
    """Count one attempt for each (bucket subject, limit per minute); limit 0 means off.

    Returns the seconds to wait (for Retry-After) when any limit is exceeded, else None.
    """
    active = [(subject, limit) for subject, limit in subjects if limit > 0]
    if not active:
        return None
    now_s = time.time() if now_s is None else now_s
    window = int(now_s // WINDOW_S)
    exceeded = False
    with writing(engine) as conn:
        for subject, limit in active:
            stmt = insert_statement(conn, rate_limits).values(
                bucket=f"{subject}:{window}", window_min=window, hits=1
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[rate_limits.c.bucket], set_={"hits": rate_limits.c.hits + 1}
            ).returning(rate_limits.c.hits)
            if conn.execute(stmt).scalar_one() > limit:
                exceeded = True
        if random.random() < 0.005:  # noqa: S311 - housekeeping, not security
            conn.execute(delete(rate_limits).where(rate_limits.c.window_min < window - 1))
    if exceeded:
        return max(1, int((window + 1) * WINDOW_S - now_s) + 1)
    return None
