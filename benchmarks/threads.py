"""Does more than one intra-op thread help tsbridge's small models, on an idle and on a busy machine? (issue 22)

Times the training part of the default run (``tsbridge-train``'s defaults: blend bridge, synthetic data) for a fixed
number of batches with torch's CPU threads set to 1, to every core, and to ``threads: auto`` (the cores the load
average leaves free, :mod:`tsbridge.threads`), interleaved (1, all, auto, 1, all, auto ...) so drift hits every
setting alike, and reports the median seconds and the ratio to one thread. The machine's state is recorded as the
1-minute load average before each run: run it once on an idle machine and once with other jobs running (or with
``--busy N``, which starts N single-thread busy loops for the duration: the situation of issue 22's 80x trap).

    python benchmarks/threads.py --append                   # idle machine: a section of results/throughput.md
    python benchmarks/threads.py --busy 2 --append          # two cores kept busy by spinning processes
    python benchmarks/threads.py --batches 3 --repeats 1 --out /tmp/threads.md   # seconds, for the test suite
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path


RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def spin() -> None:
    """Keep one core busy until terminated."""
    while True:
        pass


def fit_seconds(threads: str | int, batches: int) -> float:
    """Seconds of ``trainer.fit`` for ``batches`` training batches of the default run, with ``threads``."""
    from tsbridge.config import compose_config
    from tsbridge.fitting import fit
    from tsbridge.quiet import quiet_fit

    overrides = [f"threads={threads}", "trainer.max_epochs=1", f"trainer.limit_train_batches={batches}",
                 "trainer.limit_val_batches=2", "test=false", "forecast=false"]
    with tempfile.TemporaryDirectory(prefix="tsbridge-threads-") as folder:
        cfg = compose_config(overrides)
        cfg.paths.output_dir = folder
        with quiet_fit(progress=False):
            quiet = {"enable_progress_bar": False, "enable_model_summary": False}
            return fit(cfg, logger=False, trainer_kwargs=quiet).fit_seconds


def measure(batches: int, repeats: int) -> list[dict[str, object]]:
    from tsbridge.threads import resolve_threads

    settings: list[str | int] = [1, os.cpu_count() or 1, "auto"]
    rows = []
    for repeat in range(repeats):
        for setting in settings:
            load = os.getloadavg()[0]
            used = resolve_threads(setting)  # what the fit is about to choose, for auto
            rows.append({"threads": str(setting), "repeat": repeat, "load": load, "used": used,
                         "seconds": fit_seconds(setting, batches)})
            print(f"threads={setting} ({used} used) repeat={repeat}: {rows[-1]['seconds']:.1f} s (load {load:.1f})",
                  flush=True)
    return rows


def render(rows: list[dict[str, object]], batches: int, busy: int) -> str:
    by_setting: dict[str, list[float]] = {}
    used: dict[str, list[str]] = {}
    for row in rows:
        by_setting.setdefault(str(row["threads"]), []).append(float(row["seconds"]))
        used.setdefault(str(row["threads"]), []).append(str(row["used"]))
    one = statistics.median(by_setting["1"])
    loads = [float(row["load"]) for row in rows]
    cores = os.cpu_count() or 1
    cause = f", {busy} cores kept busy by spinning processes" if busy else ""
    # The load average counts this process too, and trails the machine by about a minute.
    lines = [f"### Threads at a 1-minute load average of {min(loads):.1f}-{max(loads):.1f} "
             f"(this process included{cause})",
             "",
             f"`python benchmarks/threads.py{f' --busy {busy}' if busy else ''} --batches {batches}`: training time "
             f"of {batches} batches of the default run, median of {len(by_setting['1'])} interleaved repetitions, "
             f"{cores} cores.", "",
             "| torch threads | threads used, run by run | seconds | against 1 thread |", "|---|---|---|---|"]
    for setting, seconds in by_setting.items():
        label = {"auto": "auto (threads: auto, the default)", "1": "1"}.get(setting, f"{setting} (every core)")
        lines.append(f"| {label} | {', '.join(used[setting])} | {statistics.median(seconds):.1f} "
                     f"| {statistics.median(seconds) / one:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="single-thread busy loops kept running meanwhile")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.md")
    parser.add_argument("--append", action="store_true", help="append the section to --out instead of replacing it")
    args = parser.parse_args(argv)
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for process in spinners:
        process.start()
    try:
        if spinners:
            time.sleep(5)  # let the load average see them
        rows = measure(args.batches, args.repeats)
    finally:
        for process in spinners:
            process.terminate()
    section = render(rows, args.batches, args.busy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a" if args.append else "w") as out:
        out.write(("\n" if args.append else "") + section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
