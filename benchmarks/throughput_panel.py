"""``throughput.py --measures panel``: a synthetic panel of many series through the default data module, one bounded
epoch of the default model and one ``Forecaster.predict`` call for every series, each size in a fresh process.

The panel is what ``Forecaster().fit(panel, target="value", time_col="date", id_col="series_id")`` trains on: the
default config (``conf/train.yaml``: blend bridge, L=96, H=24, batch 64, per-series scaling) with the fit's own
split (90% training, 10% validation per series). The pieces are the ones :func:`tsbridge.fitting.fit` builds
(``build_datamodule``, ``build_module``, ``build_trainer``), called one by one so that the data module's memory can be
read before training starts; the forecast is the :class:`~tsbridge.predictor.Predictor` that fit returns, whose
``predict`` is ``Forecaster.predict``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import psutil
import torch

from tsbridge.config import build_datamodule, build_module, build_trainer, compose_config
from tsbridge.overrides import frame_overrides
from tsbridge.predictor import Predictor
from tsbridge.quiet import quiet_fit

MIN_LENGTH, MAX_LENGTH = 200, 2_000
PANEL_END = pd.Timestamp("2024-01-01")  # every series ends here (hourly), so their starts differ
PERIODS = np.array([24, 168, 12], dtype=np.float32)  # daily and weekly cycles of hourly data, and a half-day one
#: Series of the panel built and dropped before the measured one: it takes the one-time allocations (pandas' and
#: torch's caches, the allocator's first pools), which are a process's, not a panel's.
WARMUP_SERIES = 1_000
SECTION = "## Scale"
MIB = 2**20


def synthetic_panel(n_series: int, seed: int = 0) -> pd.DataFrame:
    """A long frame of ``n_series`` hourly series of 200-2,000 rows (uniform): ``series_id`` (int32), ``date`` and
    ``value`` (float32), each series a level plus one of three shapes (sine, sawtooth, square wave) of a random
    period (12, 24 or 168 hours), amplitude and phase, plus Gaussian noise. Built without a loop over series
    (100k series, ~110M rows, in seconds), sorted by series then time."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, n_series)
    series = np.repeat(np.arange(n_series, dtype=np.int32), lengths)
    step = np.arange(len(series), dtype=np.int64)
    step -= np.repeat(np.cumsum(lengths) - lengths, lengths)  # row within its series
    cycle = step.astype(np.float32)
    cycle /= PERIODS[rng.integers(0, len(PERIODS), n_series)][series]
    cycle += rng.uniform(0, 1, n_series).astype(np.float32)[series]
    cycle %= 1  # position in the cycle, [0, 1)
    shape = rng.integers(0, 3, n_series).astype(np.int8)[series]
    value = np.where(shape == 0, np.sin(2 * np.pi * cycle), np.where(shape == 1, 2 * cycle - 1, np.sign(cycle - 0.5)))
    value *= rng.uniform(0.5, 3.0, n_series).astype(np.float32)[series]
    value += rng.normal(0.0, 10.0, n_series).astype(np.float32)[series]
    value += rng.normal(0.0, 0.3, len(series)).astype(np.float32)
    first = (PANEL_END - pd.to_timedelta(lengths - 1, unit="h")).to_numpy()  # each series' first hour
    date = first[series] + step.astype("timedelta64[h]")
    return pd.DataFrame({"series_id": series, "date": date, "value": value.astype(np.float32)})


def panel_config(workdir: str) -> object:
    """The config ``Forecaster()`` composes for ``fit(panel, target="value", time_col="date", id_col="series_id")``
    (its other arguments at their defaults), writing under ``workdir``."""
    defaults = compose_config()
    overrides = frame_overrides(defaults, target="value", time_col="date", id_col="series_id", features=None,
                                val_size=None, test_size=0.0)
    return compose_config([*overrides, f"paths.output_dir={workdir}"])


def settled_rss() -> int:
    """Resident bytes once garbage is collected and glibc has handed its free pages back (``malloc_trim``), so that
    memory already freed does not count as held."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: freed pages may still count
        pass
    return psutil.Process().memory_info().rss


def measure_panel(n_series: int, warmup: int, batches: int, threads: int, queue: multiprocessing.Queue) -> None:
    """In a fresh process: data memory, training windows/s and the time of one predict call for a panel of
    ``n_series`` (see :func:`measure_panels`)."""
    from throughput import SteadyStateTimer  # throughput.py imports this module

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="tsbridge-panel-") as workdir, quiet_fit(progress=False):
        cfg = panel_config(workdir)
        frame = synthetic_panel(n_series)
        before = settled_rss()
        build_datamodule(cfg, synthetic_panel(min(n_series, WARMUP_SERIES), seed=1)).setup()
        one_time_bytes = settled_rss() - before  # what the dropped warm-up panel left behind
        before += one_time_bytes
        started = time.perf_counter()
        datamodule = build_datamodule(cfg, frame)
        datamodule.setup()
        setup_seconds = time.perf_counter() - started
        data_bytes = settled_rss() - before

        L.seed_everything(cfg.seed, verbose=False)
        module = build_module(cfg, datamodule)
        timer = SteadyStateTimer(warmup, batches, torch.device("cpu"))
        trainer = build_trainer(cfg, callbacks=[timer], logger=False, max_epochs=1,
                                limit_train_batches=warmup + batches, limit_val_batches=0, num_sanity_val_steps=0,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(module, datamodule=datamodule)

        predictor = Predictor.from_datamodule(module, datamodule)
        started = time.perf_counter()
        forecast = predictor.predict(frame)
        predict_seconds = time.perf_counter() - started
    scaling = "one mean and std per series" if datamodule.scale_per_series else "pooled scaling"
    setting = (f"`{cfg.model._target_.rsplit('.', 1)[-1]}`, bridge `{cfg.model.bridge}`, hidden "
               f"{cfg.model.hidden_size}, L={datamodule.lookback}, H={datamodule.horizon}, batch "
               f"{datamodule.batch_size}, {scaling}")
    queue.put({
        "series": n_series, "setting": setting, "values": len(frame), "raw_bytes": len(frame) * 4,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()), "data_bytes": data_bytes,
        "one_time_bytes": one_time_bytes, "setup_seconds": setup_seconds,
        "train_windows": len(datamodule.train_dataset), "eval_batch_size": datamodule.eval_batch_size,
        "windows_per_second": batches * datamodule.batch_size / timer.seconds,
        "forecast_rows": len(forecast), "forecast_series": forecast.index.get_level_values(0).nunique(),
        "predict_seconds": predict_seconds, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })


def measure_panels(sizes: list[int], warmup: int, batches: int, threads: int) -> list[dict[str, object]]:
    """:func:`measure_panel` for each size, each in a new process (so that its peak RSS is its own)."""
    context = multiprocessing.get_context("spawn")
    results = []
    for n_series in sizes:
        queue = context.Queue()
        process = context.Process(target=measure_panel, args=(n_series, warmup, batches, threads, queue))
        process.start()
        results.append(queue.get())
        process.join()
        print(f"panel of {n_series} series: {results[-1]}", flush=True)
    return results


def scale_section(results: list[dict[str, object]], args: argparse.Namespace, machine: str) -> str:
    """The ``## Scale`` section of ``results/panels.md``: the table, the targets met or missed, command, machine."""
    base = results[0]["windows_per_second"]
    rows = ["| series | values | raw float32 (MiB) | data RSS (MiB) | data / raw | setup (s) | train windows | "
            "windows/s | rate / first size's | predict (s) | ms / series | peak RSS (MiB) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(
            f"| {r['series']:,} | {r['values']:,} | {r['raw_bytes'] / MIB:,.1f} | {r['data_bytes'] / MIB:,.1f} | "
            f"{r['data_bytes'] / r['raw_bytes']:.2f}x | {r['setup_seconds']:.1f} | {r['train_windows']:,} | "
            f"{r['windows_per_second']:.0f} | {r['windows_per_second'] / base:.2f} | {r['predict_seconds']:.1f} | "
            f"{1000 * r['predict_seconds'] / r['series']:.2f} | {r['peak_rss'] / MIB:,.0f} |")
    largest = results[-1]
    rate = largest["windows_per_second"] / base
    worst = max(results, key=lambda r: r["data_bytes"] / r["raw_bytes"])
    worst_ratio = worst["data_bytes"] / worst["raw_bytes"]
    one_time = sorted(r["one_time_bytes"] / MIB for r in results)
    verdicts = [
        f"- windows/s at {largest['series']:,} series within 20% of the rate at {results[0]['series']:,}: "
        f"{rate:.2f}x, **{'met' if rate >= 0.8 else 'missed'}** ({100 * (rate - 1):+.0f}%).",
        f"- data memory within 1.5x of the raw float32 values at every size: the largest ratio is {worst_ratio:.2f}x "
        f"({worst['series']:,} series), **{'met' if worst_ratio <= 1.5 else 'missed'}**"
        f"{'' if worst_ratio <= 1.5 else f' by {worst_ratio - 1.5:.2f}x'}.",
        f"- predict for {largest['series']:,} series in one call: {largest['forecast_series']:,} series forecast "
        f"({largest['forecast_rows']:,} rows) in {largest['predict_seconds']:.0f} s, peak RSS of the whole process "
        f"{largest['peak_rss'] / 2**30:.1f} GiB (the panel frame itself {largest['frame_bytes'] / 2**30:.1f} GiB), "
        f"**{'met' if largest['forecast_series'] == largest['series'] else 'missed'}**.",
    ]
    return "\n".join([
        SECTION, "",
        f"Machine: {machine}. torch threads: {args.threads or torch.get_num_threads()}.", "",
        f"Command: `python benchmarks/throughput.py {' '.join(sys.argv[1:])}`", "",
        "A synthetic panel (`benchmarks/throughput_panel.py`: hourly series of 200-2,000 rows, uniform, a level plus "
        "a sine, sawtooth or square wave of period 12, 24 or 168 h plus noise) in a long frame (`series_id` int32, "
        "`date`, `value` float32), through what `Forecaster().fit(panel, target=\"value\", time_col=\"date\", "
        f"id_col=\"series_id\")` builds: the default config ({largest['setting']}), 90% of each series for "
        "training, 10% for validation. Each size runs in a fresh process.", "",
        f"- **Data**: RSS growth while the data module is built and set up (validation, scaling, window indexes), "
        f"after `gc.collect()` and glibc's `malloc_trim(0)`, against the raw float32 values (values x 4 bytes). A "
        f"panel of min(size, {WARMUP_SERIES:,}) series is built and dropped first, so the process's one-time "
        f"allocations (caches, the allocator's first pools) are not counted: it left {one_time[0]:.1f}-"
        f"{one_time[-1]:.1f} MiB behind.",
        f"- **Training**: an epoch holds {largest['train_windows'] / largest['values']:.2f} training windows per "
        f"value ({largest['train_windows']:,} at {largest['series']:,} series: "
        f"{largest['train_windows'] / largest['windows_per_second'] / 3600:.0f} hours at the rate below), so it is "
        f"cut at {args.warmup + args.panel_batches} batches (`limit_train_batches`) drawn from the epoch's shuffled "
        f"order over all training windows; windows/s over the last {args.panel_batches} batches, after "
        f"{args.warmup} warm-up batches, with Lightning's loop as `tsbridge.fitting.fit` runs it (no progress bar, "
        "logger or checkpoint: validation is off).",
        "- **Predict**: `Forecaster.predict(panel)` (the fitted Predictor's `predict`), one call with the whole frame: "
        f"validating it again, then one forecast per series in batches of {largest['eval_batch_size']} windows, then "
        "the forecast frame (`(series_id, date)` index); ms / series is that call's time over the number of series. "
        "Peak RSS is the process's maximum, frame and all.", "",
        *rows, "",
        "Targets (issue 20, item 5):", "",
        *verdicts, "",
    ])


def write_section(path: Path, section: str) -> None:
    """Put ``section`` in ``path`` in place of its ``## Scale`` section (which runs to the next ``## `` heading or
    the end), or at its end; a new file gets a title line first."""
    text = path.read_text() if path.exists() else "# Panels\n\n"
    begin = text.find(SECTION + "\n")
    if begin < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    following = text.find("\n## ", begin + len(SECTION))
    rest = "" if following < 0 else "\n" + text[following + 1 :]
    path.write_text(text[:begin] + section + rest)
