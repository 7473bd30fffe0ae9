"""Markdown section and data-memory check of ``benchmarks/throughput.py`` (kept apart to keep both files short)."""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import psutil
import torch

from tsbridge.data import WindowDataModule


def data_memory(rows: int, channels: int, lookback: int, queue: multiprocessing.Queue) -> None:
    """In a fresh process: RSS growth while building a data module over a (rows, channels) float32 series."""
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(rows, channels)).astype(np.float32),
                         columns=[f"c{i}" for i in range(channels)])
    process = psutil.Process()
    before, peak_before = process.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    datamodule = WindowDataModule(frame, target_cols="c0", features="MS", lookback=lookback, horizon=96,
                                  split=(0.7, 0.1, 0.2), scaler="standard")
    datamodule.setup()
    retained = process.memory_info().rss - before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    queue.put({"rows": rows, "channels": channels, "lookback": lookback, "raw": rows * channels * 4,
               "retained": retained, "peak_growth": max(peak, retained)})


def measure_data_memory(rows: int, channels: int, lookback: int) -> dict[str, int]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=data_memory, args=(rows, channels, lookback, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def machine(device: torch.device) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    text = (f"{cpu}, {psutil.cpu_count()} cores visible, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM; "
            f"Python {platform.python_version()}, torch {torch.__version__}, lightning {L.__version__}")
    if device.type == "cuda":
        text += f"; GPU {torch.cuda.get_device_name(device)} (cuDNN {torch.backends.cudnn.version()})"
    return text


SPEED_ROWS = {
    "train": "training, steady state",
    "infer": "inference (`trainer.predict` vs batched forward)",
    "backtest": "`Forecaster.backtest` over the test origins vs batched forward",
    "predict": "`Forecaster.predict()`, one window, calls/s vs one forward",
}


def report(args: argparse.Namespace, device: torch.device, parameters: int, test_windows: int,
           eval_batch_size: int, **measured: object) -> str:
    """The Markdown section of one run of ``benchmarks/throughput.py``, from whatever is measured so far (keys of
    :data:`SPEED_ROWS`, ``memory``); ``parameters``, ``test_windows`` and ``eval_batch_size`` describe the net
    and the inference set."""
    mb = 2**20
    rows = ["| measure | tsbridge (windows/s) | plain loop (windows/s) | median ratio | ratios per pair |",
            "|---|---|---|---|---|"]
    for key, name in SPEED_ROWS.items():
        if key in measured:
            value = measured[key]
            rows.append(f"| {name} | {value['tsbridge']:.0f} | {value['plain']:.0f} | **{value['ratio']:.2f}** | "
                        f"{value['ratios']} |")
    lines = [
        f"## {args.device}{' bf16' if args.bf16 else ''}: {args.model}, B={args.batch_size}, L={args.lookback}, "
        f"H={args.horizon}{' (quick: meaningless numbers)' if args.quick else ''}", "",
        f"Machine: {machine(device)}.", "",
        f"Command: `python benchmarks/throughput.py {' '.join(sys.argv[1:])}`", "",
        f"Net: `model={args.model}` of `experiment=etth1_bridges` (setting M, channel-independent), "
        f"{parameters} parameters; {args.steps} timed steps after "
        f"{args.warmup} warm-up steps, {args.repeats} interleaved pairs; inference over the {test_windows} "
        f"test windows in batches of {eval_batch_size} (`data.eval_batch_size`, both paths).", "",
        *(rows + [""] if len(rows) > 2 else []),
        f"Peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / mb:.0f} MiB.",
    ]
    if "segments" in measured:
        segments = measured["segments"]
        lines += ["", f"Segment recurrence (issue 13), blend bridge, hidden size {segments['hidden_size']}, setting M "
                  f"channel-independent, B={args.batch_size}: a training epoch of ETTh1 at L=720 read as 30 segments "
                  f"of 24 steps (head `pmf`) runs {segments['tsbridge']:.3f} epochs/s, the per-step bridge at L=96 "
                  f"{segments['plain']:.3f}: the L=720 segment epoch costs **{1 / segments['ratio']:.2f}x** the "
                  f"L=96 per-step one (median of the pairs {segments['ratios']}, as per-step over segment)."]
    if "memory" in measured:
        memory = measured["memory"]
        raw = memory["raw"]
        lines += ["", f"Data memory, a {memory['rows']:,}-row x {memory['channels']}-channel float32 series, "
                  f"L={memory['lookback']} (fresh process, data module built and set up): raw {raw / mb:.0f} MiB, "
                  f"retained {memory['retained'] / mb:.0f} MiB (**{memory['retained'] / raw:.2f}x** raw), "
                  f"peak growth {memory['peak_growth'] / mb:.0f} MiB ({memory['peak_growth'] / raw:.2f}x)."]
    return "\n".join(lines) + "\n"
