"""``WindowDataModule``: a frame in, leak-free scaled window batches out."""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Iterator, Sequence
from typing import Literal

import lightning as L
import pandas as pd
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from tsbridge.data.datasets import load_dataset
from tsbridge.data.columns import Columns
from tsbridge.data.errors import DataValidationError, EmptySplitError, SeriesTooShortError
from tsbridge.data.frames import Features, FillPolicy, SeriesFrame, prepare_series
from tsbridge.data.scaling import StandardScaler, model_units
from tsbridge.data.seasons import season_length
from tsbridge.data.splits import SPLIT_PARTS, Split, split_ranges
from tsbridge.data.windows import StridedWindows, WindowDataset, collate_windows


def _forward_syncs_buffers(module: torch.nn.Module) -> bool:
    """Whether DDP would broadcast some of ``module``'s buffers before each forward pass: a collective, so the
    ranks must then run the same number of batches."""
    ignored = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
    return any(name not in ignored for name, _ in module.named_buffers())


def _positive_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DataValidationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _listed(lengths: Sequence[tuple[Hashable, int]], unit: str, limit: int | None = None) -> str:
    """``'s1', 's3' (5 rows); 's2' (4 rows)``: the first ``limit`` (None: all) series grouped by their count of
    ``unit``, so hundreds of series of a few lengths (M3's yearly panel) stay readable."""
    groups: dict[int, list[str]] = {}
    for series_id, n in lengths[:limit]:
        groups.setdefault(n, []).append(repr(series_id))
    shown = "; ".join(f"{', '.join(ids)} ({n} {unit})" for n, ids in groups.items())
    return shown + (f" and {len(lengths) - limit} more" if limit is not None and len(lengths) > limit else "")


class EpochShuffleSampler(Sampler[int]):
    """A random order of ``n`` items that depends only on ``seed`` and the epoch.

    Lightning calls :meth:`set_epoch` at each epoch start, so a run resumed from a checkpoint shuffles its
    remaining epochs exactly as the uninterrupted run would (the global random state is not in checkpoints).

    The order is held as int32 (the same permutation as int64) and handed out a chunk at a time: a 100k-series
    panel has ~90M training windows, whose order as one Python list would take ~3 GB.
    """

    chunk = 1 << 16

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        dtype = torch.int32 if self.n <= torch.iinfo(torch.int32).max else torch.int64
        for chunk in torch.randperm(self.n, generator=generator, dtype=dtype).split(self.chunk):
            yield from chunk.tolist()


class WindowDataModule(L.LightningDataModule):
    """Validated frame -> train/val/test splits -> scaler fitted on train rows -> lazily indexed windows.

    Columns, splits and series lengths are checked in ``__init__`` (cheap, so errors come early); ``setup``
    fits the scaler and builds the datasets. Batches follow the batch contract: ``x`` (B, L, n_inputs) with the
    targets as first channels, ``y`` (B, H, n_targets), ``series`` (B,), ``origin`` (B,) the row of the window's last
    input step within its series (see :mod:`tsbridge.data.windows`), and ``loc``/``scale`` (B, 1, n_targets) with
    ``y_original = y * scale + loc``.

    Training windows start every ``stride`` rows; validation and test windows always use stride 1, because the
    standard protocol evaluates every window of those splits. The predict loader yields the test windows. New
    frames are forecast by the :class:`~tsbridge.predictor.Predictor` built from a fitted module and this data.

    Built with only its frame and targets, it is what ``conf/data/shared/window.yaml`` describes (a test checks).

    Args:
        frame: a DataFrame (wide, or long/panel with ``id_col``), or a name/path for :func:`load_dataset`.
        target_cols: column(s) to forecast.
        lookback, horizon: window lengths L (inputs) and H (forecast).
        min_lookback: let windows start before a series' first row, so that series shorter than ``lookback +
            horizon`` train and forecast (a panel's shortest series no longer caps every series' look-back): a
            window then reads at least ``min_lookback`` real rows (1 to ``lookback``), its up to ``lookback -
            min_lookback`` missing rows repeating the series' first row, all channels (edge padding, see
            :mod:`tsbridge.data.windows`). Forecast rows are never padded, the scaler is still fitted on the real
            training rows only, and a series needs ``min_lookback + horizon`` rows. None: no padding.
        split: ``"ett-hourly"``, ``"ett-15min"``, three ratios such as ``(0.7, 0.1, 0.2)`` (per series), or row
            counts ``"rows:V"`` / ``"rows:V:T"``: the last ``V`` rows of every series validate, then ``T`` test
            (:func:`~tsbridge.data.splits.split_ranges`).
        time_col: time column; None uses the frame index.
        feature_cols: extra input columns known up to the forecast origin (past covariates).
        future_features: input columns whose values for the forecast steps are known when forecasting (a load or
            generation forecast, a holiday flag): batches carry their values on the forecast rows as ``x_future``.
        calendar: calendar features derived from the timestamps (e.g. ``["hour", "dayofweek"]``, see
            :mod:`tsbridge.data.calendar`): known for any step, read like future features.
        id_col: series id column of a long/panel frame.
        features: ``"S"``, ``"M"``, ``"MS"`` or None (see :func:`tsbridge.data.frames.resolve_columns`).
        stride: step between training windows.
        max_windows_per_series: train on each series' latest ``k`` windows only (every window of a series that holds
            fewer), as Darts' ``max_samples_per_ts`` does and as N-BEATS samples its training windows from each
            series' last ``LH x H`` rows (``k = LH x H - H + 1`` with stride 1): the recent history weighs more, and
            a long series no longer outweighs a short one. Validation and test windows are unchanged; a refit keeps
            the latest ``k`` windows through the validation rows. None: every window.
        batch_size, num_workers: DataLoader settings; workers are persistent and memory is pinned on CUDA.
        drop_last: drop each epoch's last training batch when it is partial (fewer than ``batch_size`` windows),
            as the DLinear/SegRNN family of scripts do (NeuralForecast's ``drop_last_loader``): every step then
            averages as many windows. Test and forecasts always use every window; validation too, except while
            fitting with ``shuffle_val``.
        shuffle_val: validate on the validation windows in a fresh random order each epoch, a function of
            ``(seed, epoch)`` like the training shuffle. With ``drop_last`` the partial validation batch is dropped
            too, so each epoch scores a random ``eval_batch_size * (windows // eval_batch_size)`` of them, as the
            DLinear/SegRNN family of scripts do (their validation loader is built like the training one); the
            Trainer's ``limit_val_batches=k`` takes a random ``k`` batches. For comparing with those pipelines: a loss
            over a random subset is a noisier guide to the best epoch. Alone it changes only the order. It acts
            only while fitting: the validation after fitting (``FitResult.val``) scores every window.
        eval_batch_size: windows per batch of the validation, test and predict loaders (and of the Predictor's
            forecasts); None uses ``batch_size``. Larger batches cost nothing in accuracy there, and each batch carries
            a fixed host cost (loading, Lightning's hooks) that a small model on a GPU cannot hide.
        scaler: ``"standard"`` or None (no scaling; ``loc`` 0 and ``scale`` 1).
        scale_per_series: one mean/std per series instead of one pooled over all series' training rows.
        fill: policy for NaN/inf values and missing timestamps: None raises, ``"ffill"``, ``"interpolate"`` or
            ``"zero"``.
        freq: pandas frequency of a datetime time axis; None infers it (the most common step when gaps defeat
            pandas' inference). Every series is read on this frequency's grid: a skipped timestamp is a missing
            row (see ``fill``), never two adjacent rows.
        drop_short: drop series shorter than ``lookback + horizon`` (one window; ``min_lookback + horizon`` with
            padding) instead of raising, naming every one in a single warning with their count. A panel's series
            that are long enough but whose training part holds no window under ``split`` are kept (scaled on their
            training rows, validated, forecast) and named in a single warning too: no series leaves training unsaid.
        seed: seed of the training shuffle, whose order depends only on ``(seed, epoch)``.
    """

    def __init__(
        self,
        frame: pd.DataFrame | str | os.PathLike,
        *,
        target_cols: Columns,
        lookback: int = 96,
        horizon: int = 24,
        min_lookback: int | None = None,
        split: Split = (0.7, 0.1, 0.2),
        time_col: Hashable | None = None,
        feature_cols: Columns | None = None,
        future_features: Columns | None = None,
        calendar: Sequence[str] | None = None,
        id_col: Hashable | None = None,
        features: Features | None = None,
        stride: int = 1,
        max_windows_per_series: int | None = None,
        batch_size: int = 64,
        drop_last: bool = False,
        shuffle_val: bool = False,
        eval_batch_size: int | None = 256,
        num_workers: int = 0,
        scaler: Literal["standard"] | None = "standard",
        scale_per_series: bool = True,
        fill: FillPolicy | None = None,
        drop_short: bool = False,
        seed: int = 0,
        freq: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["frame"])  # settings only; the data itself is never copied into hparams
        self.lookback = _positive_int("lookback", lookback)
        self.horizon = _positive_int("horizon", horizon)
        self.min_lookback = min_lookback if min_lookback is None else _positive_int("min_lookback", min_lookback)
        if min_lookback is not None and min_lookback > self.lookback:
            raise DataValidationError(f"min_lookback must be at most lookback={self.lookback} (the rows a window "
                                      f"reads), got {min_lookback}")
        self.stride = _positive_int("stride", stride)
        self.max_windows_per_series = (max_windows_per_series if max_windows_per_series is None
                                       else _positive_int("max_windows_per_series", max_windows_per_series))
        self.batch_size = _positive_int("batch_size", batch_size)
        self.drop_last = drop_last
        self.shuffle_val = shuffle_val
        self.eval_batch_size = self.batch_size if eval_batch_size is None else _positive_int(
            "eval_batch_size", eval_batch_size)
        self.num_workers = _positive_int("num_workers", num_workers, minimum=0)
        if scaler not in (None, "standard"):
            raise DataValidationError(f"scaler must be 'standard' or None, got {scaler!r}")
        self.scaler_kind = scaler
        self.seed = seed
        self.scale_per_series = scale_per_series
        self.split = split
        self.time_col, self.id_col, self.fill = time_col, id_col, fill
        series = prepare_series(
            load_dataset(frame), target_cols=target_cols, feature_cols=feature_cols, time_col=time_col,
            id_col=id_col, features=features, fill=fill, freq=freq, future_cols=future_features, calendar=calendar,
        )
        # Float64 original units until setup() replaces them by float32 scaled ones: the module holds the data once.
        self._series = self._drop_short(series, drop_short)
        self.row_ranges = [
            split_ranges(n, split, self.lookback, series_id, freq=self._series.freq, min_lookback=self.min_lookback)
            for n, series_id in zip(self._series.lengths, self._series.series_ids)
        ]
        self._check_splits()
        self._warn_untrained()
        self.scaler: StandardScaler | None = None
        self.scaled_series: SeriesFrame | None = None
        self.train_dataset: WindowDataset | None = None
        self.val_dataset: WindowDataset | None = None
        self.test_dataset: WindowDataset | None = None

    @property
    def shortest_lookback(self) -> int:
        """The fewest real rows a window's look-back reads: ``min_lookback`` with padding, else ``lookback``."""
        return self.lookback if self.min_lookback is None else self.min_lookback

    @property
    def _lookback_name(self) -> str:
        """The option that sets :attr:`shortest_lookback`, for messages."""
        return "lookback" if self.min_lookback is None else "min_lookback"

    def _drop_short(self, series: SeriesFrame, drop_short: bool) -> SeriesFrame:
        window = self.shortest_lookback + self.horizon
        name = self._lookback_name
        short = [(i, n) for i, n in enumerate(series.lengths) if n < window]
        if not short:
            return series
        if len(series.values) == 1:  # one series: dropping it is no fix, a shorter look-back is
            rows = short[0][1]
            if rows > self.horizon:
                fix = f"use a {name} of at most {rows - self.horizon}"
            elif rows > 1:
                fix = f"use a horizon shorter than {rows} rows"
            else:  # no look-back and horizon fit in one row
                fix = "pass more rows"
            raise SeriesTooShortError(f"the series has {rows} row{'s' * (rows != 1)}, fewer than {name} + horizon = "
                                      f"{self.shortest_lookback} + {self.horizon} = {window}, the length of one "
                                      f"window; {fix}")
        named = [(series.series_ids[i], n) for i, n in short]
        count = f"{len(short)} of {len(series.values)} series have fewer rows than {name} + horizon = {window}"
        if not drop_short or len(short) == len(series.values):
            shorter = "a shorter lookback" if self.min_lookback is None else "a smaller min_lookback"
            fix = (f"pass drop_short=True to train on the others, or use {shorter}" if not drop_short
                   else f"none is left to train on; use {shorter}")
            raise SeriesTooShortError(f"{count}: {_listed(named, 'rows', limit=5)}; {fix}")
        # Every dropped series is named: the warning is the record of what the model never saw.
        warnings.warn(f"dropping {count}: {_listed(named, 'rows')}", stacklevel=3)
        short_rows = {i for i, _ in short}
        return series.select([i for i in range(len(series.values)) if i not in short_rows])

    def _warn_untrained(self) -> None:
        """Name, in one warning, the series long enough for a window whose training part holds none under the
        split (e.g. 14 values, ``lookback + horizon = 14``, validation taking the last 3; with padding, fewer than
        ``min_lookback + horizon`` training rows): they stay in the data, scaled on their training rows, validated
        where they hold a validation window and forecast, but no training window comes from them. (When no series
        holds one, :meth:`_check_splits` has already refused the split.)"""
        train = StridedWindows.from_ranges([r["train"] for r in self.row_ranges], self.lookback, self.horizon)
        untrained = [(series_id, r["train"][1])
                     for series_id, r, count in zip(self.series_ids, self.row_ranges, train.counts) if count == 0]
        if untrained:
            warnings.warn(
                f"{len(untrained)} of {len(self.series_ids)} series hold no training window (fewer training rows than "
                f"{self._lookback_name} + horizon = {self.shortest_lookback + self.horizon} under split "
                f"{self.split!r}): {_listed(untrained, 'training rows')}; they are scaled, validated and forecast but "
                f"never trained on (a shorter {self._lookback_name} or a smaller validation share trains on them)",
                stacklevel=3)

    def _check_splits(self) -> None:
        for part in SPLIT_PARTS:
            ranges = [r[part] for r in self.row_ranges]
            if part == "test" and all(begin == end for begin, end in ranges):
                continue  # no test part was asked for (test ratio 0)
            windows = StridedWindows.from_ranges(ranges, self.lookback, self.horizon)
            if len(windows) == 0:
                rows = {sid: r[part] for sid, r in zip(self.series_ids[:3], self.row_ranges)}
                padding = "" if self.min_lookback is None else f", min_lookback={self.min_lookback}"
                raise EmptySplitError(
                    f"split {self.split!r} leaves no {part} window for lookback={self.lookback}, "
                    f"horizon={self.horizon}{padding}; {part} rows per series: {rows}"
                )

    @property
    def series(self) -> SeriesFrame:
        """The validated data in original units, float64.

        ``setup`` replaces the float64 values by float32 scaled ones (a long series is held once, not twice), so
        from then on each access un-scales a new float64 copy, ``scaled * std + mean`` (equal to the input up to
        the float32 rounding of the scaled values).
        """
        if self.scaled_series is None:
            return self._series
        if self.scaler is None:
            return self._series.with_values([values.double() for values in self._series.values])
        return self._series.with_values(
            [self.scaler.inverse_transform(v, sid) for v, sid in zip(self._series.values, self._series.series_ids)]
        )

    @property
    def input_cols(self) -> list[str]:
        return self._series.input_cols

    @property
    def target_cols(self) -> list[str]:
        return self._series.target_cols

    @property
    def n_inputs(self) -> int:
        return self._series.n_inputs

    @property
    def n_targets(self) -> int:
        return self._series.n_targets

    @property
    def n_future(self) -> int:
        """Known-future channels: the last ``n_future`` inputs (future features, then calendar columns)."""
        return self._series.n_future

    @property
    def freq(self) -> str | None:
        return self._series.freq

    @property
    def season_length(self) -> int | None:
        """Steps per season of the data's frequency (:func:`tsbridge.data.seasons.season_length`), None if none."""
        return season_length(self.freq)

    @property
    def series_ids(self) -> list[Hashable]:
        return self._series.series_ids

    def setup(self, stage: str | None = None) -> None:
        """Fit the scaler on the training rows, replace the data by float32 scaled values and build the three window
        datasets (once)."""
        if self.train_dataset is not None:
            return
        scaler = None
        if self.scaler_kind == "standard":
            train_rows = [r["train"][1] for r in self.row_ranges]
            scaler = StandardScaler(self.scale_per_series).fit(self._series.values, train_rows, self.series_ids)
        self._series = self.scaled_series = model_units(self._series, scaler)
        self.scaler = scaler
        self.train_dataset = self._training_dataset([r["train"] for r in self.row_ranges])
        self.val_dataset, self.test_dataset = (
            self._dataset(StridedWindows.from_ranges([r[part] for r in self.row_ranges], self.lookback, self.horizon))
            for part in SPLIT_PARTS[1:])

    def train_through_validation(self) -> None:
        """From now on, train on the validation rows too: the training windows become every window of
        ``[0, end of validation)`` per series, from ``-pad`` with ``min_lookback``, its latest ``max_windows_per_series``
        when set (a refit once the epochs were chosen on validation, :func:`tsbridge.fitting.fit` with ``refit``).

        The scaler stays fitted on the training rows, so a model trained this way forecasts with the scaling a data
        module rebuilt from the same config has (``tsbridge-eval``, ``tsbridge-predict``). Test windows are
        unchanged; validation windows are training windows from here on, so their scores no longer measure
        anything held out.
        """
        self.setup()
        self.train_dataset = self._training_dataset([(r["train"][0], r["val"][1]) for r in self.row_ranges])

    def _loc_scale(self, series: SeriesFrame) -> tuple[Tensor | None, Tensor | None]:
        """``(n_series, 1, n_targets)`` target statistics of each series, or None without a scaler."""
        if self.scaler is None:
            return None, None
        return self.scaler.target_stats(series.series_ids, self.n_targets)

    def _training_dataset(self, row_ranges: list[tuple[int, int]]) -> WindowDataset:
        """Every ``stride``-th window of ``row_ranges`` (from ``-pad`` with padding), each series' latest
        ``max_windows_per_series`` of them when set."""
        windows = StridedWindows.from_ranges(row_ranges, self.lookback, self.horizon, self.stride)
        if self.max_windows_per_series is not None:
            windows = windows.latest(self.max_windows_per_series)
        return self._dataset(windows)

    def _dataset(self, windows: StridedWindows) -> WindowDataset:
        loc, scale = self._loc_scale(self.scaled_series)
        return WindowDataset(
            self.scaled_series.values, windows,
            lookback=self.lookback, horizon=self.horizon, n_targets=self.n_targets, loc=loc, scale=scale,
            n_future=self.n_future,
        )

    def _shuffled(self, part: str) -> bool:
        """Whether ``part`` comes in a fresh random order each epoch: training always; validation with
        ``shuffle_val`` only while fitting, where it picks the best epoch. A validation outside ``fit`` (the score
        after fitting, ``trainer.validate``) reports on every window, whatever the options."""
        return part == "train" or (part == "val" and self.shuffle_val and self._fitting())

    def _fitting(self) -> bool:
        """Whether the attached Trainer is inside ``fit`` (its sanity check and validation included)."""
        return self.trainer is not None and self.trainer.state.fn == TrainerFn.FITTING

    def _sampler(self, part: str, dataset: WindowDataset) -> Sampler[int] | None:
        """The order of ``part``'s windows, and under DDP this rank's share of them (Lightning keeps a sampler
        that is already distributed).

        Training: rank r of N takes positions r, r + N, ... of the epoch's shuffled order. Lightning's own wrapper
        would shuffle that order again with its seed, so N ranks at batch size B would not step through the
        batches one process steps through at N * B; this way they do, and DDP's mean of their gradients is that
        process's gradient. A count that N does not divide is padded by repeating up to N - 1 windows, so that the
        ranks step together.

        Validation with ``shuffle_val``, while fitting: shuffled like training (and padded like it under DDP).

        Otherwise validation, test and prediction: each window exactly once over the ranks. Lightning's sampler would
        score up to N - 1 windows twice and bias the metrics (and, during ``fit``, the choice of the best
        checkpoint); the ranks may then run one batch apart. That is safe outside ``fit``, where the model is not
        wrapped in DDP, and during ``fit`` when no forward pass syncs buffers (:class:`~tsbridge.module.ForecastModule`
        has DDP ignore its constant buffers); another module that has DDP broadcast buffers gets Lightning's padded
        sampler.
        """
        order = EpochShuffleSampler(len(dataset), self.seed) if self._shuffled(part) else None
        trainer = self.trainer
        ranks = trainer.distributed_sampler_kwargs if trainer is not None else None
        if not ranks or ranks["num_replicas"] == 1:
            return order
        if order is not None:
            return DistributedSamplerWrapper(order, shuffle=False, **ranks)
        syncs_buffers = self._fitting() and _forward_syncs_buffers(trainer.lightning_module)
        if len(dataset) < ranks["num_replicas"] or syncs_buffers:
            return None  # Lightning's padded one: every rank needs a window; buffer syncs need the same batches
        return UnrepeatedDistributedSampler(dataset, shuffle=False, **ranks)

    def _loader(self, part: str) -> DataLoader:
        self.setup()
        workers = self.num_workers
        dataset = getattr(self, f"{part}_dataset")
        sampler = self._sampler(part, dataset)
        batch_size = self.batch_size if part == "train" else self.eval_batch_size
        drop_last = self.drop_last and self._shuffled(part)
        windows = len(dataset) if sampler is None else len(sampler)  # under DDP: this rank's share
        if drop_last and windows < batch_size:
            name, size = ("training", "batch_size") if part == "train" else ("validation", "eval_batch_size")
            raise DataValidationError(
                f"drop_last=True with {windows} {name} windows (per process) and {size}={batch_size} leaves no "
                f"{name} batch; lower {size} or set drop_last=False")
        return DataLoader(
            dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, collate_fn=collate_windows,
            num_workers=workers, persistent_workers=workers > 0, pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        """Training windows (every ``stride``-th start), shuffled."""
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """The test windows (every stride-1 window of the test split), unshuffled."""
        return self._loader("test")
