"""The calibration report: the fitted USL curve with measured points (fit and held-out) and the
model's predictions, as a PNG and a self-contained HTML page."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from simulations.calibration.usl import UslFit


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
