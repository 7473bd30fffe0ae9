"""Regular time axes: the frequency of each series, and where its timestamps sit on that frequency's grid.

A gap (a skipped day in daily data) must become missing rows, not two adjacent rows: windows and forecasts
count steps, so a series read with its gaps closed is silently wrong. The frequency is ``freq`` when given, else
the one pandas infers, else (gaps defeat pandas' inference) the most common step between timestamps.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Day, Tick

from tsbridge.data.errors import FrequencyError

# A grid this many times longer than the observed timestamps means a wrong freq (e.g. 's' for daily data), not gaps.
MAX_GRID_GROWTH = 100
_MIN_GRID_GUARD = 10_000  # rows below which any growth is allowed (short series with long gaps)
# Float time axes: a timestamp lies on the grid when within this fraction of a step of a grid point.
_FLOAT_TOLERANCE = 1e-6
# Steps below a month: pandas infers a fixed-duration frequency of an evenly spaced axis from its step alone.
_SHORTER_THAN_MONTHS = pd.Timedelta(days=28)


@dataclass(frozen=True)
class RegularAxis:
    """The time axis of one series on its regular grid.

    Attributes:
        stamps: every grid timestamp from the first observed one to the last.
        observed: positions in ``stamps`` of the observed rows, or None when no timestamp is missing (``stamps``
            are then the observed timestamps themselves).
        step: the frequency alias (datetimes) or numeric step, as messages name it.
    """

    stamps: pd.Index
    observed: np.ndarray | None
    step: str | int | float

    @property
    def on_grid(self) -> bool:
        """Whether ``stamps`` are every timestamp of frequency ``step`` from the first (datetimes, two rows or more:
        :func:`regular_axis` has then checked it), so that ``pd.date_range`` rebuilds them from the first."""
        return isinstance(self.stamps, pd.DatetimeIndex) and isinstance(self.step, str) and len(self.stamps) > 1

    @property
    def n_missing(self) -> int:
        return 0 if self.observed is None else len(self.stamps) - len(self.observed)

    def describe_first_gap(self) -> str:
        """``"<first missing> (between <observed before> and <observed after>)"``; call only when ``n_missing``."""
        row = int(np.flatnonzero(self.observed != np.arange(len(self.observed)))[0])  # first observed row after a gap
        before, after = self.stamps[self.observed[row - 1]], self.stamps[self.observed[row]]
        return f"{self.stamps[self.observed[row - 1] + 1]} (between {before} and {after})"


class TimeAxes(Sequence[pd.Index]):
    """The time axes of a panel's series: a read-only sequence of pandas Indexes, one per series.

    A :class:`RegularAxis` on a datetime grid is held as its first timestamp and its length, and rebuilt by
    ``pd.date_range`` when read (tens of microseconds): a DatetimeIndex costs 8 bytes a row, twice the float32
    values of a one-channel series, and held for every series of a 100k-series panel it was the largest part of
    the data module's memory. Any other axis is held as given.

    Args:
        axes: per series, its time axis.
    """

    def __init__(self, axes: Iterable[RegularAxis | pd.Index]) -> None:
        self._given: dict[int, pd.Index] = {}  # position -> axis held as it is
        firsts, lengths, grid = [], [], None  # grid: (freq, dtype, name) shared by the rebuilt axes
        for position, axis in enumerate(axes):
            stamps = axis.stamps if isinstance(axis, RegularAxis) else axis
            shape = (axis.step, stamps.dtype, stamps.name) if isinstance(axis, RegularAxis) and axis.on_grid else None
            grid = grid or shape
            if shape is not None and shape == grid:
                firsts.append(stamps[0])
                lengths.append(len(stamps))
            else:
                self._given[position] = stamps
                firsts.append(pd.NaT)
                lengths.append(0)
        self._freq, dtype, name = grid or (None, "datetime64[ns]", None)
        self._firsts = pd.DatetimeIndex(firsts, dtype=dtype, name=name)
        self._lengths = np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._lengths)

    def __getitem__(self, position: int) -> pd.Index:
        position = range(len(self))[position]  # negative positions, and IndexError past the end
        if position in self._given:
            return self._given[position]
        first = self._firsts[position]
        return pd.date_range(first, periods=int(self._lengths[position]), freq=self._freq, unit=self._firsts.unit,
                             name=self._firsts.name)

    def select(self, keep: Sequence[int]) -> TimeAxes:
        """The axes at positions ``keep``, held as compactly."""
        selected = TimeAxes([])
        selected._freq, selected._firsts, selected._lengths = self._freq, self._firsts[keep], self._lengths[keep]
        selected._given = {new: self._given[old] for new, old in enumerate(keep) if old in self._given}
        return selected


def canonical_freq(freq: str) -> str:
    """``freq`` as pandas spells it (``"60min"`` -> ``"h"``); FrequencyError if it is no pandas frequency."""
    try:
        return to_offset(freq).freqstr
    except (TypeError, ValueError) as error:
        raise FrequencyError(
            f"freq={freq!r} is not a pandas frequency (such as 'h', 'D' or '15min'): {error}"
        ) from None


def infer_freq(stamps: pd.Index) -> str | None:
    """The frequency pandas infers for regular datetime stamps (at least 3), else None."""
    if not isinstance(stamps, pd.DatetimeIndex) or len(stamps) < 3:
        return None
    try:
        offset = pd.DatetimeIndex(stamps, freq="infer").freq  # pd.infer_freq's str return is deprecated
    except (TypeError, ValueError):
        return None
    return None if offset is None else offset.freqstr


def _fixed_step(freq: str, stamps: pd.DatetimeIndex) -> int | None:
    """One step of ``freq`` in the units of ``stamps.asi8`` when it is the same duration all along that axis
    (sub-daily frequencies, and days on a tz-naive axis), else None (months, weekdays, days across a DST change)."""
    return _fixed_step_in(freq, stamps.tz is None, stamps.unit)


@functools.lru_cache(maxsize=64)  # once per frequency and axis dtype, not once per series of a panel
def _fixed_step_in(freq: str, naive: bool, unit: str) -> int | None:
    offset = to_offset(freq)
    if not (isinstance(offset, Tick) or (isinstance(offset, Day) and naive)):
        return None
    step, one = pd.Timedelta(offset), pd.Timedelta(1, unit=unit)
    return int(step // one) if step % one == pd.Timedelta(0) else None


def _even_step(stamps: pd.DatetimeIndex) -> int | None:
    """The one difference between consecutive ``stamps`` (``asi8`` units), or None if they differ or are too few."""
    values = stamps.asi8
    if len(values) < 2:
        return None
    step = values[1] - values[0]
    return int(step) if (np.diff(values) == step).all() else None


def _most_common_diff(values: np.ndarray) -> np.generic:
    """The most common difference between consecutive ``values``, the smallest among ties."""
    steps, counts = np.unique(np.diff(values), return_counts=True)
    return steps[np.argmax(counts)]


def most_common_step(stamps: pd.Index) -> pd.Timedelta | int | float | None:
    """The most common difference between consecutive (sorted, unique) timestamps, the smallest among ties.

    Float axes group differences equal up to rounding and return their mean, so the step carries no rounding
    error of one difference. None for fewer than two timestamps.
    """
    if len(stamps) < 2:
        return None
    if isinstance(stamps, pd.DatetimeIndex):
        return pd.Timedelta(int(_most_common_diff(stamps.asi8)), unit=stamps.unit)
    values = stamps.to_numpy()
    if pd.api.types.is_integer_dtype(values.dtype):
        return int(_most_common_diff(values))
    diffs = np.diff(values.astype(np.float64))
    buckets = np.round(diffs / np.median(diffs), 6)  # equal steps up to float rounding share a bucket
    keys, counts = np.unique(buckets, return_counts=True)
    return float(diffs[buckets == keys[np.argmax(counts)]].mean())


def step_freq(step: pd.Timedelta) -> str:
    """Alias of a fixed datetime step; whole days as ``"D"`` multiples (calendar days, as pandas infers them)."""
    days, rest = divmod(step, pd.Timedelta(days=1))
    if days and not rest:
        return "D" if days == 1 else f"{days}D"
    return to_offset(step).freqstr


def _datetime_grid(stamps: pd.DatetimeIndex, freq: str, series_id: Hashable) -> pd.DatetimeIndex:
    """``freq``'s timestamps from the first of ``stamps`` to the last, refusing implausibly long grids."""
    offset = to_offset(freq)
    step = (stamps[0] + offset) - stamps[0]  # one step (calendar offsets: the one after the first stamp)
    if step <= pd.Timedelta(0):
        raise FrequencyError(f"freq={freq!r} does not move time forward")
    n_grid = (stamps[-1] - stamps[0]) // step + 1
    if n_grid > max(MAX_GRID_GROWTH * len(stamps), _MIN_GRID_GUARD):
        raise FrequencyError(
            f"series {series_id!r}: frequency {freq!r} would stretch its {len(stamps)} timestamps from {stamps[0]} "
            f"to {stamps[-1]} over about {n_grid} rows; check freq (the most common step of the data is "
            f"{most_common_step(stamps)})"
        )
    return pd.date_range(stamps[0], stamps[-1], freq=offset, unit=stamps.unit, name=stamps.name)


def panel_freq(timestamps: Sequence[pd.Index], series_ids: Sequence[Hashable], freq: str | None) -> str | None:
    """The one frequency of all series' datetime axes: ``freq`` if given, else inferred (None for numeric axes).

    Series with gaps defeat pandas' inference; they take the frequency inferred from the regular series when
    their most common step is one of its steps (a weekly series with a gap joins ``"W-SUN"``), else (no series
    is regular) the frequency of their most common step. None when no series has two timestamps: there is no step
    to infer, and such series are too short for any window, which is the error their reader reports.

    Raises:
        FrequencyError: an invalid ``freq``, or series with different frequencies.
    """
    if freq is not None:
        return canonical_freq(freq)
    if not timestamps or not isinstance(timestamps[0], pd.DatetimeIndex):
        return None
    inferred = _inferred_freqs(timestamps)
    found: dict[str, Hashable] = {}  # frequency -> the first series that has it
    for series_freq, series_id in zip(inferred, series_ids):
        if series_freq is not None:
            found.setdefault(series_freq, series_id)
    regular = next(iter(found)) if len(found) == 1 else None
    for stamps, series_freq, series_id in zip(timestamps, inferred, series_ids):
        if series_freq is not None or len(stamps) < 2:
            continue
        step = _most_common_diff(stamps.asi8)  # in units of stamps.unit
        if regular is not None and step in np.diff(_datetime_grid(stamps, regular, series_id).asi8):
            continue
        found.setdefault(step_freq(pd.Timedelta(int(step), unit=stamps.unit)), series_id)
    if len(found) > 1:
        described = ", ".join(f"{f!r} (series {series_id!r})" for f, series_id in found.items())
        raise FrequencyError(
            f"series have different frequencies: {described}; resample them to one, or pass freq= to read every "
            "series at that frequency"
        )
    return next(iter(found), None)


def _inferred_freqs(timestamps: Sequence[pd.Index]) -> list[str | None]:
    """:func:`infer_freq` of each axis. Inferring costs more than the rest of reading a series, so tz-naive, evenly
    spaced axes of one dtype and step share one inference when it finds a fixed-duration frequency shorter than a
    month: pandas then answers from the step alone (a weekly step's anchor, a month, a DST change are inferred
    per axis)."""
    shared: dict[tuple, str] = {}  # (dtype, step) -> frequency
    inferred = []
    for stamps in timestamps:
        naive = isinstance(stamps, pd.DatetimeIndex) and stamps.tz is None and len(stamps) >= 3
        even = _even_step(stamps) if naive else None
        key = (stamps.dtype, even)
        if even is not None and key in shared:
            inferred.append(shared[key])
            continue
        freq = infer_freq(stamps)
        if (even is not None and freq is not None and _fixed_step(freq, stamps) == even
                and pd.Timedelta(even, unit=stamps.unit) < _SHORTER_THAN_MONTHS):
            shared[key] = freq
        inferred.append(freq)
    return inferred


def describe_irregular_step(stamps: pd.Index) -> str:
    """The first step of ``stamps`` that differs from their most common one, as ``"A -> B (row i)"``, or ``""``."""
    if len(stamps) < 3:
        return ""
    values = stamps.asi8 if isinstance(stamps, pd.DatetimeIndex) else stamps.to_numpy()
    odd = np.flatnonzero(np.diff(values) != _most_common_diff(values))
    return f"{stamps[odd[0]]} -> {stamps[odd[0] + 1]} (row {odd[0] + 1})" if odd.size else ""


def _off_grid_error(stamps: pd.Index, row: int, step: str | int | float, series_id: Hashable) -> FrequencyError:
    after = f" (row {row}, after {stamps[row - 1]})" if row else " (row 0)"
    return FrequencyError(
        f"series {series_id!r}: timestamp {stamps[row]}{after} is not on the regular grid of step {step!r} from "
        f"{stamps[0]}; pass freq= (such as 'h' or 'D') or regularise the frame (DataFrame.resample / asfreq)"
    )


def _numeric_axis(stamps: pd.Index, series_id: Hashable) -> RegularAxis:
    step = most_common_step(stamps)
    if isinstance(stamps, pd.RangeIndex) or step is None:
        return RegularAxis(stamps, None, stamps.step if isinstance(stamps, pd.RangeIndex) else 1)
    values = stamps.to_numpy()
    if isinstance(step, int):
        offsets = values - values[0]
        positions, off_grid = offsets // step, offsets % step != 0
    else:
        exact = (values - values[0]) / step
        positions = np.rint(exact)
        off_grid = np.abs(exact - positions) > _FLOAT_TOLERANCE
    if off_grid.any():
        raise _off_grid_error(stamps, int(np.flatnonzero(off_grid)[0]), step, series_id)
    n_grid = int(positions[-1]) + 1
    if n_grid == len(stamps):
        return RegularAxis(stamps, None, step)
    if n_grid > max(MAX_GRID_GROWTH * len(stamps), _MIN_GRID_GUARD):
        raise FrequencyError(f"series {series_id!r}: step {step} would stretch its {len(stamps)} timestamps over "
                             f"{n_grid} rows; regularise the frame")
    observed = positions.astype(np.int64)
    if isinstance(step, int):
        grid = pd.RangeIndex(int(values[0]), int(values[0]) + n_grid * step, step, name=stamps.name)
    else:
        grid_values = values[0] + np.arange(n_grid) * step
        grid_values[observed] = values  # observed timestamps keep their exact values
        grid = pd.Index(grid_values, name=stamps.name)
    return RegularAxis(grid, observed, step)


def regular_axis(stamps: pd.Index, freq: str | None, series_id: Hashable) -> RegularAxis:
    """Place the sorted, unique ``stamps`` of one series on the grid of ``freq`` (datetimes) or of their most
    common step (numbers; a RangeIndex is regular as it is).

    Raises:
        FrequencyError: a timestamp lies off the grid (the message names it and the one before it), or the grid
            would be implausibly long.
    """
    if not isinstance(stamps, pd.DatetimeIndex):
        return _numeric_axis(stamps, series_id)
    if freq is None or len(stamps) < 2:
        return RegularAxis(stamps, None, freq)
    step = _fixed_step(freq, stamps)
    if step is not None and _even_step(stamps) == step:  # already its own grid: no need to build it
        return RegularAxis(stamps, None, freq)
    grid = _datetime_grid(stamps, freq, series_id)
    if len(grid) == len(stamps) and grid.equals(stamps):
        return RegularAxis(stamps, None, freq)
    observed = grid.get_indexer(stamps)
    if (observed < 0).any():
        raise _off_grid_error(stamps, int(np.flatnonzero(observed < 0)[0]), freq, series_id)
    step = _most_common_diff(stamps.asi8)
    if step not in np.diff(grid.asi8):  # e.g. daily data read at 'h': filling 23 of 24 rows is resampling
        raise FrequencyError(
            f"series {series_id!r}: its timestamps are mostly {pd.Timedelta(int(step), unit=stamps.unit)} apart, "
            f"which is no step of frequency {freq!r}; resample the frame (DataFrame.resample) or pass the data's "
            "own freq="
        )
    return RegularAxis(grid, observed, freq)
