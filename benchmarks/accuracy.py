"""ETT accuracy benchmark: train and test tsbridge models under the standard long-term forecasting protocol.

Every run goes through tsbridge's one fit path (:func:`tsbridge.fitting.fit`, as ``tsbridge-train`` and the
Forecaster): ``compose_config`` with ``experiment=etth1_bridges`` (or ``--experiment``, e.g. SegRNN's official
settings ``segrnn_etth1``) plus the run's overrides, early stopping on
``val/loss``, then one validation pass (``val_mse``, what configurations are selected on) and one test pass over
every stride-1 test window, both of the best checkpoint. Each finished run appends one row to a CSV with the
columns :data:`COLUMNS`; ``benchmarks/render_accuracy.py`` turns that CSV into ``benchmarks/results/<dataset>.md``.

Examples::

    python benchmarks/accuracy.py --setting M --horizons 96 --models blend dlinear --seeds 0 1 2
    python benchmarks/accuracy.py --setting M S --jobs 12 --accelerator gpu --time-budget 400   # a GPU box
    python benchmarks/accuracy.py --horizons 720 --models blend --override module.optimizer.lr=0.0003  # a variant
    python benchmarks/accuracy.py --experiment segrnn_etth1 --models segrnn segrnn_blend          # SegRNN parity
    python benchmarks/accuracy.py --quick --data tiny.csv --lookback 24 --horizons 12 --out /tmp/rows.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# Test scores, the validation MSE of the same (tested) checkpoint, readouts and cost. `machine`: device and
# parallel runs, which the times depend on; `overrides`: the --override options of a variant run (empty for the
# experiment's defaults). Rows written before val_mse/epoch_seconds existed have them empty.
COLUMNS = ("dataset", "setting", "lookback", "horizon", "model", "seed", "mse", "mae", "val_mse", "past_weight",
           "epochs", "train_seconds", "epoch_seconds", "machine", "overrides")
# The benchmark's default selection from the model registry (tsbridge.models.MODELS).
MODELS = ("blend", "concat", "attention", "feedback", "blend_gated", "lstm", "bilstm", "dlinear", "naive")
# ETT file stem -> (tsbridge dataset name, split preset of the standard protocol).
DATASETS = {"ETTh1": ("etth1", "ett-hourly"), "ETTh2": ("etth2", "ett-hourly"), "ETTm1": ("ettm1", "ett-15min"),
            "ETTm2": ("ettm2", "ett-15min")}
# The experiment every run composes unless --experiment names another; rows of another record it in `overrides`.
DEFAULT_EXPERIMENT = "etth1_bridges"
# Shrinks a run to seconds; the scores then mean nothing (the test suite uses it so the script cannot rot).
QUICK_OVERRIDES = ("trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
                   "trainer.limit_test_batches=2")


@dataclass(frozen=True)
class Run:
    """One (setting, horizon, model, seed) cell of the table."""

    setting: str
    horizon: int
    model: str
    seed: int


@dataclass(frozen=True)
class Options:
    """What every run of one invocation shares."""

    data: str
    lookback: int | None  # None: the experiment's own look-back
    accelerator: str
    quick: bool
    threads: int
    jobs: int
    latest_start: float  # time.time() after which no new run starts
    at_once: int = 1  # runs sharing the machine at once (this invocation's jobs, or several invocations)
    overrides: tuple[str, ...] = ()  # extra Hydra overrides of a variant (--override)
    experiment: str = DEFAULT_EXPERIMENT  # the conf/experiment/ every run composes

    @property
    def variant(self) -> str:
        """The `overrides` column: what sets these runs apart from the default experiment's."""
        experiment = () if self.experiment == DEFAULT_EXPERIMENT else (f"experiment={self.experiment}",)
        return " ".join((*experiment, *self.overrides))


def default_data_path() -> str:
    folder = os.environ.get("TSBRIDGE_DATA_DIR")
    return str(Path(folder) / "ETTh1.csv") if folder else str(REPO.parent / "shared" / "data" / "ett" / "ETTh1.csv")


def dataset_name(path: str) -> str:
    """The ETT file stem of ``path`` (``ETTh1``, ``ETTm1`` ...)."""
    name = Path(path).name.split(".")[0]
    if name not in DATASETS:
        raise ValueError(f"{path}: not an ETT file (expected one of {', '.join(DATASETS)}, .csv or .csv.gz)")
    return name


def check_experiment_data(experiment: str, data: str) -> None:
    """Refuse a SegRNN experiment on another ETT file than the one its official settings are for (``segrnn_ettm1``
    on ETTh1 would run ETTm1's segments and rate on ETTh1 and look like a parity row); the other experiments are a
    protocol any ETT file may follow.

    Raises:
        SystemExit: naming the experiment, its file and the one given.
    """
    if not experiment.startswith("segrnn_"):
        return
    from tsbridge.config import compose_config

    intended = str(compose_config([f"experiment={experiment}"]).data.frame.name)
    given = dataset_name(data)
    if DATASETS[given][0] != intended:
        sys.exit(f"accuracy.py: experiment {experiment} holds SegRNN's official settings for {intended}, but --data is "
                 f"{given} ({data}); pick the experiment of that file")


def is_recurrent(model: str) -> bool:
    """Whether ``model`` takes the recurrent options (hidden_size, channel_independent)."""
    from tsbridge.models import MODELS as REGISTRY

    return REGISTRY[model].recurrent


def machine_name(accelerator: str, at_once: int, threads: int) -> str:
    """``<GPU or CPU model>, <n> runs at once, <t> threads each``: what a row's times were measured on."""
    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        cpuinfo = Path("/proc/cpuinfo")
        lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
        model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "CPU")
        device = f"{model} ({os.cpu_count()} cores)"
    runs = "1 run at a time" if at_once == 1 else f"{at_once} runs at once"
    return f"{device}, {runs}, {threads} thread{'s' if threads > 1 else ''} each"


def run_overrides(run: Run, options: Options) -> list[str]:
    """Hydra overrides of one run on top of its experiment (``etth1_bridges`` unless ``--experiment``)."""
    name, split = DATASETS[dataset_name(options.data)]
    overrides = [
        f"experiment={options.experiment}",
        f"data.frame.name={name}",
        f"data.split={split}",
        f"model={run.model}",
        f"data.features={run.setting}",
        f"data.horizon={run.horizon}",
        f"data.frame.path={options.data}",
        "+data.frame.download=false",
        f"seed={run.seed}",
        f"trainer.accelerator={options.accelerator}",
        "trainer.enable_model_summary=false",
        "callbacks.progress_bar.refresh_rate=0",
        "logger=none",
        # The importance readout costs two extra forward passes per validation batch and changes no score.
        "module.importance=false",
    ]
    if options.lookback is not None:
        overrides.append(f"data.lookback={options.lookback}")
    if not is_recurrent(run.model):  # DLinear already shares one map across channels (channel independence)
        overrides.append("~model.channel_independent")
    if options.quick:
        overrides += QUICK_OVERRIDES
        if is_recurrent(run.model):
            overrides.append("model.hidden_size=8")
    return overrides + list(options.overrides)


def train_and_test(overrides: list[str], threads: int) -> dict[str, Any]:
    """Fit the config ``overrides`` compose through :func:`tsbridge.fitting.fit`; return the row's scores."""
    import torch

    from tsbridge.config import compose_config
    from tsbridge.fitting import fit
    from tsbridge.quiet import quiet_fit

    torch.set_num_threads(threads)
    output_dir = tempfile.mkdtemp(prefix="tsbridge-accuracy-")
    try:
        with quiet_fit(progress=False):  # one line per run (printed by the caller), no Lightning chatter
            result = fit(compose_config([*overrides, f"paths.output_dir={output_dir}"]))
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    past_weight = result.readouts.get("blend/past_weight")  # mean a of the tested weights on the validation windows
    return {
        "lookback": result.datamodule.lookback, "mse": f"{result.test['test/mse']:.6f}",
        "mae": f"{result.test['test/mae']:.6f}", "val_mse": f"{result.val['val/mse']:.6f}",
        "past_weight": "" if past_weight is None else f"{past_weight:.4f}",
        "epochs": result.epochs, "train_seconds": f"{result.fit_seconds:.1f}",
        "epoch_seconds": f"{result.fit_seconds / max(result.epochs, 1):.2f}",
    }


def run_row(run: Run, options: Options) -> dict[str, Any]:
    """One finished run as its CSV row."""
    scores = train_and_test(run_overrides(run, options), options.threads)
    return {
        "dataset": dataset_name(options.data), "setting": run.setting,
        "horizon": run.horizon, "model": run.model, "seed": run.seed, **scores,
        "machine": machine_name(options.accelerator, options.at_once, options.threads),
        "overrides": options.variant,
    }


def attempt(job: tuple[Run, Options]) -> tuple[Run, dict[str, Any] | None, str]:
    """Run one job, never raising: ``(run, row or None, message)`` so that one failure stops no other run."""
    run, options = job
    if time.time() > options.latest_start:
        return run, None, "skipped: time budget spent"
    try:
        return run, run_row(run, options), "ok"
    except Exception:  # noqa: BLE001 - reported, and the remaining runs go on
        return run, None, "failed:\n" + traceback.format_exc(limit=3)


def seeds_cell(values: pd.Series, digits: int = 3, one_seed: str = "") -> str:
    """A results-table cell of one score over seeds: ``mean ± std`` (sample std), a single value followed by
    ``one_seed``, "–" for none (missing values left out)."""
    values = values.dropna()
    if values.empty:
        return "–"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}{one_seed}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def append_rows(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> None:
    """Append rows (writing the header to a new file), flushed at once so partial results survive a kill."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def existing_columns(path: Path) -> tuple[str, ...] | None:
    """The header of the CSV at ``path``, or None if there is no such file yet (or it is empty)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, newline="") as f:
        return tuple(next(csv.reader(f)))


def plan(settings: list[str], horizons: list[int], models: list[str], seeds: list[int]) -> list[Run]:
    """Runs in priority order: horizon, then seed, then setting, then model, so that a budget cut short still
    leaves every model of the first horizons with at least one seed."""
    return [Run(s, h, m, seed) for h in horizons for seed in seeds for s in settings for m in models]


def execute(runs: list[Run], options: Options, out: Path, jobs: int, deadline: float) -> int:
    """Run everything (``jobs`` processes), append rows as they finish; return the number of failed runs."""
    failed = 0

    def record(run: Run, row: dict[str, Any] | None, message: str) -> None:
        nonlocal failed
        if row is not None:
            append_rows(out, [row])
        failed += message.startswith("failed")
        print(f"[{time.strftime('%H:%M:%S')}] {run.setting} H={run.horizon} {run.model} seed={run.seed}: "
              f"{'mse=' + row['mse'] + ' mae=' + row['mae'] + ' epochs=' + str(row['epochs']) if row else message}",
              flush=True)

    if jobs == 1:
        for run in runs:
            record(*attempt((run, options)))
        return failed
    # spawn: every worker starts clean (no forked CUDA context); each imports torch once and runs many jobs.
    pool = multiprocessing.get_context("spawn").Pool(jobs)
    results = pool.imap_unordered(attempt, [(run, options) for run in runs])
    try:
        for _ in runs:
            timeout = None if math.isinf(deadline) else max(1.0, deadline - time.time())
            record(*results.next(timeout=timeout))
    except multiprocessing.TimeoutError:
        print("time budget spent: stopping the runs still in flight", flush=True)
    finally:
        pool.terminate()
        pool.join()
    return failed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=default_data_path(),
                        help="ETT-format CSV (default: $TSBRIDGE_DATA_DIR/ETTh1.csv or ../shared/data/ett/ETTh1.csv)")
    parser.add_argument("--setting", nargs="+", choices=("M", "S"), default=["M"],
                        help="M: 7 channels -> 7 channels; S: OT -> OT")
    parser.add_argument("--lookback", type=int, default=None,
                        help="look-back L (default: the experiment's, 96 for etth1_bridges, 720 for segrnn_etth1_720)")
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=None,
                        help="CSV to append rows to (default: benchmarks/results/<dataset>.csv)")
    parser.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu or auto")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (e.g. 12 on a GPU box)")
    parser.add_argument("--side-by-side", type=int, default=1, metavar="N",
                        help="other invocations running at the same time on this machine, counted in the rows' "
                             "`machine` label (times depend on it)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: cores / jobs)")
    parser.add_argument("--time-budget", type=float, default=None,
                        help="seconds after which runs in flight are stopped; rows already written stay")
    parser.add_argument("--min-run-seconds", type=float, default=60.0,
                        help="with --time-budget: no run starts with less than this left")
    parser.add_argument("--override", nargs="+", default=[], metavar="KEY=VALUE",
                        help="Hydra overrides of a variant, applied to every run and recorded in the CSV's "
                             "`overrides` column (e.g. module.optimizer.lr=0.0003); rendered apart from the defaults")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT,
                        help="conf/experiment/ every run composes (e.g. segrnn_etth1, segrnn_etth1_720, segrnn_ettm1, "
                             "segrnn_ettm1_720: SegRNN's official settings for that file, which --data must be); "
                             "recorded in the `overrides` column when not the default")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (meaningless scores)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.data).is_file():
        sys.exit(f"accuracy.py: no data file at {args.data!r}; pass --data PATH or set TSBRIDGE_DATA_DIR")
    check_experiment_data(args.experiment, args.data)
    if args.out is None:
        args.out = REPO / "benchmarks" / "results" / f"{dataset_name(args.data).lower()}.csv"
    columns = existing_columns(args.out)
    if columns not in (None, COLUMNS):
        sys.exit(f"accuracy.py: {args.out} has the columns {columns}, not {COLUMNS}; pass a new --out file")
    budget = float("inf") if args.time_budget is None else args.time_budget
    deadline = time.time() + budget
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    options = Options(data=str(Path(args.data).resolve()), lookback=args.lookback, accelerator=args.accelerator,
                      quick=args.quick, threads=threads, jobs=args.jobs, at_once=max(args.jobs, args.side_by_side),
                      latest_start=deadline - min(args.min_run_seconds, budget), overrides=tuple(args.override),
                      experiment=args.experiment)
    runs = plan(args.setting, args.horizons, args.models, args.seeds)
    print(f"{len(runs)} runs, {args.jobs} at a time, {threads} threads each; rows -> {args.out}", flush=True)
    failed = execute(runs, options, args.out, args.jobs, deadline)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
