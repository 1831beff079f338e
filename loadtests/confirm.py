"""Predict, then confirm (`surge calibrate --confirm`): calibrate, let the model name an
admission rate that meets the booking SLO and one that misses it, then run both.

1. `calibration/`: a stepped closed run of the reference patient journey (`surge loadtest run
   --shape steps`), back-to-back visitors, with the waiting room on and admitting everyone at
   once, so every visitor queues exactly once and every route of the confirming runs is
   measured. `simulations.calibration.calibrate` fits it (`profile.toml`).
2. The model (`simulations.calibration.confirm`: the app's numbered line, whose abandoned
   tickets still use admissions, then the platform network) names R_ok, where the predicted booking p95 of
   admitted visitors is `ok_factor` x the scenario's `slo.p95_ms.book`, and R_bad, at
   `bad_factor` x (a rate beyond capacity, when that is where the p95 gets there).
3. `ok/` and `bad/`: open-model runs (`overload`'s machinery: `run_loadtest` with `--rate` and
   `--waiting-room-rate`), visitors arriving at `arrival_multiple` x the room's rate, each
   with an exponential patience of mean `patience_s`, the room admitting R_ok, then R_bad.

`confirm.json` holds `admission_rate` (R_ok) and `runs` (R_ok, then R_bad), each with
`admission_rate`, `arrival_rate`, `predicted_p95_ms`, `measured_p95_ms`, `slo_p95_ms` and
`slo_met` (measured booking p95 within the SLO). `model.json` holds how the model got there.
Confirmed when the R_ok run met the SLO and the R_bad run missed it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from loadtests.errors import LoadTestInputError
from loadtests.plan import RunOptions

__all__ = ["ConfirmOptions", "run_confirm"]

ROOM_ADMITS_ALL_PER_S = 10_000.0  # the calibration's room: everyone queues once, nobody waits


@dataclass(frozen=True)
class ConfirmOptions:
    out_dir: Path
    start_app: str | None = None
    host: str | None = None
    postgres_url: str | None = None
    scenario: str = "smoke"
    levels: tuple[int, ...] = (1, 2, 4, 8, 16)
    hold_s: float = 20.0
    duration_s: float = 60.0
    arrival_multiple: float = 1.2
    patience_s: float = 10.0
    ok_factor: float = 0.75
    bad_factor: float = 1.3
    replications: int = 3
    bootstrap_replicates: int = 100
    seed: int = 0

    def check(self) -> None:
        if (self.start_app is None) == (self.host is None):
            raise LoadTestInputError(
                "give exactly one of --start-app sqlite|postgresql or --host URL"
            )
        if self.start_app not in (None, "sqlite", "postgresql"):
            raise LoadTestInputError(
                f"invalid --start-app {self.start_app!r}: use sqlite or postgresql"
            )
        if len(set(self.levels)) < 3:
            raise LoadTestInputError(
                f"the calibration needs at least 3 levels (got {list(self.levels)})"
            )
        if not self.arrival_multiple > 1:
            raise LoadTestInputError(f"arrival multiple must be > 1 (got {self.arrival_multiple})")
        if not 0 < self.ok_factor < 1 < self.bad_factor:
            raise LoadTestInputError("need 0 < ok_factor < 1 < bad_factor")
        if self.patience_s <= 0 or self.duration_s <= 0 or self.hold_s <= 0:
            raise LoadTestInputError("patience, duration and hold must be > 0")
        if self.replications < 1 or self.bootstrap_replicates < 1:
            raise LoadTestInputError("replications and bootstrap replicates must be >= 1")


def _load(options: ConfirmOptions) -> RunOptions:
    return RunOptions(
        scenario=options.scenario,
        out_dir=options.out_dir,
        host=options.host,
        start_app=options.start_app,
        db=options.postgres_url if options.start_app == "postgresql" else None,
        seed=options.seed,
    )


def _calibrate(options: ConfirmOptions, echo: Callable[[str], None]):
    from loadtests.orchestrate import run_loadtest
    from simulations.calibration.calibrate import calibrate, write_outputs
    from simulations.calibration.confirm import ConfirmModel, VisitMix
    from simulations.calibration.step_run import read_step_run
    from simulations.calibration.telemetry import run_core_share, run_cpu_demand_s

    run_dir = options.out_dir / "calibration"
    levels = ",".join(str(n) for n in options.levels)
    echo(f"confirm 1/3: calibration, levels {levels}, {options.hold_s:g}s each")
    run_loadtest(
        replace(
            _load(options),
            out_dir=run_dir,
            users=max(options.levels),
            shape="steps",
            levels=levels,
            hold=f"{options.hold_s:g}s",
            waiting_room_rate=ROOM_ADMITS_ALL_PER_S,
            behaviour=(("journey_pause_s", (0.0, 0.0)),),
        ),
        echo=echo,
    )
    run = read_step_run(run_dir)
    cal = calibrate(run, bootstrap_replicates=options.bootstrap_replicates, seed=options.seed)
    write_outputs(cal, options.out_dir / "profile.toml")
    summary = json.loads((run_dir / "summary.json").read_text())
    database = summary.get("database", "")
    pinned = summary.get("pinning") or json.loads((run_dir / "plan.json").read_text()).get(
        "pinning"
    )
    cpu = run_cpu_demand_s(run_dir, run.steps, run.requests)
    share, share_note = _app_share(run_dir, run, cpu)
    model = ConfirmModel.from_profile(
        cal.profile,
        VisitMix.from_requests(run.requests.loc[run.requests["ok"], "route"]),
        peak_throughput_per_s=float(cal.steps["throughput_per_s"].max()),
        cores=len(pinned["app"]) if pinned else len(os.sched_getaffinity(0)),
        workers=1,
        database="postgresql" if "postgres" in str(database) else "sqlite",
        cpu_s_per_request=cpu,
        patience_s=options.patience_s,
        app_share=share,
        loadgen_cpu_s=run_cpu_demand_s(run_dir, run.steps, run.requests, "loadgen"),
        loadgen_share=run_core_share(run_dir, run.steps, "loadgen"),
        loadgen_servers=1 if pinned else None,  # one Locust process, on cores of its own
    )
    return replace(model, notes=(*model.notes, f"app share: {share_note}")), cpu


def _app_share(run_dir: Path, run, cpu: float | None) -> tuple[float | None, str]:
    """The share of a core the app's requests got on this rig, so that the demand the model
    serves, CPU per request / share, is the app's demand as the rig served it
    (`simulations.calibration.residence`): at the calibration's highest level when the app was
    saturated there (1 / its completions per second), else its residence per request at the
    lowest level (one request inside at a time). With PostgreSQL the database's time is in it
    too. (None, why) without telemetry or a scrape of the app's /metrics."""
    from simulations.calibration.residence import (
        SATURATED_INSIDE,
        level_residence,
        run_lowest_level_residence_s,
    )

    if cpu is None:
        return None, "no app CPU (telemetry.csv)"
    top = level_residence(run_dir, run.steps, int(run.steps["users"].max()))
    if top is not None and top[0] * top[1] >= SATURATED_INSIDE:
        inside = top[0] * top[1]
        return min(cpu * top[0], 1.0), (
            f"saturated at the highest level: {top[0]:.4g} req/s, {inside:.3g} inside the app"
        )
    residence = run_lowest_level_residence_s(run_dir, run.steps)
    if residence is None:
        return None, "no scrape of the app's /metrics"
    return min(cpu / residence, 1.0), f"residence {residence * 1000:.3g} ms at the lowest level"


def _measured_run(options: ConfirmOptions, name: str, admission: float, echo) -> dict[str, Any]:
    from loadtests.orchestrate import run_loadtest
    from simulations.calibration.residence import run_open_demand_s
    from simulations.calibration.telemetry import run_window_share

    arrival = options.arrival_multiple * admission
    out = options.out_dir / name
    run_loadtest(
        replace(
            _load(options),
            out_dir=out,
            rate=arrival,
            shape="soak",
            duration=f"{options.duration_s:g}s",
            waiting_room_rate=admission,
            behaviour=(("wr_patience_s", options.patience_s),),
        ),
        echo=echo,
    )
    summary = json.loads((out / "summary.json").read_text())
    book = summary["routes"].get("book") or {}
    p95 = (book.get("hdr") or {}).get("p95_ms") or (book.get("locust") or {}).get("p95_ms")
    duration = float(summary["duration_s"]) or options.duration_s
    return {
        "arrival_rate": arrival,
        "measured_p95_ms": p95,
        "delivered": {
            "arrivals_per_s": summary["arrivals"]["started"] / duration,
            "arrivals_late": summary["arrivals"]["late"],
            "admitted_per_s": summary["waiting_room"]["admitted"] / duration,
            "requests_per_s": summary["total"]["rps"],
            "bookings": book.get("count", 0),
            "app_cpu_pct_mean": (summary.get("app_cpu_pct") or {}).get("mean"),
            "app_demand_ms": _ms(run_open_demand_s(out)),
            "app_sched_share": run_window_share(out, "app"),
            "loadgen_core_share": run_window_share(out, "loadgen"),
            "load_average_1m": os.getloadavg()[0],
        },
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def run_confirm(options: ConfirmOptions, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Calibrate, predict R_ok and R_bad, run both; writes `confirm.json` and `model.json`."""
    from simulations.calibration.confirm import find_rate, verdict
    from simulations.scenario.scenario import load_scenario

    options.check()
    slo = load_scenario(options.scenario).slo
    if "book" not in slo.p95_ms:
        raise LoadTestInputError(f"scenario {options.scenario!r} has no slo.p95_ms.book to confirm")
    slo_ms = float(slo.p95_ms["book"])
    if options.host:
        from loadtests.execute import check_reachable

        check_reachable(options.host.rstrip("/"))
    options.out_dir.mkdir(parents=True, exist_ok=True)
    model, cpu = _calibrate(options, echo)
    echo("confirm 2/3: the model names the admission rates")
    load_at_prediction = os.getloadavg()[0]
    kwargs = {
        "arrival_multiple": options.arrival_multiple,
        "duration_s": options.duration_s,
        "replications": options.replications,
        "seed": options.seed,
    }
    rate_ok, p95_ok = find_rate(model, options.ok_factor * slo_ms, **kwargs)
    rate_bad, p95_bad = find_rate(model, options.bad_factor * slo_ms, **kwargs)
    echo(
        f"R_ok {rate_ok:.3g}/s (predicted booking p95 {p95_ok:.0f} ms), R_bad {rate_bad:.3g}/s "
        f"({p95_bad:.0f} ms); SLO {slo_ms:g} ms"
    )
    runs, delivered = [], []
    for name, rate, predicted in (("ok", rate_ok, p95_ok), ("bad", rate_bad, p95_bad)):
        echo(f"confirm 3/3: {name} run, room admitting {rate:.3g}/s")
        measured = _measured_run(options, name, rate, echo)
        p95 = measured["measured_p95_ms"]
        got = measured["delivered"]
        # The model again, at what the rig delivered: the admissions and arrivals the run
        # made (abandoned tickets, a slow generator), then also the core shares the app and
        # the generator got during the run. Separates the model's error from the rig's.
        # The app's share during the run: its CPU per request (calibrated) over the demand the
        # run measured inside the app (residence and throughput, as one PS station).
        demand = got["app_demand_ms"]
        got["app_core_share"] = (
            min(cpu * 1000.0 / demand, 1.0) if cpu is not None and demand else None
        )
        rig = model.with_shares(got["app_core_share"], got["loadgen_core_share"])
        for key, which in (("predicted_p95_ms_at_delivered", model),
                           ("predicted_p95_ms_at_delivered_shares", rig)):  # fmt: skip
            got[key] = (
                which.predict_p95_ms_at(
                    got["admitted_per_s"],
                    got["arrivals_per_s"],
                    options.duration_s,
                    replications=options.replications,
                    seed=options.seed,
                )  # fmt: skip
                if got["admitted_per_s"] > 0
                else None
            )
        planned = model.admitted_per_s(rate, options.arrival_multiple * rate, options.duration_s)
        delivered.append(
            {"run": name, "admission_rate": rate, "predicted_admitted_per_s": planned, **got}
        )
        runs.append(
            {
                "admission_rate": rate,
                "arrival_rate": measured["arrival_rate"],
                "predicted_p95_ms": predicted,
                "measured_p95_ms": p95,
                "slo_p95_ms": slo_ms,
                "slo_met": p95 is not None and p95 <= slo_ms,
            }
        )
    result = {"admission_rate": rate_ok, "runs": runs}
    (options.out_dir / "confirm.json").write_text(json.dumps(result, indent=2))
    capacity = model.capacity_per_s(rate_ok, options.arrival_multiple * rate_ok)
    _, per_admission = model.network(1.0, options.arrival_multiple)
    details = {
        "confirmed": verdict(runs),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "demand_source": model.demand_source,
        "demands_ms": {r: d * 1000 for r, d in model.demands_s.items()},
        "requests_per_admitted_visitor": dict(model.mix.per_admitted),
        "requests_per_abandoning_visitor": dict(model.mix.per_abandoned),
        "platform_requests_per_admission": per_admission,
        "capacity_requests_per_s": capacity,
        "capacity_admissions_per_s": capacity / per_admission,
        "cores": model.cores,
        "workers": model.workers,
        "app_core_share": model.app_share,
        "loadgen_ms_per_request": model.loadgen_cpu_s * 1000,
        "loadgen_core_share": model.loadgen_share,
        "loadgen_station": model.loadgen_servers is not None,
        "load_average_1m_at_prediction": load_at_prediction,
        "notes": list(model.notes),
        "delivered": delivered,
    }
    (options.out_dir / "model.json").write_text(json.dumps(details, indent=2))
    return {**result, "confirmed": details["confirmed"]}
