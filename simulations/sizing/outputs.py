"""Files written by `surge size`: a CSV of every evaluation, a JSON answer and a plot each."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from simulations.sizing.calibrated import CalibratedSizing
from simulations.sizing.center import CenterSizing, Target
from simulations.sizing.platform import PlatformSizing
from simulations.sizing.roster import RosterSizing

__all__ = [
    "write_calibrated_sizing",
    "write_center_sizing",
    "write_json",
    "write_platform_sizing",
    "write_roster_sizing",
    "write_supply_sizing",
]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(_plain(document), indent=2) + "\n", encoding="utf-8")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_targets(
    frame: pd.DataFrame,
    targets: list[Target],
    x: str | None,
    path: Path,
    title: str,
    labels: list[str] | None = None,
) -> None:
    """Each target metric against `x` (a line), or against the candidates in evaluation order
    (`x=None`, one labelled point each, green when it meets every target)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(targets), 1, figsize=(9, 2.8 * len(targets) + 1), squeeze=False)
    data = frame.sort_values(x) if x else frame.reset_index(drop=True)
    position = data[x] if x else pd.Series(range(len(data)), index=data.index)
    for ax, target in zip(axes[:, 0], targets, strict=True):
        name = str(target)
        y = data[name].astype(float)
        if f"{name} ci_low" in data:
            low = data[f"{name} ci_low"].astype(float).fillna(y)
            high = data[f"{name} ci_high"].astype(float).fillna(y)
            err = [y - low, high - y]
        else:
            err = None
        if x:
            ax.errorbar(position, y, yerr=err, fmt="o-", capsize=3, label="mean (95% CI)")
        else:
            for meets in (True, False):
                pick = data["meets_targets"] == meets
                ax.errorbar(
                    position[pick],
                    y[pick],
                    yerr=None if err is None else [err[0][pick], err[1][pick]],
                    fmt="o",
                    capsize=3,
                    color="tab:green" if meets else "tab:red",
                    label="meets all targets" if meets else "misses a target",
                )
        ax.axhline(target.threshold, color="black", linestyle="--", label=f"target {name}")
        ax.set_ylabel(target.metric)
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(title)
    if x:
        axes[-1, 0].set_xlabel(x)
    else:
        for ax in axes[:-1, 0]:
            ax.set_xticks(list(position), [])
        axes[-1, 0].set_xticks(list(position), labels or [], rotation=45, ha="right")
        axes[-1, 0].set_xlabel("servers per station, in evaluation order")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_center_sizing(result: CenterSizing, config_name: str, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(result.evaluations)
    frame.to_csv(out_dir / "center_sizing.csv", index=False)
    document = {
        "center": config_name,
        "method": result.method,
        "targets": [str(t) for t in result.targets],
        "reachable": result.reachable,
        "servers": result.servers,
        "total_servers": sum(result.servers.values()) if result.servers else None,
        "evaluations": len(frame),
    }
    write_json(out_dir / "center_sizing.json", document)
    if not frame.empty:
        title = f"{config_name}: {result.method}"
        stations = [c for c in frame.columns if c.startswith("servers.")]
        if len(stations) == 1:
            _plot_targets(frame, result.targets, stations[0], out_dir / "center_sizing.png", title)
        else:
            labels = ["/".join(str(row[c]) for c in stations) for _, row in frame.iterrows()]
            title += " (" + "/".join(c.removeprefix("servers.") for c in stations) + ")"
            _plot_targets(frame, result.targets, None, out_dir / "center_sizing.png", title, labels)
    return document


def write_platform_sizing(result: PlatformSizing, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = result.frame()
    frame.to_csv(out_dir / "platform_sizing.csv", index=False)
    document = {
        "scenario": result.scenario,
        "knob": result.knob,
        "targets": [str(t) for t in result.targets],
        "reachable": result.answer is not None,
        "answer": result.answer,
        "evaluations": frame.to_dict(orient="records"),
    }
    write_json(out_dir / "platform_sizing.json", document)
    title = f"{result.scenario}: {result.knob} (mean and 95% CI, common random numbers)"
    _plot_targets(frame, result.targets, result.knob, out_dir / "platform_sizing.png", title)
    return document


def write_calibrated_sizing(result: CalibratedSizing, out_dir: Path) -> dict[str, Any]:
    """`calibrated_sizing.csv` (every evaluation, with its search step) and `.json` (the answer:
    admission rate, app workers, DB connections, the targets' means and 95 % intervals there)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = result.frame()
    frame.to_csv(out_dir / "calibrated_sizing.csv", index=False)
    row = result.answer_row
    kpis = {
        str(t): {
            "mean": row.get(str(t)),
            "ci_low": row.get(f"{t} ci_low"),
            "ci_high": row.get(f"{t} ci_high"),
        }
        for t in result.targets
    }
    mean, low, high = result.connections_interval
    document = {
        "scenario": result.scenario,
        "profile": result.profile,
        "targets": [str(t) for t in result.targets],
        "reachable": result.reachable,
        "admission_rate_per_s": result.admission_rate,
        "web_workers": result.web_workers,
        "admission_rate_failing_below": result.failing_below(result.admission),
        "web_workers_failing_below": result.failing_below(result.workers),
        "db_connections": result.db_connections,
        "app_requests_peak": {"mean": mean, "ci_low": low, "ci_high": high},
        "waiting_room_line": "numbered",
        "spare_workers": result.spare_workers,
        "at_answer": kpis if row else None,
        "evaluations": frame.to_dict(orient="records"),
    }
    write_json(out_dir / "calibrated_sizing.json", document)
    return document


def write_supply_sizing(document: dict[str, Any], daily: pd.DataFrame, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    daily.to_csv(out_dir / "supply_daily.csv", index=False)
    write_json(out_dir / "supply_sizing.json", document)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.stackplot(
        daily["day"],
        daily["dose1_slots"],
        daily["dose2_slots"],
        labels=["dose 1", "dose 2"],
        step="post",
    )
    ax.axhline(document["slots_per_day"], color="black", linestyle="--", label="slots per day")
    ax.set_xlabel("campaign day")
    ax.set_ylabel("booked slots")
    ax.set_title(
        f"{document['scenario']}: {document['eligible']:,} people fully vaccinated in "
        f"{document['weeks']:g} weeks (dose 2 {document['dose2_policy']})"
    )
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "supply_sizing.png", dpi=110)
    plt.close(fig)


def write_roster_sizing(result: RosterSizing, config_name: str, out_dir: Path) -> dict[str, Any]:
    """roster_sizing.csv (every roster evaluated) and roster_sizing.json (the answer, its
    targets' intervals and the local-optimality certificate)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(result.evaluations).to_csv(out_dir / "roster_sizing.csv", index=False)
    document = {
        "center": config_name,
        "method": result.method,
        "targets": [str(t) for t in result.targets],
        "periods_min": result.periods_min,
        "cost_per_staff_hour": result.costs,
        "interval_level": result.confidence,
        "roster": {k: list(v) for k, v in result.roster.items()} if result.roster else None,
        "cost": result.cost,
        "intervals": {
            k: dict(zip(("mean", "low", "high"), v, strict=True))
            for k, v in result.intervals.items()
        },
        "local_optimality": result.certificate,
        "budget_exhausted": result.budget_exhausted,
        "evaluations": len(result.evaluations),
    }
    write_json(out_dir / "roster_sizing.json", document)
    return document
