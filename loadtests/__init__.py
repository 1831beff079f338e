"""Locust surges against any HTTP platform: journeys, the open-model driver, shapes, verdicts,
reports.

This top level is the stable public API; journey files import only from here:

    from loadtests import ArrivalUser

Names resolve on first use (a module `__getattr__`), so `import loadtests` does not import Locust
and does not apply its gevent monkey-patching; only the names that need Locust load it.

Subpackages: `journeys` (locustfiles, the reference Patient), `driver` (open-model arrivals and
the recorder), `shapes` (load profiles), `verdicts` (SLO and baseline comparison), `reports`
(summary, HTML, plots). Modules: `plan` (what to run), `execute` (run Locust), `orchestrate`
(plan, execute, judge, report), `overload`, `calibration` (stepped runs), `app_launcher` (the
reference app seeded and served as subprocesses), `postgres` (a fresh PostgreSQL database).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # journeys (these import Locust)
    "ArrivalUser": "loadtests.driver.open_model",
    "RECORDER": "loadtests.driver.recorder",
    # the reference booking journey's parts (loadtests/journeys/locustfile.py uses them)
    "POSTCODES": "loadtests.journeys.patient",
    "PatientBehaviour": "loadtests.journeys.patient",
    "patient_behaviour": "loadtests.journeys.patient",
    "scenario_replay": "loadtests.journeys.patient",
    "visit": "loadtests.journeys.patient",
    # shapes
    "LoadProfile": "loadtests.shapes",
    "ramp": "loadtests.shapes",
    "replay": "loadtests.shapes",
    "soak": "loadtests.shapes",
    "spike": "loadtests.shapes",
    "steps": "loadtests.shapes",
    # running and judging
    "RunOptions": "loadtests.plan",
    "run_loadtest": "loadtests.orchestrate",
    "compare_dirs": "loadtests.orchestrate",
    "make_baseline": "loadtests.orchestrate",
    "read_run": "loadtests.reports.summary",
    "build_summary": "loadtests.reports.summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loadtests' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
