"""Train/validation/test row ranges of one series.

The validation and test ranges start ``lookback`` rows before their border, so their first window's first target
row is the border itself: every target row stays inside its own split while the look-back may read the rows just
before it (the standard protocol of Informer, DLinear and Time-Series-Library).

With edge padding (``min_lookback``, see :mod:`tsbridge.data.windows`) a window may start up to
``pad = lookback - min_lookback`` rows before row 0, so ranges may begin below 0: training at ``-pad``, validation and
test ``lookback`` rows before their border but not before ``-pad``. Target rows are still real rows of their split.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Union

from pandas.tseries.frequencies import to_offset

from tsbridge.data.errors import DataValidationError, EmptySplitError

Split = Union[str, Sequence[float]]
SPLIT_PARTS = ("train", "val", "test")

# Row borders (end of train, end of validation, end of test) of the ETT-small files: 12/4/4 months.
ETT_BORDERS = {
    "ett-hourly": (12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24),
    "ett-15min": (12 * 30 * 24 * 4, 16 * 30 * 24 * 4, 20 * 30 * 24 * 4),
}

# The presets count rows of data at this frequency: on other data their borders fall on other dates.
ETT_FREQS = {"ett-hourly": "h", "ett-15min": "15min"}

RowRanges = dict[str, tuple[int, int]]

# "rows:V" or "rows:V:T": the last V rows of every series validate (after them, T rows test), whatever its length.
ROW_SPLIT = re.compile(r"rows:(\d+)(?::(\d+))?")


def row_split(val_rows: int, test_rows: int = 0) -> str:
    """The split that validates on the last ``val_rows`` rows of every series and tests on the ``test_rows`` after
    them: ``"rows:V"`` or ``"rows:V:T"``."""
    return f"rows:{val_rows}" + (f":{test_rows}" if test_rows else "")


def _ratios(split: Sequence[float]) -> list[float]:
    try:
        ratios = [float(r) for r in split]
    except (TypeError, ValueError):
        raise DataValidationError(f"split must be one of {list(ETT_BORDERS)} or 3 ratios, got {split!r}") from None
    if (len(ratios) != 3 or not min(ratios[:2]) > 0 or not ratios[2] >= 0
            or not math.isclose(sum(ratios), 1.0, abs_tol=1e-6)):
        raise DataValidationError(
            f"split ratios must be 3 numbers summing to 1, train and validation positive, test >= 0; got {split!r}"
        )
    return ratios


def _ratio_borders(n_rows: int, ratios: list[float]) -> tuple[int, int, int]:
    # Same rounding as Time-Series-Library: train and test are floored, validation takes the rest.
    n_train, n_test = int(n_rows * ratios[0]), int(n_rows * ratios[2])
    return n_train, n_rows - n_test, n_rows


def split_ranges(n_rows: int, split: Split, lookback: int, series_id: object = 0, freq: str | None = None,
                 min_lookback: int | None = None) -> RowRanges:
    """Row ranges ``[begin, end)`` that the windows of each split part may read.

    Args:
        n_rows: length of the series.
        split: ``"ett-hourly"`` (borders 8640/11520/14400), ``"ett-15min"`` (x4), ratios such as
            ``(0.7, 0.1, 0.2)``, applied to this series (train and test floored, validation the rest), or row counts
            ``"rows:V"`` / ``"rows:V:T"``: the series' last ``V`` rows validate (then ``T`` rows test) whatever its
            length, so with ``V`` = the horizon every series of a panel validates on one window, its last, as
            forecasting competitions test (a ratio gives a short series no validation window and a long one
            several). A test ratio or count of 0 asks for no test part: its range is then empty
            (``(n_rows, n_rows)``).
        lookback: look-back length L; validation/test begin ``L`` rows before their border (clipped at 0, or at
            ``-pad`` with padding).
        series_id: named in errors.
        freq: the series' frequency, if known: an ETT preset on data of another frequency is refused (its row
            borders would not be the 12/4/4 months it stands for).
        min_lookback: the fewest real rows a look-back may hold (1 <= m <= L, checked by the caller), the rest
            edge padding: ranges then begin up to ``pad = L - m`` rows before row 0. None: no padding.

    Returns:
        ``{"train": (-pad, b1), "val": (max(-pad, b1 - L), b2), "test": (max(-pad, b2 - L), b3)}``, ``pad`` 0
        without ``min_lookback``. Training rows, on which the scaler is fitted, are ``[0, b1)``. Rows from ``b3``
        on are unused (ETT presets).
    """
    rows = ROW_SPLIT.fullmatch(split) if isinstance(split, str) else None
    if rows is not None:
        val_rows, test_rows = int(rows[1]), int(rows[2] or 0)
        if val_rows < 1 or n_rows - val_rows - test_rows < 1:
            raise EmptySplitError(f"split {split!r} needs at least one validation row and one training row, but "
                                  f"series {series_id!r} has {n_rows} rows")
        borders, no_test = (n_rows - val_rows - test_rows, n_rows - test_rows, n_rows), test_rows == 0
    elif isinstance(split, str):
        if split not in ETT_BORDERS:
            raise DataValidationError(f"split must be one of {list(ETT_BORDERS)}, 'rows:V' / 'rows:V:T' (row counts) "
                                      f"or 3 ratios, got {split!r}")
        borders = ETT_BORDERS[split]
        if freq is not None and to_offset(freq) != to_offset(ETT_FREQS[split]):
            raise DataValidationError(
                f"split {split!r} counts rows of {ETT_FREQS[split]!r} data, but the data are at {freq!r}; use ratios"
            )
        if n_rows < borders[-1]:
            raise EmptySplitError(
                f"split {split!r} needs {borders[-1]} rows, but series {series_id!r} has {n_rows}; use ratios"
            )
        no_test = False
    else:
        ratios = _ratios(split)
        borders, no_test = _ratio_borders(n_rows, ratios), ratios[2] == 0
    train_end, val_end, test_end = borders
    earliest = 0 if min_lookback is None else min_lookback - lookback  # -pad: the first (padded) row a window reads
    return {
        "train": (earliest, train_end),
        "val": (max(earliest, train_end - lookback), val_end),
        "test": (test_end, test_end) if no_test else (max(earliest, val_end - lookback), test_end),
    }
