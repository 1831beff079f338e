"""The calibration report: the fitted USL curve with measured points (fit and held-out) and the
model's predictions, as a PNG and a self-contained HTML page."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from simulations.calibration.usl import UslFit
from surge.errors import SurgeError


class ConfirmResultError(SurgeError, ValueError):
    """A directory without a readable `confirm.json` of `surge calibrate --confirm`."""


def plot(
    path: Path,
    steps: pd.DataFrame,
    usl_fit: UslFit,
    predicted: pd.DataFrame | None = None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_x, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2))
    top = max(steps["users"].max(), predicted["users"].max() if predicted is not None else 0)
    grid = np.linspace(1, top * 1.15, 300)
    ax_x.plot(grid, usl_fit.model.throughput(grid), "-", color="tab:blue", label="USL fit")
    fit = steps[steps["used_for_fit"]]
    held = steps[~steps["used_for_fit"]]
    ax_x.plot(fit["users"], fit["throughput_per_s"], "o", color="black", label="measured (fit)")
    ax_r.plot(fit["users"], fit["p95_ms"], "o", color="black", label="measured p95 (fit)")
    if not held.empty:
        ax_x.plot(held["users"], held["throughput_per_s"], "s", mfc="none", color="tab:red",
                  ms=9, label="measured (held out)")  # fmt: skip
        ax_r.plot(held["users"], held["p95_ms"], "s", mfc="none", color="tab:red", ms=9,
                  label="measured p95 (held out)")  # fmt: skip
    if predicted is not None:
        ax_x.errorbar(predicted["users"], predicted["sim_throughput_per_s"],
                      yerr=predicted["sim_throughput_ci95"].fillna(0), fmt="x", color="tab:green",
                      label="simulated")  # fmt: skip
        ax_r.errorbar(predicted["users"], predicted["sim_p95_ms"],
                      yerr=predicted["sim_p95_ci95"].fillna(0), fmt="x", color="tab:green",
                      label="simulated p95")  # fmt: skip
    m = usl_fit.model
    ax_x.set_title(
        f"throughput: sigma={m.sigma:.3g} kappa={m.kappa:.3g} lambda={m.lambda_per_s:.3g}/s"
    )
    ax_x.set_xlabel("concurrent users (no think time)")
    ax_x.set_ylabel("requests/s")
    ax_r.set_title("p95 latency")
    ax_r.set_xlabel("concurrent users")
    ax_r.set_ylabel("ms")
    for ax in (ax_x, ax_r):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html(
    path: Path, title: str, png: Path, tables: dict[str, pd.DataFrame], notes: list[str]
) -> Path:
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *(f"<p>{html.escape(n)}</p>" for n in notes),
        f"<img alt='USL fit and measured points' src='data:image/png;base64,{image}'>",
    ]
    for name, table in tables.items():
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


CONFIRM_KEYS = ("admission_rate", "arrival_rate", "predicted_p95_ms", "measured_p95_ms",
                "slo_p95_ms", "slo_met")  # fmt: skip


def confirm_runs(directory: Path) -> pd.DataFrame:
    """The runs of a `surge calibrate --confirm` output directory (its `confirm.json`), one row
    each, labelled R_ok and R_bad in the file's order, with `kind = "confirm"`."""
    import json

    path = Path(directory) / "confirm.json"
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
        frame = pd.DataFrame([{k: run[k] for k in CONFIRM_KEYS} for run in runs])
    except FileNotFoundError:
        raise ConfirmResultError(
            f"{path}: no such file (a `surge calibrate --confirm` output?)"
        ) from None
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ConfirmResultError(f"{path}: not a confirm result ({exc!r})") from None
    labels = ["R_ok", "R_bad"] + [f"run {i + 1}" for i in range(2, len(frame))]
    frame.insert(0, "label", labels[: len(frame)])
    frame["kind"] = "confirm"
    return frame


def plot_predicted_vs_measured(frame: pd.DataFrame, path: Path, title: str) -> Path:
    """Predicted against measured p95 (ms), one point per row (`label`, `predicted_p95_ms`,
    `measured_p95_ms`, `kind`: markers per kind), on log axes with the line y = x and a band
    of +-25 %; a `slo_p95_ms` column adds the SLO on both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    values = pd.concat([frame["predicted_p95_ms"], frame["measured_p95_ms"]])
    low, high = float(values.min()) / 1.6, float(values.max()) * 1.6
    line = np.geomspace(low, high, 50)
    ax.plot(line, line, "-", color="black", lw=0.8, label="predicted = measured")
    ax.fill_between(line, line * 0.75, line * 1.25, color="grey", alpha=0.15,
                    label="p95 error within 25 %")  # fmt: skip
    markers = {"fitted": "o", "held out": "s", "confirm": "D"}
    for kind, group in frame.groupby("kind", sort=False):
        ax.plot(group["measured_p95_ms"], group["predicted_p95_ms"], markers.get(kind, "^"),
                ms=8, label=str(kind))  # fmt: skip
        for _, row in group.iterrows():
            ax.annotate(str(row["label"]), (row["measured_p95_ms"], row["predicted_p95_ms"]),
                        textcoords="offset points", xytext=(6, 4), fontsize=8)  # fmt: skip
    if "slo_p95_ms" in frame and frame["slo_p95_ms"].notna().any():
        slo = float(frame["slo_p95_ms"].dropna().iloc[0])
        ax.axvline(slo, color="tab:red", ls="--", lw=0.8, label=f"SLO {slo:g} ms")
        ax.axhline(slo, color="tab:red", ls="--", lw=0.8)
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high),
           xlabel="measured p95 (ms)", ylabel="predicted p95 (ms)", title=title)  # fmt: skip
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
