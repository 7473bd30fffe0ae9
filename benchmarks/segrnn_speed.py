"""Training-step time of tsbridge's ``model=segrnn`` against SegRNN's own model, on the same batches and threads.

The official model is imported from a checkout of lss-1138/SegRNN that you name (it is not part of tsbridge):

    git clone https://github.com/lss-1138/SegRNN /tmp/SegRNN
    python benchmarks/segrnn_speed.py --segrnn-repo /tmp/SegRNN --lookback 720 --batch-size 64 --threads 2

Each repeat times ``--steps`` Adam steps (forward, MSE, backward, step) of one model, then of the other, in
alternating order, so a machine whose load changes affects both alike; the report is the median time per step of
each and the median of the per-repeat ratios. Both nets are built from the same seed, with the official L=720
settings by default (d_model 512, segments of 24, dropout 0.1, GRU, PMF, channel embeddings): the forward passes
are identical, so the time measures the implementation, not the model. An epoch of ETTh1's training part at
L=720, H=96 and batch 64 is 122 steps (7,825 windows; SegRNN drops the last partial batch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

import torch


def official_model(repo: Path, lookback: int, horizon: int, channels: int, dropout: float) -> torch.nn.Module:
    """``models/SegRNN.py``'s ``Model`` from the checkout ``repo``, with the official ETTh1 settings."""
    if not (repo / "models" / "SegRNN.py").is_file():
        sys.exit(f"segrnn_speed.py: no models/SegRNN.py under {repo}; pass --segrnn-repo <checkout of lss-1138/SegRNN>")
    sys.path.insert(0, str(repo))
    from models.SegRNN import Model  # noqa: PLC0415 - the user's checkout, imported on request

    configs = types.SimpleNamespace(seq_len=lookback, pred_len=horizon, enc_in=channels, d_model=512, dropout=dropout,
                                    rnn_type="gru", dec_way="pmf", seg_len=24, channel_id=1, revin=0)
    return Model(configs)


def seconds_per_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                     steps: int) -> float:
    """Mean seconds per training step over ``steps`` steps (the caller takes medians over repeats)."""
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segrnn-repo", type=Path, required=True, help="a checkout of lss-1138/SegRNN")
    parser.add_argument("--lookback", type=int, default=720)
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timing")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timings of each model")
    args = parser.parse_args(argv)

    from tsbridge.models import build_model

    torch.set_num_threads(args.threads)
    channels = 7
    torch.manual_seed(0)
    official = official_model(args.segrnn_repo, args.lookback, args.horizon, channels, args.dropout)
    torch.manual_seed(0)
    ours = build_model("segrnn", channels, channels, args.lookback, args.horizon, dropout=args.dropout)
    nets = {"tsbridge segrnn": ours, "official SegRNN": official}
    optimizers = {name: torch.optim.Adam(net.parameters(), lr=3e-4) for name, net in nets.items()}
    x, y = torch.randn(args.batch_size, args.lookback, channels), torch.randn(args.batch_size, args.horizon, channels)
    for name, net in nets.items():  # warm-up: allocator and kernels
        seconds_per_step(net, optimizers[name], x, y, 1)
    times: dict[str, list[float]] = {name: [] for name in nets}
    for repeat in range(args.repeats):
        order = list(nets) if repeat % 2 == 0 else list(reversed(nets))
        for name in order:
            times[name].append(seconds_per_step(nets[name], optimizers[name], x, y, args.steps))
    ratios = [ours_time / official_time for ours_time, official_time in zip(*times.values())]
    print(f"L={args.lookback} H={args.horizon} batch {args.batch_size}, {args.threads} thread(s), "
          f"{args.repeats} x {args.steps} steps each, alternating")
    for name, values in times.items():
        print(f"  {name}: {statistics.median(values) * 1000:.0f} ms/step (median)")
    print(f"  ratio tsbridge / official: {statistics.median(ratios):.3f} (median of {len(ratios)} pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
