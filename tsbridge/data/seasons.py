"""The season of a frequency: how many steps one seasonal cycle of the data spans.

``seasonal_naive`` repeats the value one season earlier, and MASE scales errors by the in-window seasonal naive;
both take their season from here unless it is given. The table (README, "Seasons") is the usual one of
forecasting libraries (R's ``forecast``, statsforecast): the daily cycle of sub-daily data, the weekly cycle of
daily data, the yearly cycle of weekly and coarser data.
"""

from __future__ import annotations

import pandas as pd
from pandas.tseries.frequencies import to_offset

DAY = pd.Timedelta(days=1)
# One step of these offsets -> steps per year (their season); their multiples ("2W", "3ME") have none.
_YEARLY = {
    pd.offsets.Week: 52,
    pd.offsets.MonthEnd: 12, pd.offsets.MonthBegin: 12,
    pd.offsets.BusinessMonthEnd: 12, pd.offsets.BusinessMonthBegin: 12,
    pd.offsets.QuarterEnd: 4, pd.offsets.QuarterBegin: 4,
    pd.offsets.YearEnd: 1, pd.offsets.YearBegin: 1,
}


def season_length(freq: str | None) -> int | None:
    """Steps per season of data at frequency ``freq``; None when the frequency implies none.

    * a sub-daily step that divides a day: the steps in a day (``"h"`` 24, ``"30min"`` 48, ``"15min"`` 96,
      ``"10min"`` 144, ``"2h"`` 12);
    * daily ``"D"``: 7 (the week);
    * weekly ``"W-*"``: 52, monthly ``"ME"``/``"MS"``: 12, quarterly ``"QE-*"``/``"QS-*"``: 4, yearly: 1.

    None for everything else: a numeric time axis (``freq`` None), business days, multi-day or multi-month steps,
    and sub-daily steps that do not divide a day (``"7h"``).
    """
    if freq is None:
        return None
    offset = to_offset(freq)
    if type(offset) is pd.offsets.Day:  # before Tick: pandas 2 counts a day as a fixed step, pandas 3 does not
        return 7 if offset.n == 1 else None
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset)
        return DAY // step if step < DAY and DAY % step == pd.Timedelta(0) else None
    return _YEARLY.get(type(offset)) if offset.n == 1 else None
