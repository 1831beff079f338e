"""A vaccination centre as a SimPy network of stations (check-in, assessment, vaccination,
observation), with its config (TOML), replications and reports. Built-in centres live in
`simulations/center/builtin/`."""

from simulations.center.config import (
    AppointmentArrivals,
    CenterConfig,
    CenterConfigError,
    PoissonArrivals,
    Station,
    builtin_centers,
    load_center,
    parse_center,
)
from simulations.center.report import (
    CenterReplications,
    run_center_replications,
    run_kpis,
    summary_document,
    write_center_outputs,
)
from simulations.center.simulation import CenterRun, StationLog, simulate_center

__all__ = [
    "AppointmentArrivals",
    "CenterConfig",
    "CenterConfigError",
    "CenterReplications",
    "CenterRun",
    "PoissonArrivals",
    "Station",
    "StationLog",
    "builtin_centers",
    "load_center",
    "parse_center",
    "run_center_replications",
    "run_kpis",
    "simulate_center",
    "summary_document",
    "write_center_outputs",
]
