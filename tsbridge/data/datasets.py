"""``load_dataset``: the synthetic default, the ETT-small files, CSV/Parquet files and DataFrames."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from tsbridge.data.errors import DatasetNotFoundError, UnknownDatasetError
from tsbridge.data.synthetic import make_synthetic

# Published file stems of ETT-small (Zhou et al., 2021); columns date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT.
ETT_FILES = {"etth1": "ETTh1", "etth2": "ETTh2", "ettm1": "ETTm1", "ettm2": "ETTm2"}
ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{stem}.csv"
DATA_DIR_ENV = "TSBRIDGE_DATA_DIR"
DOWNLOAD_TIMEOUT_S = 10.0
FILE_SUFFIXES = (".csv", ".csv.gz", ".txt", ".parquet", ".pq")
DATASET_NAMES = ("synthetic", *ETT_FILES, "csv", "parquet")


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
        f"put {stem}.csv (or {stem}.csv.gz) in ${DATA_DIR_ENV} or {cache_dir()}, or pass path=...; "
        f"it is published at {url}"
    )
    if not download:
        raise DatasetNotFoundError(f"{stem} not found and download=False: {hint}")
    try:
        _download(url, destination, DOWNLOAD_TIMEOUT_S)
    except OSError as error:  # URLError, timeouts and disk errors are all OSErrors
        raise DatasetNotFoundError(f"{stem} not found locally and the download failed ({error}): {hint}") from None
    return destination


def load_dataset(
    name: str | os.PathLike | pd.DataFrame, path: str | os.PathLike | None = None, **options: Any
) -> pd.DataFrame:
    """Load a dataset as a pandas frame.

    Args:
        name: ``"synthetic"`` (the built-in default), ``"etth1"``, ``"etth2"``, ``"ettm1"``, ``"ettm2"``
            (ETT-small, hourly / 15-minute), ``"csv"`` or ``"parquet"`` (read ``path``), a file path, or a
            DataFrame (returned as is).
        path: file (or folder, for ETT) to read from.
        **options: ``synthetic``: ``n_rows``, ``n_series``, ``seed`` (see :func:`make_synthetic`); ETT:
            ``download`` (default True); files: keyword arguments of ``pandas.read_csv``/``read_parquet``.

    Returns:
        The frame; ETT and synthetic frames have a datetime ``date`` column.

    Raises:
        UnknownDatasetError: unknown name.
        DatasetNotFoundError: the file is missing (and, for ETT, cannot be downloaded).
    """
    if isinstance(name, pd.DataFrame):
        return name
    if not isinstance(name, (str, os.PathLike)):
        raise UnknownDatasetError(f"expected a dataset name, a file path or a DataFrame, got {type(name).__name__}")
    if isinstance(name, os.PathLike) or str(name).lower().endswith(FILE_SUFFIXES):
        return read_frame(name, **options)
    key = str(name).lower()
    if key == "synthetic":
        return make_synthetic(**options)
    if key in ETT_FILES:
        download = options.pop("download", True)
        return read_frame(ett_path(key, path, download), parse_dates=["date"], **options)
    if key in ("csv", "parquet"):
        if path is None:
            raise UnknownDatasetError(f"load_dataset({name!r}) needs path=...")
        return read_frame(path, **options)
    raise UnknownDatasetError(
        f"unknown dataset {name!r}; choose one of {list(DATASET_NAMES)}, a file path or a DataFrame"
    )
