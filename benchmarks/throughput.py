"""Speed and memory of the tsbridge path against a plain hand-written PyTorch loop, in one process.

Training: windows/s in steady state of ``WindowDataModule`` + ``ForecastModule`` + ``lightning.Trainer`` (built by
``tsbridge.config`` from ``experiment=etth1_bridges``, with its progress bar, BlendWeightMonitor and CSV logger)
against a loop over pre-built window tensors already on the device, with the same net, batch size, optimiser
groups and gradient clipping. Inference: ``trainer.predict`` over the test windows against the plain loop's batched
forward. Repetitions are interleaved (A B A B ...) and the median ratio is reported, because this kind of machine
drifts between and within processes. Data memory (``throughput_report.py``): a fresh process builds the data module
of a long series.
Panels (``--measures panel``, ``throughput_panel.py``, not run by default): data memory, training windows/s and one
``Forecaster.predict`` call over synthetic panels of 1k to 100k series, into the ``## Scale`` section of
``results/panels.md``.

Examples::

    python benchmarks/throughput.py                          # CPU section of benchmarks/results/throughput.md
    python benchmarks/throughput.py --device cuda --bf16 --append  # add a GPU section
    python benchmarks/throughput.py --quick --out /tmp/throughput.md  # seconds, for the test suite
    python benchmarks/throughput.py --threads 1 --measures panel     # 1k/10k/100k series: results/panels.md
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from tsbridge.config import build_callbacks, build_datamodule, build_module, build_trainer, compose_config, net_config
from tsbridge.fitting import fit
from tsbridge.models import build_model, build_net

# benchmarks/ is these scripts' import root
from throughput_panel import measure_panels, scale_section, write_section
from throughput_report import machine, measure_data_memory, report

REPO = Path(__file__).resolve().parents[1]
ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
MEASURES = ("train", "infer", "forecaster", "memory", "segments")
PANEL = "panel"  # not among the defaults: it runs for tens of minutes and writes results/panels.md
ETT_HOURLY_ROWS = 17_420  # the shape of ETTh1; the values do not change the speed
QUICK_ROWS = 2_000  # --quick: a short frame split by ratios, so every measure takes a fraction of a second


def ett_shaped_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Random walks plus a daily cycle in ETTh1's columns, hourly from 2016-07-01 (no data file needed)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(rows)[:, None]
    values = rng.normal(size=(rows, len(ETT_COLUMNS))).cumsum(0) * 0.1 + np.sin(2 * np.pi * steps / 24)
    frame = pd.DataFrame(values.astype(np.float32), columns=ETT_COLUMNS)
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=rows, freq="h"))
    return frame


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class SteadyStateTimer(L.Callback):
    """Times optimizer steps ``warmup`` .. ``warmup + steps`` (data loading between them included)."""

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.started = self.seconds = None

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.warmup:
            synchronize(self.device)
            self.started = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.warmup + self.steps:
            synchronize(self.device)
            self.seconds = time.perf_counter() - self.started


class Bench:
    """The shared setup of both paths: config, data module, pre-built window tensors."""

    def __init__(self, args: argparse.Namespace, workdir: str) -> None:
        self.args, self.device = args, torch.device(args.device)
        overrides = ["experiment=etth1_bridges", f"model={args.model}", f"data.batch_size={args.batch_size}",
                     f"data.lookback={args.lookback}", f"data.horizon={args.horizon}", f"paths.output_dir={workdir}",
                     f"trainer.accelerator={'gpu' if self.device.type == 'cuda' else 'cpu'}",
                     f"trainer.precision={'bf16-mixed' if args.bf16 else '32-true'}", "logger=csv",
                     "trainer.enable_model_summary=false", *args.override]
        self.overrides, self.workdir = overrides, workdir
        self.cfg = compose_config(overrides)
        self.frame = ett_shaped_frame(QUICK_ROWS if args.quick else ETT_HOURLY_ROWS)
        self.datamodule = build_datamodule(self.cfg, frame=self.frame)
        self.datamodule.setup()
        self.train_x, self.train_y = self._windows(self.datamodule.train_dataset)
        self.test_x, _ = self._windows(self.datamodule.test_dataset)

    def _windows(self, dataset: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """All windows of a split as two tensors on the device: x (N, L, C), y (N, H, T)."""
        (series,) = dataset.values
        span = self.args.lookback + self.args.horizon
        windows = series.unfold(0, span, 1).transpose(1, 2)  # (rows - span + 1, span, C)
        chosen = windows[dataset.index.pairs()[:, 1]]  # (N, span, C), copied once
        x, y = chosen[:, : self.args.lookback], chosen[:, self.args.lookback :, : dataset.n_targets]
        return x.contiguous().to(self.device), y.contiguous().to(self.device)

    def new_module(self) -> L.LightningModule:
        L.seed_everything(0, verbose=False)
        return build_module(self.cfg, self.datamodule)

    def trainer(self, **overrides: object) -> L.Trainer:
        """The configured trainer without checkpointing and early stopping (they act only at validation, off here)."""
        callbacks = [c for c in build_callbacks(self.cfg) if not isinstance(c, (ModelCheckpoint, EarlyStopping))]
        return build_trainer(self.cfg, callbacks=callbacks, enable_checkpointing=False, num_sanity_val_steps=0,
                             limit_val_batches=0, **overrides)

    def autocast(self) -> object:
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.args.bf16 else nullcontext()

    # ------------------------------------------------------------------ training
    def train_tsbridge(self) -> float:
        """Steady-state windows/s of training through tsbridge's one fit path (:func:`tsbridge.fitting.fit`)."""
        timer = SteadyStateTimer(self.args.warmup, self.args.steps, self.device)
        cfg = compose_config([*self.overrides, "callbacks=none", "test=false"])
        fit(cfg, self.frame, callbacks=[timer], trainer_kwargs={
            "max_steps": self.args.warmup + self.args.steps, "max_epochs": -1, "enable_checkpointing": False,
            "num_sanity_val_steps": 0, "limit_val_batches": 0})
        return self.args.steps * self.args.batch_size / timer.seconds

    def train_plain(self) -> float:
        torch.manual_seed(0)
        net = build_net(net_config(self.cfg, self.datamodule)).to(self.device).train()
        blend_ids = {id(p) for p in net.blend_parameters()}
        groups = [{"params": [p for p in net.parameters() if id(p) not in blend_ids]}]
        if blend_ids:
            groups.append({"params": net.blend_parameters(), "lr": self.cfg.module.blend_lr})
        optimizer = torch.optim.Adam(groups, lr=self.cfg.module.optimizer.lr)
        n, batch = len(self.train_x), self.args.batch_size
        order, position = torch.randperm(n, device=self.device), 0
        for step in range(self.args.warmup + self.args.steps):
            if step == self.args.warmup:
                synchronize(self.device)
                started = time.perf_counter()
            if position + batch > n:
                order, position = torch.randperm(n, device=self.device), 0
            index = order[position : position + batch]
            position += batch
            with self.autocast():
                loss = torch.nn.functional.mse_loss(net(self.train_x[index]).float(), self.train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.cfg.trainer.gradient_clip_val)
            optimizer.step()
        synchronize(self.device)
        return self.args.steps * batch / (time.perf_counter() - started)

    # ------------------------------------------------------------------ inference
    def predict_tsbridge(self, module: L.LightningModule, trainer: L.Trainer) -> float:
        synchronize(self.device)
        started = time.perf_counter()
        trainer.predict(module, datamodule=self.datamodule, return_predictions=True)
        synchronize(self.device)
        return len(self.test_x) / (time.perf_counter() - started)

    def predict_plain(self, net: torch.nn.Module) -> float:
        synchronize(self.device)
        started = time.perf_counter()
        batch = self.datamodule.eval_batch_size  # as trainer.predict and Forecaster batch the same windows
        with torch.inference_mode(), self.autocast():
            outputs = [net(self.test_x[i : i + batch]) for i in range(0, len(self.test_x), batch)]
        torch.cat(outputs)
        synchronize(self.device)
        return len(self.test_x) / (time.perf_counter() - started)


    # ------------------------------------------------------------------ notebook API
    def fitted_forecaster(self) -> object:
        """A :class:`tsbridge.Forecaster` of the same config, fitted on two batches (only speed is measured)."""
        from tsbridge import Forecaster

        forecaster = Forecaster.from_config(self.overrides, work_dir=self.workdir)
        forecaster.fit(self.frame, target="OT", time_col="date", features="M", max_epochs=1, logger=False,
                       trainer_kwargs={"limit_train_batches": 2, "limit_val_batches": 1})
        forecaster.module.to(self.device)  # fit hands it back on the CPU
        return forecaster

    def backtest_forecaster(self, forecaster: object) -> float:
        """Windows/s of ``Forecaster.backtest`` from the test split's origins (as many as test windows)."""
        test_end = self.datamodule.row_ranges[0]["test"][1]  # rows after the test split are unused
        synchronize(self.device)
        started = time.perf_counter()
        forecaster.backtest(self.frame.iloc[:test_end], start=test_end - len(self.test_x) - self.args.horizon)
        synchronize(self.device)
        return len(self.test_x) / (time.perf_counter() - started)

    def predict_forecaster(self, forecaster: object) -> float:
        """Calls/s of ``Forecaster.predict()`` (one window: the end of the training frame)."""
        synchronize(self.device)
        started = time.perf_counter()
        forecaster.predict()
        synchronize(self.device)
        return 1 / (time.perf_counter() - started)

    def predict_one_plain(self, net: torch.nn.Module) -> float:
        synchronize(self.device)
        started = time.perf_counter()
        with torch.inference_mode(), self.autocast():
            net(self.test_x[-1:])
        synchronize(self.device)
        return 1 / (time.perf_counter() - started)


def segment_epochs(args: argparse.Namespace, repeats: int) -> dict[str, object]:
    """Issue 13's cost check: training epochs/s on ETTh1 of the blend bridge read as 30 segments of 24 steps at
    L=720 against the per-step bridge at L=96, same hidden size, setting M channel-independent, one plain training
    loop over random windows (only the shapes matter). The ratio is per-step epoch time over segment epoch time."""
    hidden = 8 if args.quick else 64
    windows = {720: 8640 - 720 - args.horizon + 1, 96: 8640 - 96 - args.horizon + 1}  # ett-hourly training windows

    def epochs_per_second(lookback: int, segment_length: int) -> callable:
        torch.manual_seed(0)
        net = build_model("blend", 7, 7, lookback, args.horizon, hidden_size=hidden, channel_independent=True,
                          segment_length=segment_length, head="pmf" if segment_length > 1 else "last")
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        x, y = torch.randn(args.batch_size, lookback, 7), torch.randn(args.batch_size, args.horizon, 7)

        def run() -> float:
            for step in range(args.warmup + args.steps):
                if step == args.warmup:
                    started = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                torch.nn.functional.mse_loss(net(x), y).backward()
                optimizer.step()
            return args.steps * args.batch_size / (time.perf_counter() - started) / windows[lookback]
        return run

    result = interleaved(epochs_per_second(720, 24), epochs_per_second(96, 1), repeats)
    return {**result, "hidden_size": hidden}


def interleaved(first: callable, second: callable, repeats: int) -> dict[str, float]:
    """Run A B A B ...; the median of A/B over the pairs, and each side's median windows/s."""
    pairs = [(first(), second()) for _ in range(repeats)]
    return {"tsbridge": statistics.median(a for a, _ in pairs), "plain": statistics.median(b for _, b in pairs),
            "ratio": statistics.median(a / b for a, b in pairs), "ratios": [round(a / b, 3) for a, b in pairs]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast in both paths (bf16-mixed in Lightning)")
    parser.add_argument("--model", default="blend")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lookback", type=int, default=96)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved pairs (A B) per measure")
    parser.add_argument("--memory-rows", type=int, default=10_000_000, help="0 skips the data-memory check")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides, e.g. model.hidden_size=32")
    parser.add_argument("--measures", nargs="+", choices=(*MEASURES, PANEL), default=list(MEASURES))
    parser.add_argument("--panel-sizes", nargs="+", type=int, default=[1_000, 10_000, 100_000],
                        help="--measures panel: series per panel, the first the reference rate")
    parser.add_argument("--panel-batches", type=int, default=200,
                        help="--measures panel: timed training batches (after --warmup), the epoch cut there")
    parser.add_argument("--panel-out", type=Path, default=REPO / "benchmarks" / "results" / "panels.md",
                        help="--measures panel: the file whose '## Scale' section is replaced")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "throughput.md")
    parser.add_argument("--append", action="store_true", help="add this run's section to --out (one per machine)")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.steps, args.repeats, args.memory_rows = 2, 4, 2, min(args.memory_rows, 50_000)
        args.lookback, args.horizon = 24, 12
        args.override = ["model.hidden_size=8", "data.split=[0.7,0.1,0.2]", *args.override]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if PANEL in args.measures:
        results = measure_panels(args.panel_sizes, args.warmup, args.panel_batches, torch.get_num_threads())
        section = scale_section(results, args, machine(torch.device("cpu")))
        args.panel_out.parent.mkdir(parents=True, exist_ok=True)
        write_section(args.panel_out, section)
        print(section)
        if args.measures == [PANEL]:
            return 0
    measured: dict[str, object] = {}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    earlier = args.out.read_text() + "\n" if args.append and args.out.exists() else ""

    def keep(name: str, value: object) -> None:  # each figure is written as soon as it exists
        measured[name] = value
        args.out.write_text(earlier + report(args, **described, **measured))

    with tempfile.TemporaryDirectory(prefix="tsbridge-throughput-") as workdir:
        bench = Bench(args, workdir)
        described = {"device": bench.device, "test_windows": len(bench.test_x),
                     "eval_batch_size": bench.datamodule.eval_batch_size,
                     "parameters": sum(p.numel() for p in bench.new_module().parameters())}
        if "train" in args.measures:
            keep("train", interleaved(bench.train_tsbridge, bench.train_plain, args.repeats))
        module = bench.new_module().eval()
        # Lightning hands the module back on the CPU after each predict, so the plain loop keeps its own copy.
        net = copy.deepcopy(module.net).to(bench.device).eval()
        if "infer" in args.measures:
            trainer = bench.trainer()
            keep("infer", interleaved(lambda: bench.predict_tsbridge(module, trainer),
                                      lambda: bench.predict_plain(net), args.repeats))
        if "forecaster" in args.measures:
            forecaster = bench.fitted_forecaster()
            keep("backtest", interleaved(lambda: bench.backtest_forecaster(forecaster),
                                         lambda: bench.predict_plain(net), args.repeats))
            keep("predict", interleaved(lambda: bench.predict_forecaster(forecaster),
                                        lambda: bench.predict_one_plain(net), args.repeats))
    if "segments" in args.measures:
        keep("segments", segment_epochs(args, args.repeats))
    if "memory" in args.measures and args.memory_rows:
        keep("memory", measure_data_memory(args.memory_rows, 8, 48 if args.quick else 512))
    print(report(args, **described, **measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
