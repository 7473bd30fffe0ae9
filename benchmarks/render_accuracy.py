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

from tsbridge.data.splits import ETT_BORDERS

from accuracy import DATASETS, MODELS, seeds_cell  # benchmarks/ is this script's import root

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SETTINGS = {"M": "M: 7 channels -> 7 channels", "S": "S: OT -> OT"}
CITATIONS = {
    "SegRNN": "Lin et al., *SegRNN: Segment Recurrent Neural Network for Long-Term Time Series Forecasting*, "
              "README of lss-1138/SegRNN (2024.06 table: look-back 96, after the drop_last fix)",
    "SparseTSF": "Lin et al., *SparseTSF: Modeling Long-term Time Series Forecasting with 1k Parameters*, ICML 2024; "
                 "README of lss-1138/SparseTSF at commit 92c262f, 'Full results' (look-back 720, after the drop_last "
                 "fix; its SegRNN column too)",
    "CycleNet": "Lin et al., *CycleNet: Enhancing Time Series Forecasting through Modeling Periodic Patterns*, "
                "NeurIPS 2024; mean of the 5 seeds in result.txt of ACAT-SCUT/CycleNet (CycleNet/Linear)",
    "iTransformer": "Liu et al., *iTransformer: Inverted Transformers Are Effective for Time Series Forecasting*, "
                    "ICLR 2024, Table 10 (look-back 96; its DLinear, PatchTST and RLinear rows too)",
    "DLinear": "Zeng et al., *Are Transformers Effective for Time Series Forecasting?*, AAAI 2023, Table 2 "
               "(NLinear, look-back 336) and appendix Table 9 (setting S, look-back 336)",
    "PatchTST": "Nie et al., *A Time Series is Worth 64 Words: Long-term Forecasting with Transformers*, ICLR 2023, "
                "Table 3 (PatchTST/64, look-back 512)",
}
# Published test (MSE, MAE) on scaled data for H = 96, 192, 336, 720: (name, look-back, source, numbers).
# Issue 13's long look-back comparison (setting M), per dataset.
LONG_REFERENCES = {
    "ETTh1": [
        ("SegRNN", 96, "SegRNN", [(0.368, 0.395), (0.408, 0.419), (0.444, 0.440), (0.446, 0.457)]),
        ("CycleNet/Linear", 96, "CycleNet", [(0.378, 0.391), (0.427, 0.419), (0.464, 0.439), (0.462, 0.461)]),
        ("SegRNN", 720, "SparseTSF", [(0.351, 0.392), (0.390, 0.418), (0.449, 0.452), (0.492, 0.494)]),
        ("SparseTSF", 720, "SparseTSF", [(0.362, 0.388), (0.403, 0.411), (0.434, 0.428), (0.426, 0.447)]),
        ("CycleNet/Linear", 720, "CycleNet", [(0.379, 0.403), (0.416, 0.426), (0.447, 0.445), (0.478, 0.484)]),
        ("PatchTST/64", 512, "PatchTST", [(0.370, 0.400), (0.413, 0.429), (0.422, 0.440), (0.447, 0.468)]),
        ("NLinear", 336, "DLinear", [(0.374, 0.394), (0.408, 0.415), (0.429, 0.427), (0.440, 0.453)]),
    ],
    "ETTm1": [
        ("SegRNN", 96, "SegRNN", [(0.330, 0.369), (0.369, 0.392), (0.399, 0.412), (0.454, 0.443)]),
        ("CycleNet/Linear", 96, "CycleNet", [(0.326, 0.364), (0.366, 0.382), (0.396, 0.402), (0.457, 0.434)]),
        ("SegRNN", 720, "SparseTSF", [(0.295, 0.356), (0.334, 0.382), (0.359, 0.401), (0.415, 0.435)]),
        ("SparseTSF", 720, "SparseTSF", [(0.312, 0.354), (0.347, 0.376), (0.367, 0.386), (0.419, 0.413)]),
        ("CycleNet/Linear", 720, "CycleNet", [(0.307, 0.354), (0.338, 0.371), (0.365, 0.387), (0.410, 0.412)]),
        ("PatchTST/64", 512, "PatchTST", [(0.293, 0.346), (0.333, 0.370), (0.369, 0.392), (0.416, 0.420)]),
        ("NLinear", 336, "DLinear", [(0.306, 0.348), (0.349, 0.375), (0.375, 0.388), (0.433, 0.422)]),
    ],
}
# Issue 13's targets: the best published test MSE with look-back <= 720 (as the issue states them), and SegRNN's
# published L=96 test MSE per dataset (issue 18's parity reference), read from the table above.
TARGETS = {"ETTh1": (0.351, 0.392, 0.422, 0.426), "ETTm1": (0.290, 0.328, 0.357, 0.410)}
SEGRNN_96 = {dataset: tuple(mse for mse, _ in scores) for dataset, published in LONG_REFERENCES.items()
             for name, lookback, _, scores in published if (name, lookback) == ("SegRNN", 96)}
# Issue 18's parity gate for model=segrnn: within 2% of SegRNN's published L=96 row at every horizon and at most
# 0.372 at H=96; at L=720, H=96 at most 0.362. SegRNN's own code on the same 2-core CPU, test MSE at its
# validation-best epoch, one value per seed run: 0.367 at L=96 and 0.357 at L=720, H=96 (issue 18); 0.457 (seed
# 2024), 0.461 (seed 2025) and 0.449 (seed 2026) at L=96, H=720 (benchmarks/README).
PARITY_TOLERANCE = 0.02
PARITY_CAPS = {("ETTh1", 96, 96): 0.372, ("ETTh1", 720, 96): 0.362}
SEGRNN_OWN_CODE = {("ETTh1", 96, 96): (0.367,), ("ETTh1", 720, 96): (0.357,), ("ETTh1", 96, 720): (0.457, 0.461, 0.449)}
# Rows of SegRNN's official settings (accuracy.py --experiment segrnn_etth1[_720]) carry this in `overrides`.
SEGRNN_EXPERIMENT = "experiment=segrnn_"
# Overrides of how windows are loaded, not of the model (the pipeline differences of benchmarks/README.md): parity
# is shown under each, and a configuration is compared with `segrnn` run under the same ones.
LOADER_TOGGLES = ("data.drop_last=", "data.shuffle_val=")
BRIDGES = ("blend", "blend_unit", "blend_gated", "concat", "attention", "feedback")
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
    """``mean ± std`` over seeds, or the single value marked as one seed."""
    return seeds_cell(values, one_seed=" (1 seed)")


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


def configurations(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, horizon, model, lookback, overrides) configuration: mean val_mse, test MSE/MAE, seeds, cost."""
    keys = ["setting", "horizon", "model", "lookback", "overrides"]
    return rows.groupby(keys).agg(val_mse=("val_mse", "mean"), mse=("mse", "mean"), mse_std=("mse", "std"),
                                  mae=("mae", "mean"), seeds=("seed", "nunique"),
                                  epoch_seconds=("epoch_seconds", "mean")).reset_index()


def selected(configs: pd.DataFrame) -> pd.DataFrame:
    """The configuration with the lowest mean validation MSE per (setting, horizon, model): test is never read."""
    return configs.loc[configs.groupby(["setting", "horizon", "model"])["val_mse"].idxmin()]


def selection_tables(rows: pd.DataFrame, dataset: str) -> list[str]:
    """Issue 13: every searched configuration with its validation MSE, the validation-selected one per model and
    horizon (with its seeds' test scores), the published rows, and the targets with their gaps."""
    configs = configurations(rows)
    chosen = selected(configs)
    lines = ["Each configuration is a look-back L and the Hydra overrides on top of `experiment=etth1_bridges`. "
             "The reported configuration per model and horizon is the one with the lowest mean **validation** MSE "
             "(`val_mse`, the tested checkpoint's); test MSE is reported, never used to choose.", "",
             "| setting | H | model | L | overrides | seeds | val MSE | test MSE | test MAE | s/epoch |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in chosen.sort_values(["setting", "horizon", "model"]).itertuples():
        std = f" ± {row.mse_std:.3f}" if row.seeds > 1 else ""
        lines.append(f"| {row.setting} | {row.horizon} | {row.model} | {row.lookback} | `{short(row.overrides)}` | "
                     f"{row.seeds} | "
                     f"{row.val_mse:.3f} | {row.mse:.3f}{std} | {row.mae:.3f} | {row.epoch_seconds:.0f} |")
    lines += ["", "Published (setting M, MSE / MAE):", "",
              "| model | L | " + " | ".join(f"H={h}" for h in REFERENCE_HORIZONS) + " | source |",
              "|---|---|" + "---|" * len(REFERENCE_HORIZONS) + "---|"]
    for name, lookback, source, numbers in LONG_REFERENCES.get(dataset, []):
        lines.append(f"| *{name}* | {lookback} | " + " | ".join(f"{m:.3f} / {a:.3f}" for m, a in numbers)
                     + f" | [{source}] |")
    lines += ["", *target_checks(configs, dataset), "",
              "All configurations searched (seed 0 unless stated; one row per configuration):", "",
              "| setting | H | model | L | overrides | seeds | val MSE | test MSE |",
              "|---|---|---|---|---|---|---|---|"]
    for row in configs.sort_values(["setting", "horizon", "model", "val_mse"]).itertuples():
        lines.append(f"| {row.setting} | {row.horizon} | {row.model} | {row.lookback} | `{short(row.overrides)}` | "
                     f"{row.seeds} | {row.val_mse:.3f} | {row.mse:.3f} |")
    return lines


def short(overrides: str) -> str:
    """Overrides without the recipe's shared scheduler spelling (long and identical in every row)."""
    return " ".join(part for part in str(overrides).split() if not part.startswith("module.scheduler="))


def target_checks(configs: pd.DataFrame, dataset: str) -> list[str]:
    """Per horizon, the validation-selected best bridge (the bridge configuration with the lowest mean validation
    MSE, setting M) against the best published number with L <= 720, and the one selected among the L=96
    configurations against SegRNN at L=96."""
    lines = []
    bridges = configs[configs["model"].isin(BRIDGES) & (configs["setting"] == "M")]
    for label, table, subset in (("best published, L <= 720", TARGETS, bridges),
                                 ("SegRNN, L = 96", SEGRNN_96, bridges[bridges["lookback"] == 96])):
        for h, target in zip(REFERENCE_HORIZONS, table.get(dataset, ())):
            at_h = subset[subset["horizon"] == h]
            if at_h.empty:
                lines.append(f"- H={h}: no bridge row yet against {label} {target:.3f}")
                continue
            best = at_h.loc[at_h["val_mse"].idxmin()]
            gap = best["mse"] - target
            verdict = "met" if gap < 0 else f"missed by {gap:.3f} ({gap / target:.1%})"
            lines.append(f"- H={h}: {best['model']} (L={best['lookback']}, {best['seeds']} seed(s)) "
                         f"{best['mse']:.3f} against {label} {target:.3f}: {verdict}")
    return lines


def segrnn_configurations(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, look-back, horizon, configuration): seeds, mean val/test scores, the test std, epochs, cost, the
    machines the cost was measured on and the learned past weight; a configuration is the model plus the overrides
    beside SegRNN's experiment, split into its ``loaders`` (:data:`LOADER_TOGGLES`) and its ``variant`` (the rest)."""
    parts = rows["overrides"].str.split().map(lambda items: [p for p in items if not p.startswith("experiment=")])
    loaders = parts.map(lambda items: " ".join(p for p in items if p.startswith(LOADER_TOGGLES)))
    variant = parts.map(lambda items: " ".join(p for p in items if not p.startswith(LOADER_TOGGLES)))
    extra = parts.map(" ".join)
    # The first word of the machine label ("AMD EPYC (2 cores), ...") names the CPU: seconds per epoch from two
    # machines are not comparable, so each cost is shown with where it was measured.
    cpu = rows["machine"].str.extract(r"^([A-Za-z]+)", expand=False) if "machine" in rows else None
    named = rows.assign(configuration=rows["model"] + extra.map(lambda e: f" `{e}`" if e else ""), loaders=loaders,
                        variant=variant, cpu=cpu)
    named["cpu"] = named["cpu"].fillna("unrecorded")
    return named.groupby(["dataset", "lookback", "horizon", "loaders", "variant", "configuration"]).agg(
        model=("model", "first"), seeds=("seed", "nunique"), val_mse=("val_mse", "mean"), mse=("mse", "mean"),
        mse_std=("mse", "std"), mae=("mae", "mean"), epochs=("epochs", "mean"), epoch_seconds=("epoch_seconds", "mean"),
        train_seconds=("train_seconds", "mean"), past_weight=("past_weight", "mean"),
        cpus=("cpu", lambda names: "+".join(sorted(set(names))))).reset_index()


def parity_lines(configs: pd.DataFrame) -> list[str]:
    """model=segrnn against SegRNN's published L=96 row (and its own code on this CPU), with the issue's gate: under
    the experiment's loaders, then under each toggle of them that was run."""
    lines = ["| data | L | H | loaders | seeds | val MSE | test MSE | test MAE | published SegRNN | gap | gate "
             "| epochs | s/epoch (CPU) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    ports = configs[(configs["model"] == "segrnn") & (configs["variant"] == "")]
    for row in ports.sort_values(["dataset", "lookback", "horizon", "loaders"]).itertuples():
        published = dict(zip(REFERENCE_HORIZONS, SEGRNN_96.get(row.dataset, ()))) if row.lookback == 96 else {}
        reference = published.get(row.horizon)
        cap = PARITY_CAPS.get((row.dataset, row.lookback, row.horizon))
        limits = [v for v in (cap, reference and reference * (1 + PARITY_TOLERANCE)) if v]
        gate = "–" if not limits else ("met" if row.mse <= min(limits) else f"missed (<= {min(limits):.3f})")
        gap = f"{row.mse / reference - 1:+.1%}" if reference else "–"
        own_seeds = SEGRNN_OWN_CODE.get((row.dataset, row.lookback, row.horizon), ())
        own = own_seeds and f"own code here {sum(own_seeds) / len(own_seeds):.3f}" + (
            f" ({len(own_seeds)} seeds)" if len(own_seeds) > 1 else "")
        shown = " / ".join(part for part in (reference and f"{reference:.3f}", own) if part)
        std = f" ± {row.mse_std:.3f}" if row.seeds > 1 else ""
        loaders = f"`{row.loaders}`" if row.loaders else "the experiment's"
        lines.append(f"| {row.dataset} | {row.lookback} | {row.horizon} | {loaders} | {row.seeds} | "
                     f"{row.val_mse:.3f} | {row.mse:.3f}{std} | {row.mae:.3f} | {shown or '–'} | {gap} | {gate} | "
                     f"{row.epochs:.1f} | {row.epoch_seconds:.0f} ({row.cpus}) |")
    return lines


def bridge_on_segrnn_lines(configs: pd.DataFrame) -> list[str]:
    """Every configuration of each (L, H) cell next to model=segrnn under the same loaders: scores, the difference of
    means in SegRNN's standard deviations, the learned past weight, the cost; the validation-selected bridge is
    marked."""
    lines = ["| data | L | H | configuration | seeds | val MSE | test MSE | vs segrnn | past weight | s/epoch (CPU) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, cell_rows in configs.groupby(["dataset", "lookback", "horizon", "loaders"]):
        base = cell_rows[(cell_rows["model"] == "segrnn") & (cell_rows["variant"] == "")]
        bridges = cell_rows[cell_rows["model"] == "segrnn_blend"]
        chosen = bridges.loc[bridges["val_mse"].idxmin(), "configuration"] if not bridges.empty else None
        for row in cell_rows.sort_values("val_mse").itertuples():
            versus = "–"
            if not base.empty and row.configuration != base["configuration"].iloc[0]:
                difference = row.mse - base["mse"].iloc[0]
                spread = base["mse_std"].iloc[0]
                versus = f"{difference:+.4f}" + (f" ({difference / spread:+.1f} sd)" if spread > 0 else "")
            std = f" ± {row.mse_std:.3f}" if row.seeds > 1 else ""
            name = f"**{row.configuration}** (selected)" if row.configuration == chosen else row.configuration
            past = "–" if pd.isna(row.past_weight) else f"{row.past_weight:.3f}"
            lines.append(f"| {row.dataset} | {row.lookback} | {row.horizon} | {name} | {row.seeds} | "
                         f"{row.val_mse:.3f} | {row.mse:.3f}{std} | {versus} | {past} | "
                         f"{row.epoch_seconds:.0f} ({row.cpus}) |")
    return lines


def segrnn_section(rows: pd.DataFrame) -> list[str]:
    """Issue 18: the SegRNN port against the published numbers, then what bridging adds on the same base."""
    configs = segrnn_configurations(rows)
    caps = " and ".join(f"on {dataset} L={lookback} H={horizon} at most {cap}"
                        for (dataset, lookback, horizon), cap in PARITY_CAPS.items())
    return ["## SegRNN reproduced inside tsbridge, then bridged (issue 18)", "",
            "`model=segrnn` is SegRNN ported into tsbridge (same parameters, same forward), trained by tsbridge's fit "
            "path with SegRNN's official settings (`accuracy.py --experiment segrnn_etth1`, and `segrnn_etth1_720` "
            f"for L=720; `segrnn_ettm1` on ETTm1). Gate: within {PARITY_TOLERANCE:.0%} of the published L=96 row at "
            f"every horizon ({caps}). The experiment's loaders are SegRNN's training loader (the last, partial batch dropped) "
            "with every validation window scored; rows under other `data.*` loader settings (those run before the "
            "experiment dropped the batch are `data.drop_last=false`) are shown apart.", "",
            *parity_lines(configs), "",
            "Bridges on that base: `segrnn_blend` is SegRNN whose decoder starts from `a * h_fwd(last segment) + "
            "(1 - a) * h_bwd(first segment)`; everything else is equal. Controls: `learn_past_weight=false` (a "
            "fixed at 0.5; a fixed at 1 is SegRNN exactly, a tested identity), the blend weight at its own rate "
            "(`module.blend_lr=0.05`), and SegRNN widened to the bridge's parameter count (`hidden_size=724`; on ETTh1 "
            "3,188,882 parameters against 3,179,801). "
            "The bridge reported per cell is the one with the lowest mean validation MSE (bold); "
            "`vs segrnn` is the difference of mean test MSE against `segrnn` under the same loaders, also in "
            "SegRNN's standard deviations over seeds. `s/epoch` is the mean over a configuration's runs with the "
            "CPU they ran on (AMD EPYC or Intel Xeon, both 2 cores); the runs had different loads beside them (the "
            "CSV's `machine` column says which), so costs compare only roughly, and never across CPUs.", "",
            *bridge_on_segrnn_lines(configs), ""]


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


def protocol_split(dataset: str) -> str:
    """The standard split ``accuracy.py`` uses for ``dataset``, with its row borders."""
    name = DATASETS[dataset][1]
    train, val, test = ETT_BORDERS[name]
    return f"`{name}` (train rows [0, {train}), validation [{train}-L, {val}), test [{val}-L, {test}))"


def render(rows: pd.DataFrame, source: str) -> str:
    # CSVs written before the `overrides` column hold only default runs.
    overrides = (rows["overrides"].astype("string").fillna("") if "overrides" in rows
                 else pd.Series("", index=rows.index))
    segrnn = overrides.str.startswith(SEGRNN_EXPERIMENT)
    segrnn_rows, rows, overrides = rows[segrnn].assign(overrides=overrides[segrnn]), rows[~segrnn], overrides[~segrnn]
    # Rows with val_mse are configurations to select among (issue 13); older variant rows (no val_mse) keep their
    # own table; the experiment's defaults fill the main tables either way.
    recorded = rows["val_mse"].notna() if "val_mse" in rows else pd.Series(False, index=rows.index)
    searched = rows[recorded]
    variants = rows.assign(overrides=overrides)[(overrides != "") & ~recorded]
    # A seed measured again (e.g. a default run repeated next to the search) counts once: its first row.
    rows = rows[overrides == ""].drop_duplicates(["dataset", "setting", "lookback", "horizon", "model", "seed"])
    every = pd.concat([rows, searched, segrnn_rows])
    datasets = ", ".join(sorted(every["dataset"].unique()))
    lookbacks = ", ".join(str(v) for v in sorted(every["lookback"].unique()))
    lines = [
        f"# Accuracy on {datasets} (look-back {lookbacks})", "",
        f"Generated by `python benchmarks/render_accuracy.py` from `{source}`; rows made by `benchmarks/accuracy.py`"
        " (see `benchmarks/README.md` for the commands). Test MSE/MAE on scaled values, mean ± sample std over "
        "seeds; bold: the lowest mean MSE among the tsbridge rows at that horizon. Italic rows are published "
        "numbers, quoted with their look-back L.", "",
        f"Protocol: split {protocol_split(every['dataset'].iloc[0])}, "
        "standard scaler fitted on the training rows, model selection on validation loss only (early stopping, "
        "best checkpoint tested). tsbridge evaluates **every** stride-1 test window (no `drop_last`); older papers "
        "dropped the last partial test batch, which moves H=336/720 MSE by about 0.005.", "",
    ]
    if not segrnn_rows.empty:
        lines += segrnn_section(segrnn_rows)
    if not searched.empty:
        lines += ["## Segment recipe and long look-backs (issue 13): validation-selected", "",
                  "Measured before issue 18's harness fixes (the linear skip then started from PyTorch's random "
                  "initialisation; early stopping's patience of 3 ended runs inside the schedule's 4-epoch hold); "
                  "not rerun since, for CPU time.", "",
                  *selection_tables(searched.assign(overrides=searched["overrides"].fillna("")),
                                    searched["dataset"].iloc[0]), ""]
    horizons = sorted(rows["horizon"].unique())
    if not rows.empty:
        lines += ["## Per-step bridges at look-back 96 (the first release's table)", "",
                  "Measured before issue 18's harness fixes (the linear skip then started from PyTorch's random "
                  "initialisation); not rerun since, for CPU time.", ""]
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
    lines += ["## Rows so far", "", *(provenance(rows) if not rows.empty else []),
              *([f"- {len(searched)} rows of the segment-recipe search (val_mse recorded)"] if not searched.empty
                else []),
              *([f"- {len(variants)} variant rows (the Variants table)"] if not variants.empty else []), "",
              "The table is filled over several sessions: `accuracy.py` appends rows, this script re-renders.", "",
              "## References", "", *[f"- [{key}] {text}" for key, text in CITATIONS.items()], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, nargs="+", default=[RESULTS / "etth1.csv"])
    parser.add_argument("--out", type=Path, default=None, help="Markdown file (default: the first CSV's, as .md)")
    args = parser.parse_args(argv)
    args.out = args.out or args.csv[0].with_suffix(".md")
    rows = pd.concat([pd.read_csv(path) for path in args.csv], ignore_index=True)
    source = ", ".join(p.relative_to(REPO).as_posix() if p.resolve().is_relative_to(REPO) else p.name
                       for p in (q.resolve() for q in args.csv))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, source))
    print(f"wrote {args.out} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
