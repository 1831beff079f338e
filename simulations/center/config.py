"""Vaccination-centre configuration: arrivals, stations in order, walking time (minutes).

A config is a TOML file (or a built-in name from `simulations/center/builtin/`). Everything is validated
once, here, into frozen dataclasses; every error names the offending key in one line.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simulations.center.flows import (
    Closing,
    FlowError,
    PatientClass,
    Punctuality,
    WalkIns,
    parse_classes,
    parse_closing,
    parse_punctuality,
    parse_walk_ins,
)
from simulations.center.roster import (
    Break,
    RosterError,
    Shift,
    expand_break_rule,
    parse_breaks,
    parse_roster,
)
from simulations.distributions import Distribution, DistributionError, parse_distribution
from surge.errors import SurgeError

__all__ = [
    "AppointmentArrivals",
    "CenterConfig",
    "CenterConfigError",
    "PoissonArrivals",
    "Station",
    "builtin_centers",
    "load_center",
    "parse_center",
]

CENTERS_DIR = Path(__file__).parent / "builtin"


class CenterConfigError(SurgeError, ValueError):
    """A centre config that cannot be simulated."""


@dataclass(frozen=True)
class PoissonArrivals:
    rate_per_hour: float


@dataclass(frozen=True)
class AppointmentArrivals:
    """`per_block` patients are booked at the start of each of `blocks` blocks."""

    block_minutes: float
    per_block: int
    blocks: int
    first_block_min: float = 0.0
    punctuality_sd_min: float = 0.0
    no_show: float = 0.0
    punctuality: Punctuality | None = None  # asymmetric; replaces punctuality_sd_min


@dataclass(frozen=True)
class Station:
    """`servers` is the count outside the roster's intervals (None: a pure delay, no staff);
    `capacity` counts every patient at the station, waiting or in service (None: unlimited)."""

    name: str
    servers: int | None  # None: infinitely many (a pure delay, e.g. observation)
    service: Distribution
    patience: Distribution | None = None
    capacity: int | None = None
    roster: tuple[Shift, ...] = ()
    breaks: tuple[Break, ...] = ()

    @property
    def nominal_servers(self) -> int | None:
        """The most servers ever on duty (the fixed count without a roster)."""
        if self.servers is None:
            return None
        return max([self.servers, *(s.servers for s in self.roster)])


@dataclass(frozen=True)
class CenterConfig:
    name: str
    open_minutes: float
    arrivals: PoissonArrivals | AppointmentArrivals
    stations: tuple[Station, ...]
    walk: Distribution | None = None
    description: str = ""
    classes: tuple[PatientClass, ...] = ()
    walk_ins: WalkIns | None = None
    closing: Closing | None = None

    @property
    def admission_end_min(self) -> float:
        """Overtime and "inside at closing" are measured from here."""
        return self.closing.at_min if self.closing is not None else self.open_minutes

    @property
    def arrival_rate_per_min(self) -> float:
        """Expected rate of patients who actually come in, over the arrival window."""
        walk_ins = 0.0
        if self.walk_ins is not None and self.open_minutes > 0:
            w = self.walk_ins
            walk_ins = w.rate_per_hour / 60 * (w.to_min - w.from_min) / self.open_minutes
        if isinstance(self.arrivals, PoissonArrivals):
            return self.arrivals.rate_per_hour / 60 + walk_ins
        a = self.arrivals
        return a.per_block * (1 - a.no_show) / a.block_minutes + walk_ins

    def visit_share(self, station: str) -> float:
        """Expected share of patients whose route includes `station`."""
        if not self.classes:
            return 1.0
        return sum(c.share for c in self.classes if station in c.route)

    def station(self, name: str) -> Station:
        for station in self.stations:
            if station.name == name:
                return station
        known = ", ".join(s.name for s in self.stations)
        raise CenterConfigError(f"no station named {name!r} (stations: {known})")

    def with_servers(self, servers: Mapping[str, int]) -> CenterConfig:
        """A copy with some stations' server counts replaced (a fixed count drops the roster)."""
        for name in servers:
            self.station(name)
        stations = tuple(
            replace(s, servers=int(servers[s.name]), roster=()) if s.name in servers else s
            for s in self.stations
        )
        return replace(self, stations=stations)


def _number(
    table: Mapping[str, Any], key: str, where: str, *, default: float | None = None
) -> float:
    if key not in table:
        if default is None:
            raise CenterConfigError(f"{where}: missing '{key}'")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CenterConfigError(f"{where}: '{key}' must be a number, got {value!r}")
    if value < 0:
        raise CenterConfigError(f"{where}: '{key}' must not be negative, got {value}")
    return float(value)


def _count(table: Mapping[str, Any], key: str, where: str) -> int:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CenterConfigError(f"{where}: '{key}' must be a positive integer, got {value!r}")
    return value


def _arrivals(table: Any) -> tuple[PoissonArrivals | AppointmentArrivals, float | None]:
    if not isinstance(table, Mapping):
        raise CenterConfigError("missing [arrivals] table")
    open_minutes = _number(table, "open_minutes", "[arrivals]", default=-1.0)
    kind = table.get("kind")
    if kind == "poisson":
        if open_minutes <= 0:
            raise CenterConfigError("[arrivals]: poisson arrivals need open_minutes > 0")
        rate = _number(table, "rate_per_hour", "[arrivals]")
        return PoissonArrivals(rate_per_hour=rate), open_minutes
    if kind == "appointments":
        no_show = _number(table, "no_show", "[arrivals]", default=0.0)
        if no_show > 1:
            raise CenterConfigError(f"[arrivals]: 'no_show' is a probability, got {no_show}")
        block = _number(table, "block_minutes", "[arrivals]")
        if block <= 0:
            raise CenterConfigError("[arrivals]: 'block_minutes' must be > 0")
        arrivals = AppointmentArrivals(
            block_minutes=block,
            per_block=_count(table, "per_block", "[arrivals]"),
            blocks=_count(table, "blocks", "[arrivals]"),
            first_block_min=_number(table, "first_block_min", "[arrivals]", default=0.0),
            punctuality_sd_min=_number(table, "punctuality_sd_min", "[arrivals]", default=0.0),
            no_show=no_show,
            punctuality=parse_punctuality(table.get("punctuality")),
        )
        return arrivals, (open_minutes if open_minutes > 0 else None)
    raise CenterConfigError(f"[arrivals]: kind must be 'poisson' or 'appointments', got {kind!r}")


def _station(table: Any, index: int) -> Station:
    where = f"stations[{index}]"
    if not isinstance(table, Mapping):
        raise CenterConfigError(f"{where}: expected a table")
    name = table.get("name")
    if not isinstance(name, str) or not name or "." in name:
        raise CenterConfigError(f"{where}: 'name' must be a non-empty string without dots")
    where = f"station {name!r}"
    raw = table.get("servers")
    roster = parse_roster(table["roster"], where) if "roster" in table else ()
    if raw is None and roster:
        raw = roster[-1].servers
    if raw == "infinite" and not roster:
        servers = None
    elif isinstance(raw, int) and not isinstance(raw, bool) and (raw >= 1 or roster and raw >= 0):
        servers = raw
    else:
        raise CenterConfigError(f"{where}: 'servers' must be a positive integer or \"infinite\"")
    if servers is None and ("breaks" in table or "break_rule" in table):
        raise CenterConfigError(f'{where}: breaks need staffed servers, not "infinite"')
    breaks = parse_breaks(table["breaks"], where) if "breaks" in table else ()
    if "break_rule" in table:
        if servers is None:
            raise CenterConfigError(f"{where}: a break_rule needs a fixed server count")
        breaks = tuple(
            sorted(
                (*breaks, *expand_break_rule(table["break_rule"], where, roster, servers)),
                key=lambda b: b.start_min,
            )
        )
    capacity = table.get("capacity")
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
    ):
        raise CenterConfigError(f"{where}: 'capacity' must be a positive integer")
    if "service" not in table:
        raise CenterConfigError(f"{where}: missing 'service' distribution")
    service = parse_distribution(table["service"], f"{where} service")
    patience = None
    if "patience" in table:
        patience = parse_distribution(table["patience"], f"{where} patience")
    keys = {"name", "servers", "service", "patience", "capacity", "roster", "breaks", "break_rule"}
    unknown = set(table) - keys
    if unknown:
        raise CenterConfigError(f"{where}: unexpected key(s) {sorted(unknown)}")
    return Station(name, servers, service, patience, capacity, roster, breaks)


def parse_center(data: Mapping[str, Any], name: str = "center") -> CenterConfig:
    """Validate a parsed TOML document into a `CenterConfig`."""
    try:
        arrivals, open_minutes = _arrivals(data.get("arrivals"))
        raw_stations = data.get("stations")
        if not isinstance(raw_stations, list) or not raw_stations:
            raise CenterConfigError("config needs at least one [[stations]] table")
        stations = tuple(_station(t, i) for i, t in enumerate(raw_stations))
        if len({s.name for s in stations}) != len(stations):
            raise CenterConfigError("station names must be unique")
        walk = parse_distribution(data["walk"], "[walk]") if "walk" in data else None
        if open_minutes is None:
            a = arrivals
            open_minutes = a.first_block_min + a.blocks * a.block_minutes
        names = [s.name for s in stations]
        classes = parse_classes(data.get("classes"), names) if "classes" in data else ()
        walk_ins = parse_walk_ins(data["arrivals"].get("walk_ins"), open_minutes)
        closing = parse_closing(data.get("closing"))
    except (DistributionError, RosterError, FlowError) as exc:
        raise CenterConfigError(str(exc)) from exc
    return CenterConfig(
        name=str(data.get("name", name)),
        description=str(data.get("description", "")),
        open_minutes=open_minutes,
        arrivals=arrivals,
        stations=stations,
        walk=walk,
        classes=classes,
        walk_ins=walk_ins,
        closing=closing,
    )


def builtin_centers() -> list[str]:
    return sorted(p.stem for p in CENTERS_DIR.glob("*.toml"))


def _override(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key; `stations.<name>.<field>` addresses a station by name."""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            matches = [s for s in node if isinstance(s, dict) and s.get("name") == part]
            if not matches:
                raise CenterConfigError(f"override {key!r}: no station named {part!r}")
            node = matches[0]
        elif isinstance(node, dict):
            if part not in node and i == 0:
                raise CenterConfigError(f"override {key!r}: no section {part!r}")
            node = node.setdefault(part, {})
        else:
            raise CenterConfigError(f"override {key!r}: {part!r} is not a table")
    if not isinstance(node, dict):
        raise CenterConfigError(f"override {key!r}: cannot set a value there")
    node[parts[-1]] = value


def load_center(ref: str | Path, overrides: Mapping[str, Any] | None = None) -> CenterConfig:
    """Load a centre from a TOML path or a built-in name (`surge sim center --center mass-hub`).

    `overrides` maps dotted keys to values, e.g. `{"stations.vaccination.servers": 12}`.
    """
    path = Path(ref)
    if not path.exists() and (CENTERS_DIR / f"{ref}.toml").exists():
        path = CENTERS_DIR / f"{ref}.toml"
    if not path.exists():
        known = ", ".join(builtin_centers())
        raise CenterConfigError(f"no centre config {str(ref)!r} (a TOML file or one of: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CenterConfigError(f"{path}: invalid TOML: {exc}") from exc
    for key, value in (overrides or {}).items():
        _override(data, key, value)
    return parse_center(data, name=path.stem)
