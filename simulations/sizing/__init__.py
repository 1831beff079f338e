"""Capacity sizing: the fewest servers, admissions or doses that meet stated targets.

`size_center` (staff per station), `size_roster` (the cheapest roster per station and period), `size_platform` (one platform knob over a scenario),
`size_supply` (doses and staff for a campaign); `outputs` writes their tables and figures.
"""

from simulations.sizing.center import (
    CenterSizing,
    Target,
    TargetError,
    parse_target,
    size_center,
)
from simulations.sizing.platform import PlatformSizing, size_platform, slo_targets
from simulations.sizing.roster import RosterSizing, size_roster
from simulations.sizing.supply import SupplyPlan, SupplySizingError, size_supply, staff_for

__all__ = [
    "CenterSizing",
    "PlatformSizing",
    "RosterSizing",
    "SupplyPlan",
    "SupplySizingError",
    "Target",
    "TargetError",
    "parse_target",
    "size_center",
    "size_platform",
    "size_roster",
    "size_supply",
    "slo_targets",
    "staff_for",
]
