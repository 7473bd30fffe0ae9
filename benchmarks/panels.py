"""Many-series panels (issue 20 item 4): one global tsbridge model per M3 and Tourism set, scored like the
competitions and set beside classical baselines and published anchors.

Protocol, the same for every set of :data:`tsbridge.data.COMPETITIONS` and every model:

* data: :func:`tsbridge.data.load_competition`, each series' training part; its test part (the competition's h
  held-out values) is read only to score.
* look-back: the set's default, ``competition(name).lookback`` (``min(2h, shortest - h)``), so every series holds
  one look-back plus horizon and is forecast; none is left out as too short (the table counts them anyway).
* validation, cut from the training part only: the last share ``v = h / median training length`` of each series'
  training part (:meth:`tsbridge.Forecaster.fit`'s ``val_size``), so the median series validates on exactly its last
  h values. Early stopping and the kept checkpoint use its ``val/loss``; the best model of a set (the one held
  against the targets) is the one with the lowest mean validation score in the set's own metric (M3: sMAPE,
  ``val_original/smape``; Tourism: MAPE, ``val_original/mape``, or sMAPE where a candidate has none: rows from before
  it was recorded, and sets whose validation windows hold an actual 0, where MAPE is undefined: Tourism monthly),
  never the test score. Series whose training rows before the cut are fewer than ``lookback + h`` hold no training
  window: the library warns and names them, and they are still scaled on their training rows and forecast by the
  global model (the table counts them as "not trained on"). A share gives a series shorter than the median no
  validation window and a longer one several, where the test holds every series once; ``--validation last`` (a
  protocol, rendered apart: its validation scores are on other windows) validates every series on its last h values
  instead (``val_size=h`` in rows), one window each, as the test is cut.
* a longer look-back (``--lookback L --min-lookback m``): windows may start before a short series' first value,
  edge-padded (``Forecaster(min_lookback=m)``), so every series still trains and is forecast; the look-back is then a
  choice made on validation like the model's (the rows name it when it is not the set's default).
* window normalisation (``--norm revin | robust | last | none``): each model's own by default (RevIN for ``blend`` and
  ``lstm``, the last value for ``segrnn``); another is a choice made on validation like the look-back (the rows name
  it, ``lstm norm=last``). RevIN divides by the window's spread, which padded short windows flatten.
* learning rate (``--lr``): the recurrent default, 0.001, unless given; another is a validation choice too (the rows
  name it, ``lstm lr=0.0003``). The same holds for the hidden size (``--hidden-size``, 64 unless given: ``blend
  hidden_size=128``), the dropout (``--dropout``, each model's own unless given: ``lstm dropout=0.3``) and the
  training windows (``--max-windows-per-series k``: each series' latest ``k``, N-BEATS' history limit; all unless
  given: ``lstm max_windows_per_series=73``).
* refit (``--refit``, a protocol decided before any score is seen, not chosen on validation): once early stopping
  has chosen the epochs, the model is trained again from the same initial weights on the training *and* validation
  windows for that many epochs (:func:`tsbridge.fitting.fit`), and that model forecasts. Its validation score is the
  selection run's (the refit trained on those windows), so which model of a set is held against the targets is
  chosen the same way with and without refit; the two protocols are rendered side by side, never mixed.
* forecast: the h test steps from the end of each series' training part (the whole training part, validation
  share included, is the look-back's history), in original units; scored with :mod:`tsbridge.metrics`: sMAPE and
  MASE as M3/M4 compute them, MAPE as Tourism does (per series over its horizon, then over the series).
* models: ``blend`` (the default bridge), ``lstm``, and ``segrnn`` with segments of the largest proper divisor
  of the look-back (skipped, with the reason, where the look-back is prime); small nets (hidden size 64 for all,
  the recurrent default; SegRNN's own is 512), at most :data:`MAX_EPOCHS` epochs with the default early stopping
  (patience 3); ``--max-epochs`` sets another budget (a column of the rows; early stopping still picks the epoch).
* loss (``--loss``): ``mse`` on the scaled values by default; ``mae`` on the scaled values (each series' error
  relative to its own spread, MASE-like); ``mape`` and ``smape`` train on the percentage errors in original units,
  the measures Tourism and M3 are scored in (N-BEATS trains on them there). Like refit and the budget it is a
  protocol, decided before a run and rendered apart; each row also records its validation sMAPE and MAPE, so the
  losses can be compared on validation, never on the test score.
* ensembles (``--members K``, a protocol decided before any score is seen, like refit; N-BEATS' published scores
  are the median of 180 models): a row's forecast is the median, value by value, of ``K`` models that differ only
  in their seeds (row seed ``s``: the members' seeds ``K s`` to ``K s + K - 1``, so ensemble seed 0 refits the
  single runs of seeds 0 to K - 1). Its seconds are all of the members'.
* mixes (``--mix``): one row per seed whose forecast is the median, value by value, of every model in ``--models``
  (``blend+lstm+segrnn``; with ``--members K``, K seeds of each), fitted under the same protocol. A mix is a
  candidate like a model: it competes with the single models of its protocol on validation, so whether mixing
  helps is decided there, never on the test score.
* hybrids (``--mix --peers AutoETS AutoTheta``): a mix whose median also takes the statsforecast baselines'
  forecasts (below), of the test horizon and of every validation window, each fitted on its series' values up to
  the window's origin only. A hybrid is not a tsbridge model alone: the targets are judged on tsbridge's models, and
  a second table per protocol says what allowing hybrids changes. Its seconds are its networks' (the baselines'
  rows give theirs).
* an ensemble's validation columns (a mix's, a hybrid's, or ``--members``') score its own forecasts of the
  validation windows: the median of its members' (:meth:`tsbridge.fitting.FitResult.validation_forecasts`, by the
  weights the selection run kept, before any refit), as a single model's are its own. Seed-ensemble rows written
  before mixes existed (2026-12-05) carry the members' mean validation instead; they compete only with each other
  (their own protocol).
* cost: each run in a fresh process; ``seconds`` is the fit plus the forecast, ``peak_mib`` the process's peak
  resident memory (``getrusage``'s ``ru_maxrss``, the imports of torch and Lightning included).

Baselines (AutoETS, AutoTheta, Theta, SeasonalNaive) come from ``benchmarks/peers/statsforecast_panels.py``, which
writes forecasts only; ``--score-peers`` scores them here with the same metric code and stores their rows in the CSV.
With ``--validation`` it also forecasts every validation window of :func:`validation_origins`, which hybrids need.

    python benchmarks/panels.py --seeds 0                    # every set, blend lstm segrnn -> results/panels.csv/.md
    python benchmarks/panels.py --sets m3_other --models blend --seeds 0 1 2
    python benchmarks/panels.py --sets m3_yearly --refit                # the refit protocol's rows
    python benchmarks/panels.py --sets m3_yearly --refit --max-epochs 30   # ... with a longer budget
    python benchmarks/panels.py --sets tourism_yearly --refit --lookback 8 --min-lookback 3   # padded windows
    python benchmarks/panels.py --sets tourism_yearly --refit --lookback 8 --min-lookback 3 --loss mape
    python benchmarks/panels.py --sets tourism_yearly --refit --lookback 8 --min-lookback 3 --loss mape --norm last
    python benchmarks/panels.py --sets m3_quarterly --refit --max-epochs 30 --loss smape
    python benchmarks/panels.py --score-peers --render       # add the baselines' rows, re-render
    python benchmarks/peers/statsforecast_panels.py --sets m3_quarterly --models AutoETS AutoTheta --validation
    python benchmarks/panels.py --sets m3_quarterly --refit --max-epochs 30 --loss mae --mix --peers AutoETS AutoTheta
    python benchmarks/panels.py --quick --limit 20 --sets m3_other --out /tmp/rows.csv   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Collection
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from accuracy import append_rows, seeds_cell  # benchmarks/ is this script's import root

from tsbridge.models.window_norm import NORMS

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
#: The competition sets, in the order of :data:`tsbridge.data.COMPETITIONS`.
SETS = ("m3_yearly", "m3_quarterly", "m3_monthly", "m3_other", "tourism_yearly", "tourism_quarterly",
        "tourism_monthly")
MODELS = ("blend", "lstm", "segrnn")
#: statsforecast's baselines. ``Theta`` is its Standard Theta Method, the M3 winner's method (a check that this
#: harness reproduces the published Theta row); ``AutoTheta`` chooses among theta variants per series.
PEERS = ("AutoETS", "AutoTheta", "Theta", "SeasonalNaive")
#: Where ``peers/statsforecast_panels.py`` writes its forecasts and ``--score-peers`` reads them.
PEER_FORECASTS = Path(tempfile.gettempdir()) / "tsbridge-panels-peers"
MAX_EPOCHS = 8
TRAINING = {"hidden_size": 64, "max_epochs": MAX_EPOCHS, "batch_size": 256, "importance": False, "threads": 1}
QUICK = {"max_epochs": 1, "limit_train_batches": 2, "hidden_size": 8}
#: Training settings a run may change (``--norm``, ``--lr``, ``--hidden-size``, ``--dropout``,
#: ``--max-windows-per-series``): a column each, empty when not given (each model's own normalisation and dropout,
#: :data:`TRAINING`'s rate and size, every training window), named when given.
SETTINGS = ("norm", "lr", "hidden_size", "dropout", "max_windows_per_series")
COLUMNS = ("set", "model", "seed", "lookback", "val_share", "series", "not_trained", "smape", "mape", "mase",
           "val_smape", "epochs", "seconds", "peak_mib", "machine", "refit", "max_epochs",
           "min_lookback", "loss", "val_mape", "norm", "members", "lr", "hidden_size", "dropout",
           "max_windows_per_series", "validation")
#: How the validation part is cut from each series' training part (:func:`validation_size`).
VALIDATIONS = ("share", "last")
# Published anchors: M3 sMAPE of N-BEATS (ServiceNow/N-BEATS notebooks) and of Theta (the M3 winner; Makridakis &
# Hibon 2000); Tourism MAPE of N-BEATS. Their averages weight each set by its forecast values (series x h):
# that reproduces 12.46, 13.01 and 18.67 from the rounded per-set numbers to within 0.01 (series alone: 12.17).
ANCHORS = {
    "N-BEATS": {"m3_yearly": 15.92, "m3_quarterly": 8.80, "m3_monthly": 13.24, "m3_other": 4.21, "m3": 12.46,
                "tourism_yearly": 21.36, "tourism_quarterly": 14.95, "tourism_monthly": 19.47, "tourism": 18.67},
    "Theta": {"m3_yearly": 16.90, "m3_quarterly": 8.96, "m3_monthly": 13.85, "m3_other": 4.41, "m3": 13.01},
}
#: The issue's targets: the best tsbridge model below this anchor (M3: sMAPE, Tourism: MAPE).
TARGETS = {"m3": "Theta", "tourism": "N-BEATS"}


def machine_name(threads: int) -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "CPU")
    return f"{model} ({os.cpu_count()} cores), {threads} thread{'s' if threads > 1 else ''}"


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` run in a new spawned process, so its peak memory (``ru_maxrss``) is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def segment_length(lookback: int) -> int | None:
    """SegRNN's segment: the largest proper divisor of the look-back (at least two segments), None if it is prime."""
    return next((d for d in range(lookback // 2, 1, -1) if lookback % d == 0), None)


def validation_share(lengths: pd.Series, horizon: int) -> float:
    """The share of each series' training part kept for validation: its median series validates on its last h."""
    return round(horizon / float(lengths.median()), 4)


def validation_size(validation: str, lengths: pd.Series, horizon: int) -> float | int:
    """``Forecaster.fit``'s ``val_size`` for a ``validation`` of :data:`VALIDATIONS`: ``"share"``, the share of
    :func:`validation_share`; ``"last"``, the last h rows of every series (an integer counts rows)."""
    return validation_share(lengths, horizon) if validation == "share" else horizon


def training_part(name: str, limit: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Set ``name``'s training part (``series_id, step, value``; only the first ``limit`` series when given) and
    each series' length, in the competition's order."""
    from tsbridge.data import load_competition

    train = load_competition(name, "train")
    if limit is not None:
        train = train[train["series_id"].isin(train["series_id"].unique()[:limit])]
    return train, train.groupby("series_id", sort=False).size()


def validation_origins(name: str, lookback: int | None = None, min_lookback: int | None = None,
                       limit: int | None = None, validation: str = "share") -> pd.DataFrame:
    """``series_id, origin`` of every validation window :func:`run` scores on set ``name`` (``origin``: the step of
    the window's last input value; its targets are the next h steps), in the data module's order. Built by
    tsbridge's own split and window code, as :meth:`tsbridge.Forecaster.fit` builds them (a test checks the two
    agree), so a baseline can forecast the same windows without fitting a network."""
    from tsbridge.data import competition
    from tsbridge.data.splits import split_ranges
    from tsbridge.data.windows import StridedWindows
    from tsbridge.overrides import split_ratios

    spec = competition(name)
    _, lengths = training_part(name, limit)
    lookback = spec.lookback if lookback is None else lookback
    split = split_ratios(None, validation_size(validation, lengths, spec.horizon), 0)
    ranges = [split_ranges(n, split, lookback, series_id, min_lookback=min_lookback)["val"]
              for series_id, n in lengths.items()]
    series, starts = StridedWindows.from_ranges(ranges, lookback, spec.horizon).pairs().numpy().T
    return pd.DataFrame({"series_id": lengths.index[series], "origin": starts + lookback - 1})


def validation_file(folder: Path, name: str, lookback: int, min_lookback: int | None) -> Path:
    """Where the baselines' forecasts of set ``name``'s validation windows at this look-back are kept: the windows,
    not the baselines, depend on it."""
    return folder / f"{name}-validation-L{lookback}{'' if min_lookback is None else f'-m{min_lookback}'}.csv"


def peer_forecasts(folder: Path, name: str, model: str) -> pd.DataFrame:
    """Baseline ``model``'s test forecasts of set ``name`` (``series_id, step, forecast``) from ``folder``."""
    path = folder / f"{name}.csv"
    table = pd.read_csv(path, dtype={"series_id": str}) if path.exists() else pd.DataFrame(columns=["model"])
    table = table[table["model"] == model]
    if table.empty:
        raise FileNotFoundError(f"no {model} forecasts of {name} in {folder}: run benchmarks/peers/"
                                f"statsforecast_panels.py --sets {name} --models {model} --validation first")
    return table[["series_id", "step", "forecast"]]


def validation_table(folder: Path, name: str, lookback: int, min_lookback: int | None) -> pd.DataFrame:
    """Every baseline's forecasts of set ``name``'s validation windows at this look-back (``series_id, origin, ahead,
    model, forecast``), empty when ``folder`` has none."""
    path = validation_file(folder, name, lookback, min_lookback)
    if not path.exists():
        return pd.DataFrame(columns=["series_id", "origin", "ahead", "model", "forecast"])
    return pd.read_csv(path, dtype={"series_id": str})


def peer_validation_forecasts(folder: Path, name: str, model: str, lookback: int, min_lookback: int | None,
                              windows: pd.DataFrame, table: pd.DataFrame | None = None) -> Any:
    """Baseline ``model``'s forecasts of the validation ``windows`` (``series_id, origin`` rows): float64
    ``(N, H, 1)``, in their order, like :meth:`tsbridge.fitting.FitResult.validation_forecasts`'. ``table`` is
    :func:`validation_table`'s answer when the caller has read it already (it is read here otherwise)."""
    import torch

    path = validation_file(folder, name, lookback, min_lookback)
    if table is None:
        table = validation_table(folder, name, lookback, min_lookback)
    table = table[table["model"] == model]
    wide = table.pivot_table(index=["series_id", "origin"], columns="ahead", values="forecast")
    aligned = wide.reindex(pd.MultiIndex.from_frame(windows[["series_id", "origin"]]))
    missing = int(aligned.isna().any(axis=1).sum()) if not wide.empty else len(windows)
    if missing:
        raise ValueError(f"{name}: {model} has no forecast of {missing} of the {len(windows)} validation windows in "
                         f"{path}; run benchmarks/peers/statsforecast_panels.py --sets {name} --models {model} "
                         f"--validation{'' if lookback is None else f' --lookback {lookback}'}"
                         f"{'' if min_lookback is None else f' --min-lookback {min_lookback}'}")
    return torch.tensor(aligned.to_numpy(dtype="float64")).unsqueeze(-1)


def series_arrays(frame: pd.DataFrame, column: str, order: list[str]) -> list:
    """Each series' ``column`` values (sorted by step), in ``order``."""
    groups = frame.sort_values("step").groupby("series_id")[column]
    values = {key: group.to_numpy() for key, group in groups}
    return [values[key] for key in order]


def scores(name: str, forecasts: pd.DataFrame, only: Collection[str] | None = None) -> dict[str, str]:
    """sMAPE, MAPE (percent) and MASE of one set's forecasts (``series_id, step, forecast``) on its test part, over
    every series of the set, or over the series in ``only`` (a smoke run on a subset)."""
    from tsbridge.data import competition, load_competition
    from tsbridge.metrics import mape, mase, smape

    train, test = load_competition(name, "train"), load_competition(name, "test")
    if only is not None:
        train, test = train[train["series_id"].isin(only)], test[test["series_id"].isin(only)]
    order = list(test["series_id"].unique())
    scored = test.merge(forecasts[["series_id", "step", "forecast"]], on=["series_id", "step"], how="left")
    if scored["forecast"].isna().any():
        missing = scored.loc[scored["forecast"].isna(), "series_id"].unique()
        raise ValueError(f"{name}: no forecast of {len(missing)} series' test steps ({', '.join(missing[:5])} ...)")
    actual, forecast = series_arrays(scored, "value", order), series_arrays(scored, "forecast", order)
    insample = series_arrays(train, "value", order)
    return {"series": str(len(order)), "smape": f"{smape(actual, forecast):.4f}",
            "mape": f"{mape(actual, forecast):.4f}",
            "mase": f"{mase(actual, forecast, insample, competition(name).season):.4f}"}


def validation_holds_zero(datamodule: Any) -> bool:
    """Whether an actual value of ``datamodule``'s validation windows is 0 in original units: their MAPE is then
    undefined, as :func:`tsbridge.metrics.mape` says of the test part (torchmetrics' ``val_original/mape`` divides by
    a tiny epsilon instead and reports millions)."""
    for batch in datamodule.val_dataloader():
        actual = batch["y"] * batch["scale"] + batch["loc"]
        if (actual.abs() <= 1e-4 * (batch["loc"].abs() + batch["scale"])).any():  # 0 up to float32 rounding
            return True
    return False


def run(name: str, model: str, seed: int, quick: bool, limit: int | None, refit: bool = False,
        max_epochs: int = MAX_EPOCHS, lookback: int | None = None, min_lookback: int | None = None,
        loss: str = "mse", members: int = 1, settings: dict[str, Any] | None = None,
        peer_folder: Path = PEER_FORECASTS, validation: str = "share") -> dict[str, Any]:
    """One (set, model, seed): fit on the training parts for at most ``max_epochs`` (then refit on their validation
    windows too, with ``refit``) with the training ``loss``, forecast the test horizon, score; the CSV row.
    ``model``: one of :data:`MODELS`, or a mix of them joined by ``+`` (the median of their forecasts), which may
    also name baselines of :data:`PEERS` (a hybrid: their forecasts are read from ``peer_folder``);
    ``lookback``: the set's default when None; ``min_lookback``: padded windows; ``members``: the median forecast
    of that many seeds' models (of each model of a mix); ``settings``: values for :data:`SETTINGS`, None (or
    absent) for the default; ``validation``: one of :data:`VALIDATIONS` (see the module docstring)."""
    import resource
    import warnings

    from tsbridge import Forecaster
    from tsbridge.data import competition

    spec = competition(name)
    train, lengths = training_part(name, limit)
    val_size = validation_size(validation, lengths, spec.horizon)
    lookback = spec.lookback if lookback is None else lookback
    given = {key: value for key, value in (settings or {}).items() if value is not None}
    options = {**TRAINING, "max_epochs": max_epochs, **(QUICK if quick else {}), "refit": refit,
               "min_lookback": min_lookback, "loss": loss, **given}
    started = time.perf_counter()
    fitted, forecasts = [], []
    networks = [part for part in model.split("+") if part in MODELS]
    peers = [part for part in model.split("+") if part in PEERS]
    for part in networks:
        for member_seed in range(members * seed, members * seed + members):
            segments = {"segment_length": segment_length(lookback)} if part == "segrnn" else {}
            forecaster = Forecaster(part, lookback=lookback, horizon=spec.horizon, progress=False,
                                    seed=member_seed, **options, **segments)
            with warnings.catch_warnings():  # the untrained series are counted in the row instead
                warnings.filterwarnings("ignore", message=".*hold no training window.*")
                forecaster.fit(train, target="value", time_col="step", id_col="series_id", features="S",
                               val_size=val_size, logger=False)
            fitted.append(forecaster.result)
            forecasts.append(forecaster.predict().reset_index().rename(columns={"value": "forecast"}))
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    datamodule = fitted[0].datamodule  # the members share the data, its split and windows
    if len(fitted) == 1 and not peers:
        validated = {metric: f"{100 * fitted[0].val[f'val_original/{metric}']:.4f}" for metric in ("smape", "mape")}
    else:
        pairs = [result.validation_forecasts() for result in fitted]
        origins = datamodule.val_dataset.origins().numpy()
        windows = pd.DataFrame({"series_id": [datamodule.series_ids[s] for s in origins[:, 0]],
                                "origin": origins[:, 1]})
        for peer in peers:
            forecasts.append(peer_forecasts(peer_folder, name, peer))
            pairs.append((peer_validation_forecasts(peer_folder, name, peer, lookback, min_lookback, windows),
                          pairs[0][1]))
        validated = ensemble_validation(pairs)

    row = {"set": name, "model": model, "seed": seed, "lookback": lookback,
           "val_share": val_size,  # the share; with --validation last, the rows (h)
           # The windows the returned model trained on (with refit, those through the validation rows).
           "not_trained": int((datamodule.train_dataset.index.counts == 0).sum()),
           "val_smape": validated["smape"],
           "epochs": f"{sum(result.epochs for result in fitted) / len(fitted):.4g}", "seconds": f"{seconds:.1f}",
           "peak_mib": f"{peak_mib:.0f}", "machine": machine_name(1), "refit": refit, "max_epochs": max_epochs,
           "min_lookback": "" if min_lookback is None else min_lookback, "loss": loss,
           "val_mape": "" if validation_holds_zero(datamodule) else validated["mape"],
           "members": members, **{key: given.get(key, "") for key in SETTINGS},
           "validation": "" if validation == "share" else validation}
    return {**row, **scores(name, median_forecast(forecasts), None if limit is None else set(lengths.index))}


def ensemble_validation(pairs: list[tuple[Any, Any]]) -> dict[str, str]:
    """sMAPE and MAPE (percent, as the CSV writes them) of the median, value by value, of several members' forecasts
    of their (shared) validation windows (``(forecast, actual)`` pairs, as
    :meth:`tsbridge.fitting.FitResult.validation_forecasts` returns them): the ensemble's own validation score,
    defined as the fits' ``val_original/`` metrics are (torchmetrics': every window and step pooled), so one fit's
    is its own."""
    import numpy as np

    actual = pairs[0][1].numpy()
    if any(other.shape != actual.shape for _, other in pairs):
        raise ValueError("the members' validation windows differ: an ensemble's members must share data and look-back")
    median = np.median(np.stack([forecast.numpy() for forecast, _ in pairs]), axis=0)
    error = np.abs(median - actual)
    total = np.abs(median) + np.abs(actual)
    smape = np.divide(2 * error, total, out=np.zeros_like(total), where=total > 0)  # 0/0: a perfect forecast
    with np.errstate(divide="ignore", invalid="ignore"):  # a 0 actual: MAPE is undefined and left out by the caller
        mape = error / np.abs(actual)
    return {"smape": f"{100 * smape.mean():.4f}", "mape": f"{100 * mape.mean():.4f}"}


def is_ours(models: pd.Series) -> pd.Series:
    """Which rows' models are tsbridge's: one of :data:`MODELS`, or a mix of them (``blend+lstm``)."""
    return models.astype(str).str.split("+").map(lambda parts: all(part in MODELS for part in parts))


def is_hybrid(models: pd.Series) -> pd.Series:
    """Which rows' models are hybrids: a mix of tsbridge's models and baselines (``lstm+AutoETS``)."""
    parts = models.astype(str).str.split("+")
    return parts.map(lambda names: all(name in MODELS + PEERS for name in names)
                     and any(name in MODELS for name in names) and any(name in PEERS for name in names))


def median_forecast(forecasts: list[pd.DataFrame]) -> pd.DataFrame:
    """The ensemble of several models' forecasts (``series_id, step, forecast``): their median, value by value
    (one model's forecasts are returned as they are)."""
    if len(forecasts) == 1:
        return forecasts[0]
    stacked = pd.concat(forecasts, ignore_index=True)
    return stacked.groupby(["series_id", "step"], sort=False, as_index=False)["forecast"].median()


def peer_validation(folder: Path, name: str, models: Collection[str]) -> dict[str, dict[str, str]]:
    """Each baseline's validation sMAPE and MAPE on set ``name``'s validation windows at its default look-back,
    scored as a network's are (:func:`ensemble_validation` of one member); empty for a model whose forecasts of
    them ``folder`` lacks, MAPE empty where a validation actual is 0 (undefined). The windows and their actual
    values are built once for all ``models``."""
    import numpy as np
    import torch

    from tsbridge.data import competition

    spec = competition(name)
    table = validation_table(folder, name, spec.lookback, None)
    scored = {model: {"smape": "", "mape": ""} for model in models}
    present = sorted(set(table["model"]) & set(models))
    if not present:
        return scored
    windows = validation_origins(name)
    train, _ = training_part(name)
    values = {key: group.to_numpy() for key, group in train.groupby("series_id", sort=False)["value"]}
    actual = torch.tensor(np.stack([values[series_id][origin + 1: origin + 1 + spec.horizon]
                                    for series_id, origin in windows.itertuples(index=False)])).unsqueeze(-1)
    mape_defined = not bool((actual == 0).any())
    for model in present:
        forecast = peer_validation_forecasts(folder, name, model, spec.lookback, None, windows, table)
        result = ensemble_validation([(forecast, actual)])
        scored[model] = {"smape": result["smape"], "mape": result["mape"] if mape_defined else ""}
    return scored


def peer_rows(folder: Path) -> list[dict[str, Any]]:
    """The baselines' forecasts in ``folder`` scored as CSV rows (seed empty: they are deterministic), with their
    validation scores where ``folder`` holds their forecasts of the validation windows (``--validation``)."""
    costs = pd.read_csv(folder / "costs.csv").drop_duplicates(["set", "model"], keep="last").set_index(
        ["set", "model"])
    rows = []
    for name in SETS:
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        forecasts = pd.read_csv(path, dtype={"series_id": str})
        validations = peer_validation(folder, name, forecasts["model"].unique())
        for model, table in forecasts.groupby("model", sort=False):
            cost = costs.loc[(name, model)]
            validation = validations[model]
            rows.append({"set": name, "model": model, "seed": "", "lookback": "", "val_share": "",
                         "not_trained": "", "val_smape": validation["smape"], "epochs": "",
                         "seconds": cost["seconds"], "peak_mib": cost["peak_mib"],
                         "machine": f"{cost['machine']}, statsforecast", "refit": "", "max_epochs": "",
                         "min_lookback": "", "loss": "", "val_mape": validation["mape"], "norm": "", "members": "",
                         "lr": "",
                         **scores(name, table)})
    return rows


# ---------------------------------------------------------------------------------------------- rendering
def source(name: str) -> str:
    """``"m3"`` or ``"tourism"``: the competition a set belongs to."""
    return name.split("_")[0]


def headline(name: str) -> str:
    """The metric the set's anchors are published in: sMAPE for M3, MAPE for Tourism."""
    return "smape" if source(name) == "m3" else "mape"


def weighted_average(values: dict[str, float]) -> float:
    """The competition's average of per-set scores, each set weighted by its forecast values (series x h), as the
    published averages are (M3: 12.46 for N-BEATS and 13.01 for Theta; Tourism: 18.67 for N-BEATS)."""
    from tsbridge.data import competition

    weights = {name: competition(name).n_series * competition(name).horizon for name in values}
    return sum(values[name] * weights[name] for name in values) / sum(weights.values())


def filled(rows: pd.DataFrame, column: str, default: str) -> pd.Series:
    """``rows[column]`` with ``default`` where it is empty or absent (rows written before the column existed)."""
    if column not in rows:
        return pd.Series(default, index=rows.index)
    return rows[column].astype(object).where(rows[column].notna() & rows[column].astype(str).ne(""), default)


def protocols(rows: pd.DataFrame) -> pd.Series:
    """Each row's protocol, ``(refit, max_epochs, loss, members, validation)``; rows written before those columns:
    no refit, 8 epochs, mse, one model, the validation share."""
    refit = rows["refit"].astype(str).str.lower().eq("true") if "refit" in rows else False
    budget = rows["max_epochs"] if "max_epochs" in rows else pd.Series(MAX_EPOCHS, index=rows.index)
    budget = pd.to_numeric(budget, errors="coerce").fillna(MAX_EPOCHS).astype(int)
    loss = filled(rows, "loss", "mse")
    members = rows["members"] if "members" in rows else pd.Series(1, index=rows.index)
    members = pd.to_numeric(members, errors="coerce").fillna(1).astype(int)
    validation = filled(rows, "validation", "share")  # the share's rows leave it empty too
    return pd.Series(list(zip(pd.Series(refit, index=rows.index), budget, loss, members, validation)),
                     index=rows.index)


def variant(model: str, protocol: tuple[bool, int, str, int, str]) -> str:
    """A model's name in the tables: ``blend``, ``blend + refit``, ``blend + refit, 30 epochs, mape loss, median of
    3, last-h validation`` (a budget, a loss, an ensemble or a validation other than the default's is named)."""
    refit, budget, loss, members, validation = protocol
    return (model + (" + refit" if refit else "") + (f", {budget} epochs" if budget != MAX_EPOCHS else "")
            + (f", {loss} loss" if loss != "mse" else "") + (f", median of {members}" if members > 1 else "")
            + (", last-h validation" if validation == "last" else ""))


def named(rows: pd.DataFrame) -> pd.Series:
    """Each row's model as the tables name it: the model, with its look-back when that is not the set's default
    (``blend L=8``: padded windows), its window normalisation when that is not the model's own
    (``lstm L=8 norm=last``) and each other setting of :data:`SETTINGS` that was given (``lstm lr=0.0003``)."""
    from tsbridge.data import competition

    lookbacks = pd.to_numeric(rows["lookback"], errors="coerce")
    defaults = rows["set"].map(lambda name: competition(name).lookback)
    longer = lookbacks.notna() & (lookbacks != defaults)
    names = rows["model"].where(~longer, rows["model"] + " L=" + lookbacks.astype("Int64").astype(str))
    for column in SETTINGS:  # rows written before a column have it empty: the default
        if column in rows:
            values = rows[column].map(lambda value: "" if pd.isna(value)  # 128, not the float column's 128.0
                                      else f"{value:g}" if isinstance(value, float) else str(value))
            names = names.where(values.eq(""), names + f" {column}=" + values)
    return names


def selection_metric(name: str, rows: pd.DataFrame) -> str:
    """The validation column the best model of set ``name`` is chosen on: its headline metric's (M3: sMAPE,
    Tourism: MAPE), or sMAPE where some candidate ``rows`` did not record their validation MAPE (rows written
    before the column existed, or validation windows that hold a 0)."""
    recorded = "val_mape" in rows and rows["val_mape"].notna().all()
    return "val_mape" if headline(name) == "mape" and recorded else "val_smape"


def best_by_validation(rows: pd.DataFrame, hybrids: bool = False) -> pd.DataFrame:
    """Per set, the tsbridge model (and look-back) with the lowest mean validation score in the set's own metric
    (:func:`selection_metric`) among those run on as many seeds as the set's most-seeded models: its mean test
    scores, seeds and the column it was chosen on (``rows`` of one protocol). With ``hybrids`` the hybrids and the
    baselines with a validation score are candidates too."""
    scored_peers = rows["model"].isin(PEERS) & pd.to_numeric(rows["val_smape"], errors="coerce").notna()
    ours = rows[is_ours(rows["model"]) | ((is_hybrid(rows["model"]) | scored_peers) if hybrids else False)]
    ours = ours.assign(model=named(ours))
    if "val_mape" not in ours:
        ours = ours.assign(val_mape=float("nan"))
    chosen = []
    for name, candidates in ours.groupby("set", sort=False):
        metric = selection_metric(name, candidates)
        means = candidates.groupby("model", sort=False).agg(
            val_smape=("val_smape", "mean"), val_mape=("val_mape", "mean"), smape=("smape", "mean"),
            mape=("mape", "mean"), seeds=("seed", "nunique"))
        # A probe run on fewer seeds than the set's most-seeded models waits for its other seeds (one lucky seed is
        # not a model); the baselines are deterministic (no seed) and always compete.
        means = means[(means["seeds"] == means["seeds"].max()) | (means["seeds"] == 0)]
        best = means.loc[[means[metric].idxmin()]].reset_index().assign(set=name, chosen_on=metric)
        chosen.append(best)
    return pd.concat(chosen).set_index("set")


def render(rows: pd.DataFrame) -> str:
    """The ``## Accuracy`` part of ``results/panels.md``: per set and model the test scores and costs, then the
    anchors and the targets, met or missed with the gap."""
    from tsbridge.data import competition

    sets = [name for name in SETS if name in set(rows["set"])]
    lines = ["# Many-series panels: M3 and Tourism", "", "## Accuracy", "",
             "Made by `python benchmarks/panels.py` and `benchmarks/peers/statsforecast_panels.py` (the protocol is "
             "in the script's docstring): one global model per set, fitted on every series' training part with its "
             "validation cut from that part (the last share h / median length of each series; early stopping and "
             "the best tsbridge model of a set chosen on it), forecasting the competition's h test values. Test "
             "scores in percent (MASE a ratio), mean ± sample std over seeds (one value: one seed); sMAPE for M3 "
             "and MAPE for Tourism, the anchors' metrics. Seconds: fit and forecast; peak: the run's "
             "process peak resident memory (imports included). `not trained`: series whose training rows before "
             "the validation cut hold no window, still forecast by the global model. `epochs`: epochs run, at "
             f"most {MAX_EPOCHS} unless the model's name gives another budget (early stopping, patience 3; with refit "
             "those of the selection run, which the refit repeats). Seconds depend on what else the machine ran (see "
             "benchmarks/README.md for the runs committed).", "",
             "| set | h | look-back | forecast / too short | not trained | model | seeds | sMAPE (M3) / MAPE (Tourism) "
             "| MASE | val sMAPE | val MAPE "
             "| epochs | seconds | peak MiB |", "|" + "---|" * 14]
    for name in sets:
        spec, data = competition(name), rows[rows["set"] == name]
        forecast = int(data["series"].max())
        untrained = data["not_trained"].dropna()
        set_cells = [name, str(spec.horizon), str(spec.lookback), f"{forecast} / {spec.n_series - forecast}",
                     str(int(untrained.max())) if not untrained.empty else "–"]
        protocol_of, names = protocols(data), named(data)
        mixes = sorted(set(data.loc[(is_ours(data["model"]) | is_hybrid(data["model"]))
                                    & ~data["model"].isin(MODELS), "model"]))
        by_length = lambda label: (len(label), label)  # ties by name: the same order on every run
        variants = [(label, protocol) for base in (*MODELS, *mixes, *PEERS) for protocol in sorted(set(protocol_of))
                    for label in sorted(set(names[(data["model"] == base) & (protocol_of == protocol)]),
                                        key=by_length)]
        for model, protocol in variants:
            mine = data[(names == model) & (protocol_of == protocol)]
            seeds = "–" if mine["model"].iloc[0] in PEERS else str(mine["seed"].nunique())
            lines.append("| " + " | ".join(set_cells + [
                variant(model, protocol), seeds,
                seeds_cell(mine[headline(name)], 2), seeds_cell(mine["mase"], 3), seeds_cell(mine["val_smape"], 2),
                seeds_cell(mine["val_mape"], 2) if mine["val_mape"].notna().any() else "–",
                seeds_cell(mine["epochs"], 1), seeds_cell(mine["seconds"], 0), seeds_cell(mine["peak_mib"], 0)]) + " |")
            set_cells = [""] * len(set_cells)
    skipped = [f"{name} (look-back {competition(name).lookback})" for name in sets
               if segment_length(competition(name).lookback) is None]
    if skipped:
        lines += ["", f"`segrnn` is not run where the look-back is prime (no segment length of at least two values "
                      f"gives two or more segments): {', '.join(skipped)}."]
    lines += ["", *targets(rows, sets), "", f"Machine: {'; '.join(sorted(set(rows['machine'])))}.", ""]
    return "\n".join(lines)


def targets(rows: pd.DataFrame, sets: list[str]) -> list[str]:
    """The anchors and the issue's targets, per protocol (without, then with refit): per set and on each
    competition's average, the best tsbridge model (by validation) against the target anchor, met or missed with
    the gap; cells with fewer than 3 seeds named."""
    lines = ["### Targets", "",
             "The best tsbridge model of each set is the one with the lowest validation score in the set's own "
             "metric (M3: sMAPE; Tourism: MAPE, or sMAPE for rows written before validation MAPE was recorded); "
             "its test score is held against the anchor (M3: Theta's sMAPE, Tourism: N-BEATS' MAPE). Averages "
             "weight each set by its forecast values (series x h), as the published ones do; an average is left out "
             "until every set of its competition has rows. Theta is the M3 submission's published "
             "score; statsforecast's AutoTheta (the table above) chooses among theta variants, and its scores "
             "differ.", *theta_check(rows)]
    candidates = rows[is_ours(rows["model"]) | is_hybrid(rows["model"])]
    protocol_of = protocols(candidates)
    for protocol in sorted(set(protocol_of[is_ours(candidates["model"])])):
        refit, budget, loss, members, validation = protocol
        title = (f"{'With refit (trained again on the validation windows too)' if refit else 'Without refit'}, "
                 f"at most {budget} epochs, {loss} loss"
                 + (f", the median forecast of {members} models (seeds)" if members > 1 else "")
                 + (", validated on every series' last h values" if validation == "last" else ""))
        mine = candidates[protocol_of == protocol]
        lines += ["", f"{title}:", "", *protocol_targets(mine, sets, protocol)]
        if is_hybrid(mine["model"]).any():
            peers = rows[rows["model"].isin(PEERS)]
            lines += ["", "The same protocol allowing statsforecast: its baselines (those with validation forecasts) "
                          "and the hybrids (the median with their forecasts) are candidates too. Not tsbridge's "
                          "models alone, so not held against the targets above:", "",
                      *protocol_targets(pd.concat([mine, peers]), sets, protocol, hybrids=True)]
    return lines


def theta_check(rows: pd.DataFrame) -> list[str]:
    """A check of this harness (data, held-out test part, horizons, sMAPE): statsforecast's Standard Theta Method
    scored here against the published Theta row it stands in for; empty until a set has a ``Theta`` row."""
    theta = rows[rows["model"] == "Theta"].drop_duplicates("set", keep="last").set_index("set")
    present = [name for name in SETS if source(name) == "m3" and name in theta.index]
    if not present:
        return []
    scored = {name: float(theta.loc[name, "smape"]) for name in present}
    lines = ["", "The harness checked on the anchor: statsforecast's `Theta` (the Standard Theta Method of Fiorucci et "
                 "al. 2016, one implementation of the M3 winner's method) scored by this code against the published "
                 "Theta sMAPE:", "", "| set | `Theta` here | published Theta | difference |", "|---|---|---|---|"]
    if len(present) == sum(source(name) == "m3" for name in SETS):
        scored["m3"] = weighted_average(scored)
    for name, score in scored.items():
        lines.append(f"| {name} | {score:.2f} | {ANCHORS['Theta'][name]:.2f} | {score - ANCHORS['Theta'][name]:+.2f} |")
    return lines


def protocol_targets(rows: pd.DataFrame, sets: list[str], protocol: tuple[bool, int, str, int, str],
                     hybrids: bool = False) -> list[str]:
    """The targets table of one protocol's rows (of tsbridge's models, and of the hybrids with ``hybrids``)."""
    best = best_by_validation(rows, hybrids)
    rows = rows[~rows["model"].isin(PEERS)] if hybrids else rows[is_ours(rows["model"])]
    lines = ["| set | best by validation | seeds | score | N-BEATS | Theta | target | gap | met |", "|" + "---|" * 9]
    for competition_name in ("m3", "tourism"):
        present = [name for name in sets if source(name) == competition_name and name in best.index]
        scored: dict[str, float] = {}
        for name in present:
            chosen = best.loc[name]
            scored[name] = float(chosen[headline(name)])
            on = "val MAPE" if chosen["chosen_on"] == "val_mape" else "val sMAPE"
            label = chosen["model"] if chosen["model"] in PEERS else variant(chosen["model"], protocol)
            lines.append(target_row(name, f"{label} (on {on})", int(chosen["seeds"]), scored[name]))
        expected = [name for name in SETS if source(name) == competition_name]
        if present == expected:
            seeded = [int(seeds) for seeds in best.loc[present, "seeds"] if seeds]  # a baseline has none
            lines.append(target_row(competition_name, "per set", min(seeded, default=0),
                                    weighted_average(scored)))
    short = rows.assign(model=named(rows)).groupby(["set", "model"], sort=False)["seed"].nunique()
    short = [f"{name} {variant(model, protocol)} ({count})" for (name, model), count in short.items() if count < 3]
    lines += ["", f"Cells with fewer than 3 seeds: {', '.join(short)}." if short else "Every cell has 3 seeds."]
    return lines


def target_row(name: str, model: str, seeds: int, score: float) -> str:
    """One row of a targets table; ``seeds`` 0: a deterministic baseline."""
    anchor = ANCHORS[TARGETS[source(name)]][name]
    anchors = [f"{ANCHORS[peer][name]:.2f}" if name in ANCHORS[peer] else "–" for peer in ("N-BEATS", "Theta")]
    gap = score - anchor
    return (f"| {name} | {model} | {seeds or '–'} | {score:.2f} | {' | '.join(anchors)} | {TARGETS[source(name)]} "
            f"{anchor:.2f} | {gap:+.2f} | {'met' if gap < 0 else 'missed'} |")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=RESULTS / "panels.csv", help="CSV rows are appended to")
    parser.add_argument("--score-peers", type=Path, nargs="?", const=PEER_FORECASTS, metavar="FOLDER",
                        help="score the baselines' forecasts (default folder: %(const)s) into the CSV")
    parser.add_argument("--render", action="store_true", help="no new runs: only (score the peers and) render")
    parser.add_argument("--quick", action="store_true", help="1 short epoch, tiny nets: a smoke run")
    parser.add_argument("--limit", type=int, help="only the first LIMIT series of each set (a smoke run)")
    parser.add_argument("--refit", action="store_true",
                        help="the refit protocol: train again on the validation windows for the chosen epochs")
    parser.add_argument("--max-epochs", type=int, default=MAX_EPOCHS, help="the epoch budget (default %(default)s)")
    parser.add_argument("--lookback", type=int, help="the look-back (default: each set's own)")
    parser.add_argument("--min-lookback", type=int, help="padded windows: real look-back rows a window needs")
    parser.add_argument("--loss", choices=("mse", "mae", "mape", "smape"), default="mse",
                        help="the training loss (mape, smape: in original units, the Tourism and M3 measures)")
    parser.add_argument("--norm", choices=NORMS,
                        help="the window normalisation (default: each model's own)")
    parser.add_argument("--lr", type=float, help="the learning rate (default: the recurrent default, 0.001)")
    parser.add_argument("--hidden-size", type=int, help=f"the hidden size (default {TRAINING['hidden_size']})")
    parser.add_argument("--dropout", type=float, help="the dropout (default: each model's own)")
    parser.add_argument("--max-windows-per-series", type=int, metavar="K",
                        help="train on each series' latest K windows (N-BEATS' history limit; default: all)")
    parser.add_argument("--validation", choices=VALIDATIONS, default="share",
                        help="the validation part: the share that gives the median series its last h values "
                             "(default), or every series' last h values")
    parser.add_argument("--members", type=int, default=1,
                        help="an ensemble: the median forecast of this many seeds' models (default %(default)s)")
    parser.add_argument("--mix", action="store_true",
                        help="one candidate per seed: the median forecast of every model of --models")
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=[],
                        help="with --mix, a hybrid: the median takes these baselines' forecasts too")
    parser.add_argument("--peer-folder", type=Path, default=PEER_FORECASTS,
                        help="where the baselines' forecasts are read from (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.members < 1:
        parser.error(f"--members must be at least 1, not {args.members}")
    if args.peers and not args.mix:
        parser.error("--peers makes a hybrid, a mix: give --mix too")
    if args.peers and args.validation != "share":
        parser.error("--peers reads the baselines' forecasts of the validation share's windows: use the default "
                     "--validation share with hybrids")
    return args


def main(argv: list[str] | None = None) -> int:
    from tsbridge.data import competition

    args = parse_args(argv)
    if not args.render:
        for seed in args.seeds:  # seed-major, so a run cut short leaves every set and model with one seed
            for name in args.sets:
                for model in ["+".join(args.models + args.peers)] if args.mix else args.models:
                    lookback = args.lookback or competition(name).lookback
                    if "segrnn" in model.split("+") and segment_length(lookback) is None:
                        print(f"{name} {model} skipped: its look-back {lookback} is prime (segrnn)", flush=True)
                        continue
                    row = in_fresh_process(run, name, model, seed, args.quick, args.limit, args.refit,
                                           args.max_epochs, args.lookback, args.min_lookback, args.loss,
                                           args.members, {key: getattr(args, key) for key in SETTINGS},
                                           args.peer_folder, args.validation)
                    append_rows(args.out, [row], COLUMNS)
                    label = variant(named(pd.DataFrame([row])).iloc[0],  # as the tables will name it
                                    (args.refit, args.max_epochs, args.loss, args.members, args.validation))
                    print(f"[{time.strftime('%H:%M:%S')}] {name} {label} seed={seed}: smape={row['smape']} "
                          f"mape={row['mape']} mase={row['mase']} val_smape={row['val_smape']} "
                          f"val_mape={row['val_mape']} epochs={row['epochs']} {row['seconds']} s "
                          f"{row['peak_mib']} MiB", flush=True)
    if args.score_peers is not None:
        kept = pd.read_csv(args.out, dtype=str, keep_default_na=False)  # rewritten as read: no 8 -> 8.0
        kept = kept[~kept["model"].isin(PEERS)]
        kept.to_csv(args.out, index=False)
        append_rows(args.out, peer_rows(args.score_peers), COLUMNS)
    rows = pd.read_csv(args.out)
    markdown = args.out.with_suffix(".md")
    # The file's "## Scale" section comes from benchmarks/throughput.py --measures panel: kept as it is.
    text = markdown.read_text() if markdown.exists() else ""
    scale = text[text.index("\n## Scale"):] if "\n## Scale" in text else ""
    markdown.write_text(render(rows).rstrip("\n") + "\n" + scale)
    print(f"rendered {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
