"""The `[regions]` section: departments, where visitors live, where centres are, how far they go.

Off by default (no section: one national pool of centres, as before). With it, every visitor has
a home department, drawn with the departments' `weight`s, and keeps it on every retry and
deferral; every centre belongs to a department, `centers` shared out in proportion to the same
weights (one per department first when there are enough, except the departments listed in
`no_supply`, which get none). A booker searches the centres of their home department and of every
department whose prefecture lies within `travel_km` km of their own (great-circle distance
between prefectures; 0 = home department only), by popularity as before. So sell-out is local:
a department whose centres are full (or which has none) turns its visitors away while
a neighbour still has slots. The waiting room and the web tier stay national (one platform).

The departments come from `simulations/scenario/departments.csv` (code, prefecture, latitude,
longitude, weight: the 101 departments of `reference_app`; weights are an assumption, see
docs/simulation.md#regions); `departments` picks a subset (empty = all 101), `weights`
overrides some weights.
"""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Department", "Regions", "all_departments", "distance_km"]

TABLE = Path(__file__).with_name("departments.csv")


class Department(NamedTuple):
    code: str
    prefecture: str
    lat: float
    lon: float
    weight: float


@cache
def all_departments() -> tuple[Department, ...]:
    """The committed table of French departments (prefecture coordinates, weights)."""
    with TABLE.open(encoding="utf-8") as handle:
        return tuple(
            Department(
                r["code"], r["prefecture"], float(r["lat"]), float(r["lon"]), float(r["weight"])
            )
            for r in csv.DictReader(handle)
        )


def distance_km(a: Department, b: Department) -> float:
    """Great-circle distance between two prefectures (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


class Regions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    departments: list[str] = Field(default_factory=list)
    weights: dict[str, float] = Field(default_factory=dict)
    travel_km: float = Field(0.0, ge=0)
    no_supply: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _codes_known(self) -> Regions:
        known = {d.code for d in all_departments()}
        chosen = set(self.departments) or known
        for key in ("departments", "no_supply"):
            for code in getattr(self, key):
                if code not in known:
                    raise ValueError(f"regions.{key}: unknown department {code!r}")
        for code, weight in self.weights.items():
            if code not in chosen:
                raise ValueError(f"regions.weights.{code}: not one of the departments")
            if not weight >= 0:
                raise ValueError(f"regions.weights.{code}: must be >= 0 (got {weight})")
        if len(set(self.departments)) != len(self.departments):
            raise ValueError("regions.departments: listed twice")
        if not set(self.no_supply) <= chosen:
            raise ValueError("regions.no_supply: not one of the departments")
        if sum(d.weight for d in self.table()) <= 0:
            raise ValueError("regions.weights: at least one department needs a weight > 0")
        if set(self.no_supply) >= chosen:
            raise ValueError("regions.no_supply: at least one department needs centres")
        return self

    def table(self) -> list[Department]:
        """The departments in play, in table order, with their weights."""
        chosen = set(self.departments)
        return [
            d._replace(weight=self.weights.get(d.code, d.weight))
            for d in all_departments()
            if not chosen or d.code in chosen
        ]

    def reach(self) -> list[list[int]]:
        """For each department, the indices of the departments its visitors search (itself first)."""
        table = self.table()
        return [
            [i]
            + [
                j
                for j, other in enumerate(table)
                if j != i and distance_km(home, other) <= self.travel_km
            ]
            for i, home in enumerate(table)
        ]
