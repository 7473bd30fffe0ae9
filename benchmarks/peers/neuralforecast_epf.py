"""NeuralForecast on exactly ``benchmarks/intervals.py``'s split and origins, scored with tsbridge's metric code.

The peer side of the intervals table (issue 19): NeuralForecast 3.x's ``LSTM`` and ``NHITS`` with the known future
(the same future features plus hour/day-of-week/minute as numeric future covariates) and ``MQLoss`` at the 80/90
levels, look-back and horizon as ours (EPF 168/24, vic_elec 336/48). One ``cross_validation`` per (model, seed)
without refitting: trained on the rows before the test part with the same validation size as ours, then one forecast
per day from each test-day end (NeuralForecast's cutoffs), the same origins ``intervals.py`` scores. Forecasts are
renamed into tsbridge's backtest layout and scored by :func:`tsbridge.predictor.backtest_metrics` per series, so
every number is computed by the same code as ours; rows are appended to ``results/intervals.csv`` (config ``NF
...``) and rendered beside ours in ``results/intervals.md``.

Needs the optional extra ``peers`` (``pip install "tsbridge[peers,datasets]"``, NeuralForecast and its
dependencies); never run in CI.

    python benchmarks/peers/neuralforecast_epf.py                               # both models, both datasets, 3 seeds
    python benchmarks/peers/neuralforecast_epf.py --datasets epf_fr_be --models lstm --seeds 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: intervals.py and accuracy.py
from intervals import (COLUMNS, DATASETS, LEVELS, RESULTS, TEST_SIZE, VAL_SIZE, Dataset, append_rows,  # noqa: E402
                       first_test_origin, load, machine_name, render, scores)

#: NeuralForecast's settings: its defaults except the look-back, the budget of the issue's runs (300 steps), robust
#: window scaling for both models and early stopping on its validation part, as our fits stop on theirs.
MAX_STEPS, VAL_CHECK_STEPS, PATIENCE = 300, 50, 3
MODELS = ("lstm", "nhits")
CALENDAR = {"hour": lambda stamps: stamps.dt.hour, "minute": lambda stamps: stamps.dt.minute,
            "dayofweek": lambda stamps: stamps.dt.dayofweek}


def long_frame(frame: pd.DataFrame, spec: Dataset) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` in NeuralForecast's layout (``unique_id, ds, y`` + future covariates) and the covariates' names."""
    ids = frame[spec.id_col] if spec.id_col else "all"
    data = pd.DataFrame({"unique_id": ids, "ds": frame[spec.time_col], "y": frame[spec.target]})
    for column in spec.future_features:
        data[column] = frame[column].astype(float)
    for name in spec.calendar:
        data[name] = CALENDAR[name](frame[spec.time_col]).astype(float)
    return data, [*spec.future_features, *spec.calendar]


def build(model: str, spec: Dataset, covariates: list[str], seed: int, quick: bool):
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import LSTM, NHITS

    options = {"h": spec.horizon, "input_size": spec.lookback, "futr_exog_list": covariates,
               "loss": MQLoss(level=list(LEVELS)), "random_seed": seed, "max_steps": 5 if quick else MAX_STEPS,
               "val_check_steps": VAL_CHECK_STEPS, "early_stop_patience_steps": PATIENCE,
               # Each window standardised robustly, as LSTM does by default; NHITS defaults to none, and on raw
               # prices it scored MAE 10.4 on BE (seed 0) against LSTM's 5.0.
               "scaler_type": "robust",
               "enable_progress_bar": False, "logger": False, "enable_model_summary": False, "accelerator": "cpu"}
    return (LSTM if model == "lstm" else NHITS)(**options)


def backtest_table(forecasts: pd.DataFrame, data: pd.DataFrame, spec: Dataset, model_name: str) -> pd.DataFrame:
    """NeuralForecast's cross-validation output as tsbridge's backtest table (``origin``, ``step``, ``actual``,
    ``forecast`` (the median), ``forecast-lo-80`` ...)."""
    table = forecasts.rename(columns={"unique_id": spec.id_col or "series", "cutoff": "origin", "ds": "timestamp",
                                      "y": "actual", f"{model_name}-median": "forecast"})
    for level in LEVELS:
        table = table.rename(columns={f"{model_name}-lo-{level}": f"forecast-lo-{level}",
                                      f"{model_name}-hi-{level}": f"forecast-hi-{level}"})
    table["target"] = spec.target
    table["step"] = table.groupby([spec.id_col or "series", "origin"]).cumcount() + 1
    return table


def run(name: str, model: str, seed: int, quick: bool, threads: int) -> list[dict[str, object]]:
    import torch
    from neuralforecast import NeuralForecast

    torch.set_num_threads(threads)
    spec = DATASETS[name]
    frame = load(name, quick)
    data, covariates = long_frame(frame, spec)
    rows_per_series = data.groupby("unique_id").size()
    first = first_test_origin(frame, spec)
    # Rows from the first test origin's successor to each series' end: NeuralForecast's cutoffs are then our origins.
    test_rows = int(data[data["ds"] > first].groupby("unique_id").size().min())
    val_rows = int(rows_per_series.min() * VAL_SIZE)
    network = build(model, spec, covariates, seed, quick)
    forecaster = NeuralForecast(models=[network], freq=pd.infer_freq(data["ds"].iloc[:10]))
    started = time.perf_counter()
    forecasts = forecaster.cross_validation(df=data, val_size=val_rows, test_size=test_rows, n_windows=None,
                                            step_size=spec.horizon, refit=False)
    seconds = time.perf_counter() - started
    table = backtest_table(forecasts, data, spec, type(network).__name__)
    if table["origin"].min() != first:
        raise RuntimeError(f"NeuralForecast's first cutoff {table['origin'].min()} is not our first origin {first}")
    config = f"NF {model.upper() if model == 'lstm' else 'NHITS'}+cov MQLoss"
    parts = [("all", table)] if spec.id_col is None else list(table.groupby(spec.id_col))
    return [{"dataset": name, "config": config, "seed": seed, "series": series,
             **{key: f"{value:.6g}" for key, value in scores(rows, interval=True).items()},
             "val_loss": "", "epochs": "", "train_seconds": f"{seconds:.1f}",
             "machine": f"{machine_name(threads)}, NeuralForecast"} for series, rows in parts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "intervals.csv")
    parser.add_argument("--quick", action="store_true", help="60 days, 5 steps: a smoke run")
    args = parser.parse_args(argv)
    for name in args.datasets:
        for model in args.models:
            for seed in args.seeds:
                rows = run(name, model, seed, args.quick, args.threads)
                append_rows(args.out, rows, COLUMNS)
                print(f"{name} NF {model} seed={seed}: " + " ".join(
                    f"{row['series']}: mae={row['mae']} crps={row['crps']} cov80={row['coverage-80']}"
                    for row in rows), flush=True)
    args.out.with_suffix(".md").write_text(render(pd.read_csv(args.out)))
    print(f"rendered {args.out.with_suffix('.md')} (test part {TEST_SIZE:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
