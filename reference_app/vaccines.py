"""Vaccines and their dose rules; the dose-2 window can change at runtime (`PUT /admin/vaccines`).

Defaults (France, summer 2021): Pfizer 21-49 days, Moderna 28-49, AstraZeneca 63-84, Janssen
single dose. Source: docs/sources.md#dose-intervals-france.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from reference_app import schema

DEFAULT_VACCINES: list[dict] = [
    {
        "code": "pfizer",
        "name": "Pfizer-BioNTech (Comirnaty)",
        "doses": 2,
        "min_days": 21,
        "max_days": 49,
    },
    {"code": "moderna", "name": "Moderna (Spikevax)", "doses": 2, "min_days": 28, "max_days": 49},
    {
        "code": "astrazeneca",
        "name": "AstraZeneca (Vaxzevria)",
        "doses": 2,
        "min_days": 63,
        "max_days": 84,
    },
    {
        "code": "janssen",
        "name": "Janssen (single dose)",
        "doses": 1,
        "min_days": None,
        "max_days": None,
    },
]
VACCINE_CODES = tuple(v["code"] for v in DEFAULT_VACCINES)


def list_vaccines(conn: Connection) -> list[dict]:
    rows = conn.execute(select(schema.vaccines).order_by(schema.vaccines.c.code)).mappings()
    return [dict(row) for row in rows]


def get_vaccine(conn: Connection, code: str) -> dict | None:
    row = (
        conn.execute(select(schema.vaccines).where(schema.vaccines.c.code == code))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def set_window(conn: Connection, code: str, min_days: int, max_days: int) -> dict | None:
    """Change the dose-2 window of a two-dose vaccine; existing appointments keep theirs."""
    conn.execute(
        update(schema.vaccines)
        .where(schema.vaccines.c.code == code)
        .values(min_days=min_days, max_days=max_days)
    )
    return get_vaccine(conn, code)
