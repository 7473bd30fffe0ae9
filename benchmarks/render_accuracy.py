"""Render the accuracy CSV of ``benchmarks/accuracy.py`` as Markdown, next to published reference numbers.

Per setting: mean ± std over seeds of test MSE and MAE per (model, horizon), the published numbers under the same
protocol with their citations, and the learned past/future weights of the blend models. Variant runs (rows with
``overrides``, from ``accuracy.py --override``) get their own table, next to the defaults they change.

    python benchmarks/render_accuracy.py                       # results/etth1.csv -> results/etth1.md
    python benchmarks/render_accuracy.py --csv rows.csv --out table.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from accuracy import MODELS  # benchmarks/ is this script's import root

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SETTINGS = {"M": "M: 7 channels -> 7 channels", "S": "S: OT -> OT"}
CITATIONS = {
    "iTransformer": "Liu et al., *iTransformer: Inverted Transformers Are Effective for Time Series Forecasting*, "
                    "ICLR 2024, Table 10 (look-back 96; its DLinear, PatchTST and RLinear rows too)",
    "DLinear": "Zeng et al., *Are Transformers Effective for Time Series Forecasting?*, AAAI 2023, Table 2 "
               "(NLinear, look-back 336) and appendix Table 9 (setting S, look-back 336)",
    "PatchTST": "Nie et al., *A Time Series is Worth 64 Words: Long-term Forecasting with Transformers*, ICLR 2023, "
                "Table 3 (PatchTST/64, look-back 512)",
}
# Published test (MSE, MAE) on scaled ETTh1 for H = 96, 192, 336, 720: (name, look-back, source, numbers).
REFERENCES = {
    "M": [
        ("DLinear", 96, "iTransformer", [(0.386, 0.400), (0.437, 0.432), (0.481, 0.459), (0.519, 0.516)]),
        ("iTransformer", 96, "iTransformer", [(0.386, 0.405), (0.441, 0.436), (0.487, 0.458), (0.503, 0.491)]),
        ("PatchTST", 96, "iTransformer", [(0.414, 0.419), (0.460, 0.445), (0.501, 0.466), (0.500, 0.488)]),
        ("RLinear", 96, "iTransformer", [(0.386, 0.395), (0.437, 0.424), (0.479, 0.446), (0.481, 0.470)]),
        ("PatchTST/64", 512, "PatchTST", [(0.370, 0.400), (0.413, 0.429), (0.422, 0.440), (0.447, 0.468)]),
        ("NLinear", 336, "DLinear", [(0.374, 0.394), (0.408, 0.415), (0.429, 0.427), (0.440, 0.453)]),
    ],
    "S": [
        ("DLinear", 336, "DLinear", [(0.056, 0.180), (0.071, 0.204), (0.098, 0.244), (0.189, 0.359)]),
        ("NLinear", 336, "DLinear", [(0.053, 0.177), (0.069, 0.204), (0.081, 0.226), (0.080, 0.226)]),
    ],
}
REFERENCE_HORIZONS = (96, 192, 336, 720)


def ordered(models: pd.Series) -> list[str]:
    """Bridges first, then baselines (the order of ``accuracy.MODELS``), then any other model name."""
    present = set(models)
    return [m for m in MODELS if m in present] + sorted(present - set(MODELS))


def cell(values: pd.Series) -> str:
    """``mean ± std`` over seeds (sample std), or the single value marked as one seed."""
    if values.empty:
        return "–"
    if len(values) == 1:
        return f"{values.iloc[0]:.3f} (1 seed)"
    return f"{values.mean():.3f} ± {values.std():.3f}"


def score_table(rows: pd.DataFrame, setting: str, horizons: list[int]) -> list[str]:
    """tsbridge rows (best mean MSE per horizon in bold), then the published rows of this setting."""
    header = "| model | " + " | ".join(f"H={h} MSE | H={h} MAE" for h in horizons) + " |"
    lines = [header, "|---|" + "---|---|" * len(horizons)]
    means = rows.groupby(["horizon", "model"])["mse"].mean()
    best = {h: means[h].idxmin() for h in horizons if h in means.index.get_level_values(0)}
    for model in ordered(rows["model"]):
        cells = []
        for h in horizons:
            chosen = rows[(rows["model"] == model) & (rows["horizon"] == h)]
            mse = cell(chosen["mse"])
            cells += [f"**{mse}**" if best.get(h) == model else mse, cell(chosen["mae"])]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    for name, lookback, source, numbers in REFERENCES[setting]:
        published = dict(zip(REFERENCE_HORIZONS, numbers))
        cells = [f"{published[h][i]:.3f}" if h in published else "–" for h in horizons for i in (0, 1)]
        lines.append(f"| *{name}, L={lookback}* [{source}] | " + " | ".join(cells) + " |")
    return lines


def blend_table(rows: pd.DataFrame, horizons: list[int]) -> list[str]:
    """Learned past (forward states) / future (backward states) weight of the blend models."""
    blends = rows.dropna(subset=["past_weight"])
    if blends.empty:
        return []
    lines = ["| model | " + " | ".join(f"H={h} past / future" for h in horizons) + " |",
             "|---|" + "---|" * len(horizons)]
    for model in ordered(blends["model"]):
        cells = []
        for h in horizons:
            past = blends[(blends["model"] == model) & (blends["horizon"] == h)]["past_weight"]
            cells.append("–" if past.empty else f"{past.mean():.2f} / {1 - past.mean():.2f}"
                         + (f" (± {past.std():.2f})" if len(past) > 1 else ""))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def variant_table(variants: pd.DataFrame, defaults: pd.DataFrame) -> list[str]:
    """One row per (setting, horizon, model, overrides): the variant's scores next to the defaults' MSE."""
    lines = ["| setting | H | model | overrides | MSE | MAE | epochs | past weight | MSE with the defaults |",
             "|---|---|---|---|---|---|---|---|---|"]
    keys = ["setting", "horizon", "model", "overrides"]
    for (setting, horizon, model, overrides), group in variants.groupby(keys, sort=True):
        base = defaults[(defaults["setting"] == setting) & (defaults["horizon"] == horizon)
                        & (defaults["model"] == model)]
        past = group["past_weight"].dropna()
        lines.append(f"| {setting} | {horizon} | {model} | `{overrides}` | {cell(group['mse'])} | "
                     f"{cell(group['mae'])} | {group['epochs'].mean():.1f} | "
                     f"{'–' if past.empty else f'{past.mean():.2f}'} | {cell(base['mse'])} |")
    return lines


def provenance(rows: pd.DataFrame) -> list[str]:
    """Which rows exist and where they were measured (the optional ``machine`` column)."""
    counts = rows.groupby(["setting", "horizon"]).agg(runs=("mse", "size"), models=("model", "nunique"),
                                                      seeds=("seed", "nunique"))
    lines = [f"- {s}, H={h}: {c.runs} runs of {c.models} models, seeds per model: up to {c.seeds}"
             for (s, h), c in counts.iterrows()]
    if "machine" in rows:
        for machine, count in rows["machine"].fillna("unrecorded").value_counts().items():
            lines.append(f"- {count} rows measured on {machine}")
    return lines


def render(rows: pd.DataFrame, source: str) -> str:
    # CSVs written before the `overrides` column hold only default runs.
    overrides = (rows["overrides"].astype("string").fillna("") if "overrides" in rows
                 else pd.Series("", index=rows.index))
    variants = rows.assign(overrides=overrides)[overrides != ""]
    rows = rows[overrides == ""]
    datasets = ", ".join(sorted(rows["dataset"].unique()))
    lookbacks = ", ".join(str(v) for v in sorted(rows["lookback"].unique()))
    lines = [
        f"# Accuracy on {datasets} (look-back {lookbacks})", "",
        f"Generated by `python benchmarks/render_accuracy.py` from `{source}`; rows made by `benchmarks/accuracy.py`"
        " (see `benchmarks/README.md` for the commands). Test MSE/MAE on scaled values, mean ± sample std over "
        "seeds; bold: the lowest mean MSE among the tsbridge rows at that horizon. Italic rows are published "
        "numbers, quoted with their look-back L.", "",
        "Protocol: split `ett-hourly` (train rows [0, 8640), validation [8640-L, 11520), test [11520-L, 14400)), "
        "standard scaler fitted on the training rows, model selection on validation loss only (early stopping, "
        "best checkpoint tested). tsbridge evaluates **every** stride-1 test window (no `drop_last`); older papers "
        "dropped the last partial test batch, which moves H=336/720 MSE by about 0.005.", "",
    ]
    horizons = sorted(rows["horizon"].unique())
    for setting in [s for s in SETTINGS if s in set(rows["setting"])]:
        chosen = rows[rows["setting"] == setting]
        lines += [f"## Setting {SETTINGS[setting]}", "", *score_table(chosen, setting, horizons), ""]
        weights = blend_table(chosen, horizons)
        if weights:
            lines += ["Learned blend weights (past = forward-direction states, future = backward-direction; "
                      "gated blends: mean gate over the last test batch):", "", *weights, ""]
    if not variants.empty:
        lines += ["## Variants", "",
                  "Runs with Hydra overrides on top of `experiment=etth1_bridges` (`accuracy.py --override`), kept "
                  "out of the tables above; mean ± std over their seeds.", "", *variant_table(variants, rows), ""]
    lines += ["## Rows so far", "", *provenance(rows),
              *([f"- {len(variants)} variant rows (the Variants table)"] if not variants.empty else []), "",
              "The table is filled over several sessions: `accuracy.py` appends rows, this script re-renders.", "",
              "## References", "", *[f"- [{key}] {text}" for key, text in CITATIONS.items()], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, nargs="+", default=[RESULTS / "etth1.csv"])
    parser.add_argument("--out", type=Path, default=RESULTS / "etth1.md")
    args = parser.parse_args(argv)
    rows = pd.concat([pd.read_csv(path) for path in args.csv], ignore_index=True)
    source = ", ".join(p.relative_to(REPO).as_posix() if p.resolve().is_relative_to(REPO) else p.name
                       for p in (q.resolve() for q in args.csv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, source))
    print(f"wrote {args.out} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
