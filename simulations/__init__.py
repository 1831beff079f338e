"""SimPy models of national campaigns and vaccination centres, and the sizing built on them.

The flat API for notebooks and users (imported on first use, so `import simulations` stays cheap):

    from simulations import load_scenario, simulate, load_center, simulate_center

Subpackages: `scenario` (the shared vocabulary), `national` (the opening-day model), `center`
(a vaccination centre), `sizing`, `calibration` (fit a platform profile to load-test results).
Shared machinery at the top: `distributions`, `queueing`, `replications`, `sweep`, `validation`.
This package never imports Locust or the reference app: it reads measured results as data.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Scenario": "simulations.scenario",
    "ScenarioError": "simulations.scenario",
    "Slo": "simulations.scenario",
    "load_slo": "simulations.scenario",
    "apply_overrides": "simulations.scenario",
    "list_scenarios": "simulations.scenario",
    "load_scenario": "simulations.scenario",
    "write_scenario": "simulations.scenario",
    "simulate": "simulations.national",
    "run_replications": "simulations.national",
    "knob_variants": "simulations.national",
    "staggered_opening": "simulations.national",
    "CenterConfig": "simulations.center",
    "load_center": "simulations.center",
    "simulate_center": "simulations.center",
    "run_center_replications": "simulations.center",
    "size_center": "simulations.sizing",
    "size_platform": "simulations.sizing",
    "size_roster": "simulations.sizing",
    "size_supply": "simulations.sizing",
    "parse_target": "simulations.sizing",
    "run_sweep": "simulations.sweep",
    "validate": "simulations.validation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'simulations' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
