"""Conformal calibration on the short-fit Gaussian case (issue 19): raw against calibrated coverage and CRPS.

The case the issue measured: ``y = 2 sin(2 pi t / 24) + N(0, 1)``, 2,000 hourly rows, a 3-epoch fit, whose raw
quantile intervals are far off nominal. Each (head, seed) is one fit with ``calibration="conformal"`` (margins from
the validation part, the 20% before the test part); the test part's 20% is backtested from every origin, and the
table gives the network's own intervals (``raw_*``) beside the calibrated ones, from the same fit.

A second table takes the same fits through a drift the calibration never saw: N(0, 2^2) added to the test part
(the case of ``tests/test_calibration.py``), backtested with the validation's fixed margins, recalibrated at every
origin on the newest observed windows (``recalibrate=True``), and with adaptive levels on top (``adaptive_rate``
0.005, adaptive conformal inference at its authors' step).

    python benchmarks/calibration.py                 # quantile, normal and point (mse) heads, 3 seeds -> results/
    python benchmarks/calibration.py --seeds 0 --heads quantile --out /tmp/calibration.md
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from accuracy import seeds_cell  # benchmarks/ is this script's import root

REPO = Path(__file__).resolve().parents[1]
LEVELS = (80, 90)
N_ROWS, LOOKBACK, HORIZON, EPOCHS = 2000, 48, 12, 3
VAL_SIZE = TEST_SIZE = 0.2
HEADS = ("quantile", "normal", "mse")
#: The drift table's backtests: name -> Forecaster.backtest options.
DRIFT_BACKTESTS = {"fixed": {}, "recalibrated": {"recalibrate": True},
                   "adaptive": {"recalibrate": True, "adaptive_rate": 0.005}}


def noisy_sine(n_rows: int = N_ROWS) -> pd.DataFrame:
    noise = np.random.default_rng(0).normal(size=n_rows)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n_rows, freq="h"),
                         "y": 2 * np.sin(np.arange(n_rows) * 2 * np.pi / 24) + noise})


def drifted(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with N(0, 2^2) added to ``y`` over the test part."""
    changed = frame.copy()
    first = int(len(frame) * (1 - TEST_SIZE))
    changed.loc[first:, "y"] += np.random.default_rng(1).normal(0, 2.0, len(frame) - first)
    return changed


def run(head: str, seed: int) -> dict[str, float | str | int]:
    """One fit of the default blend model with ``head`` and conformal calibration; its test-part backtest, and the
    drifted test part's three backtests (``drift_<backtest>_<metric>``)."""
    from tsbridge import Forecaster

    frame = noisy_sine()
    forecaster = Forecaster("blend", lookback=LOOKBACK, horizon=HORIZON, levels=list(LEVELS), loss=head,
                            calibration="conformal", max_epochs=EPOCHS, seed=seed, progress=False)
    started = time.perf_counter()
    forecaster.fit(frame, target="y", time_col="date", val_size=VAL_SIZE, test_size=TEST_SIZE, logger=False)
    seconds = time.perf_counter() - started
    metrics = forecaster.backtest(frame, start=1 - TEST_SIZE).metrics.loc["y"]
    drift = {f"drift_{name}_{metric}": value for name, options in DRIFT_BACKTESTS.items()
             for metric, value in forecaster.backtest(drifted(frame), start=1 - TEST_SIZE, **options)
             .metrics.loc["y"].items() if not metric.startswith("raw_")}
    return {"head": head, "seed": seed, "seconds": round(seconds, 1),
            "calibration_windows": forecaster.predictor.calibration.windows, **metrics.to_dict(), **drift}


def render(rows: pd.DataFrame) -> str:
    """Markdown: mean ± std over seeds per head, raw beside calibrated, then the issue's targets."""
    machine = f"{os.cpu_count()}-core CPU, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}"
    lines = ["# Conformal calibration, short-fit Gaussian case (issue 19)", "",
             f"Made by `python benchmarks/calibration.py`: `2 sin(2 pi t / 24) + N(0, 1)`, {N_ROWS} hourly rows, "
             f"default `blend` model, look-back {LOOKBACK}, horizon {HORIZON}, {EPOCHS} epochs; calibrated on the "
             f"validation part ({VAL_SIZE:.0%}), scored on every origin of the test part ({TEST_SIZE:.0%}). "
             "`raw`: the network's own intervals from the same fit (none for the point head). Mean ± std over "
             f"{rows['seed'].nunique()} seeds. Machine: {machine}.", "",
             "| head | coverage-80 raw | coverage-80 calibrated | coverage-90 raw | coverage-90 calibrated | "
             "CRPS raw | CRPS calibrated | width-90 raw | width-90 calibrated |", "|---|" + "---|" * 8]
    for head, group in rows.groupby("head", sort=False):
        pairs = [("raw_coverage-80", "coverage-80"), ("raw_coverage-90", "coverage-90"), ("raw_crps", "crps"),
                 ("raw_width-90", "width-90")]
        cells = [seeds_cell(group[name]) if name in group else "–" for pair in pairs for name in pair]
        lines.append(f"| {head} | " + " | ".join(cells) + " |")
    lines += ["", "Targets: calibrated coverage within 2 points of nominal; calibrated CRPS at most 2% above raw.", ""]
    means = rows.groupby("head", sort=False).mean(numeric_only=True)
    for head, mean in means.iterrows():
        for level in LEVELS:
            gap = mean[f"coverage-{level}"] - level / 100
            lines.append(f"- {head}: calibrated coverage at {level}% {mean[f'coverage-{level}']:.3f} ({gap:+.3f}) "
                         f"{'met' if abs(gap) <= 0.02 else 'missed'}")
        if "raw_crps" in mean and not np.isnan(mean["raw_crps"]):
            change = mean["crps"] / mean["raw_crps"] - 1
            lines.append(f"- {head}: CRPS {change:+.1%} against raw {'met' if change <= 0.02 else 'missed'}")
    if "drift_fixed_crps" in rows:
        lines += render_drift(rows)
    return "\n".join(lines) + "\n"


def render_drift(rows: pd.DataFrame) -> list[str]:
    """The drift table: each head's coverage and CRPS under the three backtests of the same fits."""
    lines = ["", "## A drift after calibration", "",
             "The same fits, their test part made louder (N(0, 2^2) added): the validation's fixed margins, margins "
             "recalibrated at every origin on the newest observed windows, and adaptive levels on top "
             f"(`adaptive_rate={DRIFT_BACKTESTS['adaptive']['adaptive_rate']}`).", "",
             "| head | backtest | coverage-80 | coverage-90 | CRPS | width-90 |", "|---|---|---|---|---|---|"]
    for head, group in rows.groupby("head", sort=False):
        for name in DRIFT_BACKTESTS:
            cells = [seeds_cell(group[f"drift_{name}_{metric}"])
                     for metric in ("coverage-80", "coverage-90", "crps", "width-90")]
            lines.append(f"| {head} | {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", nargs="+", choices=HEADS, default=list(HEADS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "calibration.md")
    args = parser.parse_args(argv)
    from tsbridge.quiet import hide_third_party_noise

    hide_third_party_noise()
    rows = []
    for head in args.heads:
        for seed in args.seeds:
            rows.append(run(head, seed))
            print(f"{head} seed={seed}: coverage-80 {rows[-1]['coverage-80']:.3f} coverage-90 "
                  f"{rows[-1]['coverage-90']:.3f} ({rows[-1]['seconds']} s)", flush=True)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(table))
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
