"""The scenario vocabulary, read by the national model, the sizing and the load tests alike.

A scenario is one TOML file: demand (who arrives when), supply (slots and centres), the platform
(tiers, waiting room), the SLO, and the arrival curve derived from demand. Built-ins live in
`simulations/scenario/builtin/`.
"""

from simulations.scenario.arrivals import (
    arrival_rate_per_min,
    arrival_rates_per_min,
    arrivals_per_tick,
    cumulative_arrivals,
)
from simulations.scenario.demand import Demand
from simulations.scenario.errors import ScenarioError
from simulations.scenario.platform import Platform
from simulations.scenario.scenario import (
    Behaviour,
    Model,
    Scenario,
    apply_overrides,
    list_scenarios,
    load_scenario,
    scenario_path,
    write_scenario,
)
from simulations.scenario.slo import JourneySlo, Slo, check_routes, load_slo
from simulations.scenario.supply import Supply

__all__ = [
    "Behaviour",
    "Demand",
    "JourneySlo",
    "Model",
    "Platform",
    "Scenario",
    "ScenarioError",
    "Slo",
    "Supply",
    "apply_overrides",
    "arrival_rate_per_min",
    "arrival_rates_per_min",
    "arrivals_per_tick",
    "check_routes",
    "cumulative_arrivals",
    "list_scenarios",
    "load_scenario",
    "load_slo",
    "scenario_path",
    "write_scenario",
]
