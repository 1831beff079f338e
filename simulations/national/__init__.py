"""The national opening-day model: arrivals, the waiting room, web and DB tiers, slot inventory.

Counts of visitors are stepped in ticks (every visitor counted, in cohorts), so a 2-million
visitor evening runs in seconds. `simulate` runs one replication; `run_replications` many.
Plots live in `simulations.national.plots` (imported on demand: it loads matplotlib).
"""

from simulations.national.day import OpeningDay
from simulations.national.opening_day import RunResult, run_replications, simulate, streams
from simulations.national.slots import Slots
from simulations.national.waiting_room import WaitingRoom
from simulations.national.web_tier import Tier, TierTick
from simulations.national.what_if import knob_variants, staggered_opening

__all__ = [
    "OpeningDay",
    "RunResult",
    "Slots",
    "Tier",
    "TierTick",
    "WaitingRoom",
    "knob_variants",
    "run_replications",
    "simulate",
    "staggered_opening",
    "streams",
]
