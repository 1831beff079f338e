"""From a stepped run to a platform profile: service times from the low-load steps, the USL from
throughput vs concurrency, and the profile that `surge predict` and scenarios read."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from simulations.calibration.profile import PlatformProfile, RouteProfile
from simulations.calibration.service_time import ServiceTimeFit, fit_service_time
from simulations.calibration.step_run import StepRun, StepRunError
from simulations.calibration.usl import UslFit, fit_usl

MIN_ROUTE_SAMPLES = 20
DISPERSION_GRID = tuple(round(0.15 * i, 2) for i in range(11))  # 0 .. 1.5


def fit_share_dispersion(
    profile: PlatformProfile, steps: pd.DataFrame, *, requests: int = 3000, seed: int = 0
) -> float:
    """The share dispersion whose simulated p95/mean ratio best matches the measured one over
    the loaded half of the given steps (the upper half of the levels above one user, nearest to
    the loads one predicts), by least squares on the log ratio over a grid with common random
    numbers. The ratio is dimensionless, so throughput errors of the USL fit do not leak into it.
    0 when no step has more than one user."""
    from simulations.calibration.closed_loop import simulate_level

    loaded = steps[(steps["users"] > 1) & (steps["mean_ms"] > 0)].sort_values("users")
    if loaded.empty:
        return 0.0
    loaded = loaded.iloc[len(loaded) // 2 :]
    measured = np.log(loaded["p95_ms"].to_numpy() / loaded["mean_ms"].to_numpy())
    seeds = np.random.SeedSequence([seed, 6]).spawn(len(loaded))
    best, best_loss = 0.0, np.inf
    for dispersion in DISPERSION_GRID:
        ratios = []
        for users, level_seed in zip(loaded["users"], seeds, strict=True):
            sim = simulate_level(
                profile,
                int(users),
                seed=np.random.SeedSequence(level_seed.entropy, spawn_key=level_seed.spawn_key),
                requests=requests,
                share_dispersion=dispersion,
            )
            ratios.append(sim.p95_ms / sim.mean_ms)
        loss = float(np.sum((np.log(ratios) - measured) ** 2))
        if loss < best_loss:
            best, best_loss = dispersion, loss
    return best


@dataclass(frozen=True)
class Calibration:
    profile: PlatformProfile
    usl_fit: UslFit  # throughput vs concurrent users: the classic USL, its N* and max X
    station_fit: UslFit  # throughput vs requests in flight: the platform the simulation uses
    route_fits: dict[str, list[ServiceTimeFit]]  # every candidate family, best first
    steps: pd.DataFrame  # the run's per-step summary, with a `used_for_fit` column
    fit_levels: tuple[int, ...]
    service_levels: tuple[int, ...]
    dropped_routes: tuple[str, ...]

    def fit_quality(self) -> pd.DataFrame:
        """One row per route and candidate family: AIC, KS statistic and p-value."""
        rows = [
            {
                "route": route,
                "family": f.family,
                "chosen": i == 0,
                "samples": f.samples,
                "aic": f.aic,
                "ks_statistic": f.ks_statistic,
                "ks_pvalue": f.ks_pvalue,
                "mean_ms": f.mean_s * 1000,
                "p95_ms": f.p95_s * 1000,
            }
            for route, fits in self.route_fits.items()
            for i, f in enumerate(fits)
        ]
        return pd.DataFrame(rows)


def calibrate(
    run: StepRun,
    *,
    fit_levels: list[int] | None = None,
    service_levels: list[int] | None = None,
    bootstrap_replicates: int = 200,
    window_s: float = 5.0,
    seed: int = 0,
) -> Calibration:
    """Fit on the steps whose user count is in `fit_levels` (default: all). Service times come
    from `service_levels` (default: the lowest fit level, where requests barely queue, widened to
    the next ones when a main route has fewer than MIN_ROUTE_SAMPLES requests there)."""
    summary = run.summary()
    levels = sorted(set(summary["users"]))
    fit = sorted(set(fit_levels)) if fit_levels else levels
    unknown = [n for n in fit if n not in levels]
    if unknown:
        raise StepRunError(f"fit level {unknown[0]} is not a step of this run (steps: {levels})")
    if len(fit) < 3:
        raise StepRunError(f"the USL needs at least 3 fit levels, got {len(fit)} ({fit})")
    service = sorted(set(service_levels)) if service_levels else fit[:1]
    unknown = [n for n in service if n not in levels]
    if unknown:
        raise StepRunError(
            f"service level {unknown[0]} is not a step of this run (steps: {levels})"
        )

    windows = run.window_throughputs(window_s)
    windows = windows[windows["users"].isin(fit)]
    if (windows.groupby("users")["throughput_per_s"].sum() <= 0).any():
        raise StepRunError("a fit level has no successful requests in its steady window")
    windows = windows[(windows["throughput_per_s"] > 0) & (windows["in_flight"] > 0)]
    users_rng, station_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    usl_fit = fit_usl(
        windows["users"].to_numpy(),
        windows["throughput_per_s"].to_numpy(),
        bootstrap_replicates=bootstrap_replicates,
        rng=users_rng,
    )
    # The platform's own curve: throughput vs mean requests in flight (Little's law), so time
    # spent outside it (think time, the load generator) is not mistaken for contention.
    station_fit = fit_usl(
        windows["in_flight"].to_numpy(),
        windows["throughput_per_s"].to_numpy(),
        bootstrap_replicates=bootstrap_replicates,
        rng=station_rng,
    )
    fitted_steps = summary[summary["users"].isin(fit)]
    outside_s = (
        fitted_steps["users"] / fitted_steps["throughput_per_s"] - fitted_steps["mean_ms"] / 1000
    )
    think_s = max(0.0, float(np.median(outside_s)))

    ok = run.requests[run.requests["ok"]]
    counts = ok[ok["users"].isin(fit)]["route"].value_counts()
    if not service_levels:
        # Widen to the next fit levels (up to half of them) until every route that matters
        # (>= 5% of requests) has enough samples: short steps at 1 user may not.
        main_routes = counts[counts >= 0.05 * counts.sum()].index
        for size in range(1, max(1, len(fit) // 2) + 1):
            service = fit[:size]
            per_route = ok[ok["users"].isin(service)]["route"].value_counts()
            if all(per_route.get(r, 0) >= MIN_ROUTE_SAMPLES for r in main_routes):
                break
    at_service = ok[ok["users"].isin(service)]
    route_fits: dict[str, list[ServiceTimeFit]] = {}
    dropped: list[str] = []
    for route in sorted(counts.index):
        samples = at_service.loc[at_service["route"] == route, "response_ms"].to_numpy() / 1000.0
        samples = samples[samples > 0]
        if len(samples) < MIN_ROUTE_SAMPLES:
            dropped.append(route)
            continue
        route_fits[route] = fit_service_time(samples)[1]
    if not route_fits:
        raise StepRunError(
            f"no route has {MIN_ROUTE_SAMPLES} successful requests at service levels {service}"
        )
    kept = counts[list(route_fits)]
    routes = tuple(
        RouteProfile(name=r, share=float(kept[r] / kept.sum()), service=route_fits[r][0])
        for r in route_fits
    )
    meta = run.meta
    profile = PlatformProfile(
        usl=station_fit.model,
        usl_users=usl_fit.model,
        routes=routes,
        web_workers=int(meta.get("web_workers", 1)),
        db_connections=int(meta.get("db_connections", 10)),
        think_time_s=think_s,
        calibration={
            "run_dir": str(meta.get("run_dir", "")),
            "database": str(meta.get("database", "")),
            "fit_levels": fit,
            "service_levels": service,
            "dropped_routes": dropped,
            "usl_fit": usl_fit.as_record(),
            "station_fit": station_fit.as_record(),
            "think_time_note": "median over fit steps of users / throughput - mean response time",
        },
    )
    dispersion = fit_share_dispersion(profile, summary[summary["users"].isin(fit)], seed=seed)
    profile = replace(
        profile,
        share_dispersion=dispersion,
        calibration={**profile.calibration, "share_dispersion_fitted": True},
    )
    return Calibration(
        profile=profile,
        usl_fit=usl_fit,
        station_fit=station_fit,
        route_fits=route_fits,
        steps=summary.assign(used_for_fit=summary["users"].isin(fit)),
        fit_levels=tuple(fit),
        service_levels=tuple(service),
        dropped_routes=tuple(dropped),
    )


def write_outputs(
    cal: Calibration, profile_path: Path, predicted: pd.DataFrame | None = None
) -> dict[str, Path]:
    """The profile TOML, and next to it `<stem>.fit.json` (USL fit with intervals, fit quality
    per route, step table), `<stem>.png` and `<stem>.html` (fitted curve and measured points)."""
    from simulations.calibration.profile import write_profile
    from simulations.calibration.report import plot, write_html

    profile_path = Path(profile_path)
    written = {"profile": write_profile(cal.profile, profile_path)}
    stem = profile_path.with_suffix("")
    fit_doc = {
        "usl": cal.usl_fit.as_record(),
        "station_usl": cal.station_fit.as_record(),
        "think_time_s": cal.profile.think_time_s,
        "share_dispersion": cal.profile.share_dispersion,
        "fit_levels": list(cal.fit_levels),
        "service_levels": list(cal.service_levels),
        "dropped_routes": list(cal.dropped_routes),
        "routes": cal.fit_quality().to_dict(orient="records"),
        "steps": cal.steps.to_dict(orient="records"),
    }
    fit_path = stem.with_name(stem.name + ".fit.json")
    fit_path.write_text(json.dumps(_finite(fit_doc), indent=2), encoding="utf-8")
    written["fit"] = fit_path
    png = plot(stem.with_suffix(".png"), cal.steps, cal.usl_fit, predicted)
    written["plot"] = png
    m = cal.usl_fit
    notes = [
        f"USL: sigma {m.model.sigma:.4g} [{m.sigma_ci[0]:.3g}, {m.sigma_ci[1]:.3g}], "
        f"kappa {m.model.kappa:.4g} [{m.kappa_ci[0]:.3g}, {m.kappa_ci[1]:.3g}], "
        f"lambda {m.model.lambda_per_s:.4g}/s; peak concurrency {m.model.peak_concurrency:.3g}, "
        f"max throughput {m.model.max_throughput:.4g}/s (95% bootstrap intervals, "
        f"{m.bootstrap_replicates} replicates); R^2 {m.r_squared:.3f}.",
        f"Fit levels {list(cal.fit_levels)}; service times from levels {list(cal.service_levels)}; "
        f"time outside the platform per request (think + load generator) "
        f"{cal.profile.think_time_s * 1000:.3g} ms; share dispersion {cal.profile.share_dispersion:.3g}.",
    ]
    tables = {"steps": cal.steps, "service-time fit quality": cal.fit_quality()}
    if predicted is not None:
        tables["predictions"] = predicted
    written["report"] = write_html(stem.with_suffix(".html"), "Calibration", png, tables, notes)
    return written


def _finite(value):
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value
