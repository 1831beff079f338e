"""Staff rosters of a centre station: shifts (server counts over the day) and breaks.

A station's staffing is a step function of time: `roster` intervals `[from_min, to_min)` with a
server count each; outside every interval the station's `servers` count applies (by default the
last interval's count, so staff finish the patients still inside after the roster ends).

Breaks are fixed (`start_min`, `minutes`, `servers` off at once) or a rule
(`break_rule = {after_min, minutes, stagger_min}`: every server who starts at t takes a break at
t + after_min, the j-th of a group starting j * stagger_min later), which is expanded into fixed
one-server breaks here, so the simulation only ever sees fixed breaks. The semantics the
simulation applies (docs/centers.md#rosters-and-breaks):

- a break scheduled at t takes an idle server at t, before a patient arriving at t is served;
- a server busy at t finishes the patient, then rests until the scheduled end (shortened, not
  moved); a break whose end passes before a server comes free is not taken;
- a roster change that removes servers takes idle ones at once and the others as they come free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Break", "RosterError", "Shift", "expand_break_rule", "parse_breaks", "parse_roster"]


class RosterError(ValueError):
    """A roster or break table that cannot be used."""


@dataclass(frozen=True)
class Shift:
    """`servers` on duty over [from_min, to_min)."""

    from_min: float
    to_min: float
    servers: int


@dataclass(frozen=True)
class Break:
    """`servers` staff off over [start_min, start_min + minutes)."""

    start_min: float
    minutes: float
    servers: int = 1

    @property
    def end_min(self) -> float:
        return self.start_min + self.minutes


def _number(table: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    if key not in table:
        if default is None:
            raise RosterError(f"{where}: missing '{key}'")
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RosterError(f"{where}: '{key}' must be a number, got {value!r}")
    if value < 0:
        raise RosterError(f"{where}: '{key}' must not be negative, got {value}")
    return float(value)


def _int(
    table: Mapping[str, Any], key: str, where: str, minimum: int, default: int | None = None
) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RosterError(f"{where}: '{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _tables(raw: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(t, Mapping) for t in raw):
        raise RosterError(f"{where}: expected a list of tables")
    return raw


def parse_roster(raw: Any, where: str) -> tuple[Shift, ...]:
    """Validate `roster = [{from_min, to_min, servers}, ...]`: sorted, non-overlapping."""
    shifts = []
    for i, table in enumerate(_tables(raw, f"{where} roster")):
        here = f"{where} roster[{i}]"
        unknown = set(table) - {"from_min", "to_min", "servers"}
        if unknown:
            raise RosterError(f"{here}: unexpected key(s) {sorted(unknown)}")
        start, end = _number(table, "from_min", here), _number(table, "to_min", here)
        if end <= start:
            raise RosterError(f"{here}: 'to_min' must be after 'from_min'")
        shifts.append(Shift(start, end, _int(table, "servers", here, 0)))
    if not shifts:
        raise RosterError(f"{where} roster: needs at least one interval")
    for a, b in zip(shifts, shifts[1:], strict=False):
        if b.from_min < a.to_min:
            raise RosterError(f"{where} roster: intervals must be sorted and must not overlap")
    return tuple(shifts)


def parse_breaks(raw: Any, where: str) -> tuple[Break, ...]:
    breaks = []
    for i, table in enumerate(_tables(raw, f"{where} breaks")):
        here = f"{where} breaks[{i}]"
        unknown = set(table) - {"start_min", "minutes", "servers"}
        if unknown:
            raise RosterError(f"{here}: unexpected key(s) {sorted(unknown)}")
        minutes = _number(table, "minutes", here)
        if minutes <= 0:
            raise RosterError(f"{here}: 'minutes' must be > 0")
        breaks.append(
            Break(_number(table, "start_min", here), minutes, _int(table, "servers", here, 1, 1))
        )
    return tuple(sorted(breaks, key=lambda b: b.start_min))


def servers_at(shifts: Sequence[Shift], default: int, t: float) -> int:
    """Servers rostered at instant t."""
    for shift in shifts:
        if shift.from_min <= t < shift.to_min:
            return shift.servers
    return default


def changes(shifts: Sequence[Shift], default: int) -> list[tuple[float, int]]:
    """(instant, servers from then on) at every change of the step function, from time 0."""
    points = sorted({0.0, *(s.from_min for s in shifts), *(s.to_min for s in shifts)})
    out: list[tuple[float, int]] = []
    for t in points:
        count = servers_at(shifts, default, t)
        if not out or out[-1][1] != count:
            out.append((t, count))
    return out


def rostered_minutes(shifts: Sequence[Shift], default: int, until_min: float) -> float:
    """Server-minutes on the roster over [0, until_min]."""
    steps = changes(shifts, default)
    total = 0.0
    for (t, count), (t_next, _) in zip(steps, [*steps[1:], (math.inf, 0)], strict=True):
        total += count * max(0.0, min(t_next, until_min) - min(t, until_min))
    return total


def expand_break_rule(
    raw: Any, where: str, shifts: Sequence[Shift], default: int
) -> tuple[Break, ...]:
    """One-server breaks for `break_rule = {after_min, minutes, stagger_min}`.

    Servers joining at instant t (the day's start, or a roster increase) are numbered j = 0, 1...;
    server j rests over [t + after_min + j * stagger_min, + minutes).
    """
    if not isinstance(raw, Mapping):
        raise RosterError(f"{where} break_rule: expected a table")
    here = f"{where} break_rule"
    unknown = set(raw) - {"after_min", "minutes", "stagger_min"}
    if unknown:
        raise RosterError(f"{here}: unexpected key(s) {sorted(unknown)}")
    after, minutes = _number(raw, "after_min", here), _number(raw, "minutes", here)
    stagger = _number(raw, "stagger_min", here, 0.0)
    if minutes <= 0:
        raise RosterError(f"{here}: 'minutes' must be > 0")
    breaks, previous = [], 0
    for t, count in changes(shifts, default):
        for j in range(max(0, count - previous)):
            breaks.append(Break(t + after + j * stagger, minutes, 1))
        previous = count
    return tuple(sorted(breaks, key=lambda b: b.start_min))
