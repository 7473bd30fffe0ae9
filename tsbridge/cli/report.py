"""``tsbridge-report``: one table of every ``tsbridge-train`` run under a folder (a multirun sweep, or outputs/).

Examples::

    tsbridge-report multirun/train/<date>                     # sorted by test/mse
    tsbridge-report multirun/train/<date> --metric val/loss --out reports/

Writes ``report.csv`` (every metric), ``report.md`` (the main columns) and ``past_weights.png`` (the learned
past weight of each run that has a blend bridge) into ``--out`` (default: the folder itself).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from tsbridge.plotting import show_figures_in_jupyter

# Config entries worth a column of their own (dotted paths into the run's resolved config).
HYPERPARAMETERS = {
    "seed": "seed",
    "data": "data.frame.name",
    "lookback": "data.lookback",
    "horizon": "data.horizon",
    "hidden_size": "model.hidden_size",
    "dropout": "model.dropout",
    "lr": "module.optimizer.lr",
}
# Columns of the printed and Markdown tables (the CSV holds every metric), when present.
MAIN_COLUMNS = [
    "run", "model", "overrides", "val/loss", "test/mse", "test/mae", "test_original/mae",
    "past_weight", "past_share", "importance/past", "importance/future", "epochs", "fit_seconds",
]
# The tested weights' mean past weight on the validation windows (metrics.json "readouts").
PAST_WEIGHT = "blend/past_weight"


def _lookup(config: dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _overrides(run_dir: Path) -> list[str]:
    """The command-line overrides Hydra recorded for the run (empty when it kept no .hydra folder)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    return [str(override) for override in OmegaConf.load(path)]


def _row(metrics_path: Path, root: Path) -> dict[str, Any] | None:
    """The report row of one run; None (with a line naming the file) for a truncated or damaged metrics.json."""
    try:
        summary = json.loads(metrics_path.read_text())
    except (ValueError, UnicodeDecodeError) as error:  # a run killed while writing it
        print(f"tsbridge-report: skipped {metrics_path}: not readable JSON ({error})", file=sys.stderr)
        return None
    if not isinstance(summary, dict):
        print(f"tsbridge-report: skipped {metrics_path}: not a tsbridge-train metrics.json", file=sys.stderr)
        return None
    config = summary.get("config", {})
    readouts = summary.get("readouts", {})
    row: dict[str, Any] = {"run": str(metrics_path.parent.relative_to(root)), "model": summary.get("model")}
    row["overrides"] = _overrides(metrics_path.parent)
    row.update({name: _lookup(config, path) for name, path in HYPERPARAMETERS.items()})
    row.update(summary.get("val", {}))
    row.update(summary.get("test", {}))
    row["past_weight"] = readouts.get(PAST_WEIGHT)
    row["past_share"] = readouts.get("blend/past_share")
    row.update({k: v for k, v in readouts.items() if k.startswith(("importance/", "attention/"))})
    row.update({key: summary.get(key) for key in ("epochs", "fit_seconds", "best_checkpoint")})
    return row


def collect_runs(root: str | Path, metric: str = "test/mse", descending: bool = False) -> pd.DataFrame:
    """One row per ``metrics.json`` under ``root``, sorted by ``metric`` (runs without it last); unreadable ones
    are skipped with a line naming them.

    ``overrides`` keeps only the overrides that differ between runs (all of them for a single run), so a sweep's
    table shows what was swept.
    """
    root = Path(root)
    paths = sorted(root.rglob("metrics.json"))
    if not paths:
        raise FileNotFoundError(f"no metrics.json under {str(root)!r}")
    rows = [row for row in (_row(path, root) for path in paths) if row is not None]
    if not rows:
        raise ValueError(f"no readable metrics.json under {str(root)!r} (skipped {len(paths)}, named above)")
    shared = set.intersection(*(set(row["overrides"]) for row in rows)) if len(rows) > 1 else set()
    for row in rows:
        row["overrides"] = " ".join(o for o in row["overrides"] if o not in shared)
    table = pd.DataFrame(rows)
    if metric not in table.columns:
        raise ValueError(f"no run has metric {metric!r}; metrics found: {sorted(c for c in table if '/' in c)}")
    return table.sort_values(metric, ascending=not descending, na_position="last", kind="stable").reset_index(drop=True)


def to_markdown(table: pd.DataFrame, float_format: str = "{:.4f}") -> str:
    """A GitHub Markdown table (pandas' own needs the optional `tabulate` package)."""
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        text = float_format.format(value) if isinstance(value, float) else str(value)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def plot_past_weights(table: pd.DataFrame) -> Figure | None:
    """Horizontal bars of each run's learned past weight; runs without a blend bridge are named under the bars."""
    runs = table.dropna(subset=["past_weight"])
    if runs.empty:
        return None
    left_out = table[table["past_weight"].isna()]
    show_figures_in_jupyter()
    labels = [f"{row.run}: {row.model} {row.overrides}".strip() for row in runs.itertuples()]
    figure = Figure(figsize=(8, 1.2 + 0.4 * len(runs)))
    axis = figure.subplots()
    positions = range(len(runs))
    bars = axis.barh(positions, runs["past_weight"], color="tab:blue")
    axis.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
    axis.axvline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axis.set_yticks(list(positions), labels, fontsize=8)
    axis.invert_yaxis()  # the table's order, best run on top
    axis.set_xlim(0, 1)
    axis.set_xlabel("learned past weight (1 - future weight)")
    axis.set_title("Past-versus-future blend weight per run")
    if not left_out.empty:
        models = ", ".join(sorted(set(map(str, left_out["model"]))))
        figure.text(0.01, 0.01, f"{len(left_out)} of {len(table)} runs not shown: no blend bridge ({models})",
                    fontsize=8, color="dimgrey")
        figure.tight_layout(rect=(0, 0.05, 1, 1))
    else:
        figure.tight_layout()
    return figure


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``tsbridge-report``."""
    parser = argparse.ArgumentParser(
        prog="tsbridge-report",
        description="Collect every metrics.json under DIRECTORY (a multirun sweep, or outputs/) into one table "
        "sorted by a metric; print it and write report.csv, report.md and past_weights.png.",
        epilog="example: tsbridge-report multirun/train/<date> --metric val/loss",
    )
    parser.add_argument("directory", type=Path, help="folder searched recursively for metrics.json")
    parser.add_argument("--metric", default="test/mse", help="metric to sort by (default: %(default)s)")
    parser.add_argument("--descending", action="store_true", help="largest first (for metrics where higher is better)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the report files (default: DIRECTORY)")
    args = parser.parse_args(argv)
    try:
        table = collect_runs(args.directory, args.metric, args.descending)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    out = args.out or args.directory
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "report.csv", index=False)
    main_table = table[[c for c in MAIN_COLUMNS if c in table.columns]]
    (out / "report.md").write_text(to_markdown(main_table))
    figure = plot_past_weights(table)
    if figure is not None:
        figure.savefig(out / "past_weights.png", dpi=120, bbox_inches="tight")
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 4):
        print(main_table.to_string(index=False))
    print(f"\n{len(table)} runs sorted by {args.metric}; report.csv, report.md"
          f"{', past_weights.png' if figure is not None else ''} in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
