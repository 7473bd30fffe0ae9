"""Fixtures of the data-layer tests: marker frames (value = row index) and the real ETT folder, never the network."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsbridge.data import datasets

# CI keeps the ETT-small files next to the repository (../shared/data/ett); $TSBRIDGE_DATA_DIR overrides.
ETT_DIR = Path(os.environ.get(datasets.DATA_DIR_ENV) or Path(__file__).resolve().parents[2].parent / "shared/data/ett")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test touches the network, the user's cache or the caller's data folder."""

    def no_network(url, destination, timeout):
        raise OSError(f"network disabled in tests ({url})")

    monkeypatch.setattr(datasets, "_download", no_network)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)


@pytest.fixture
def ett_dir() -> Path:
    if not (ETT_DIR / "ETTh1.csv").is_file():
        pytest.skip(f"ETT-small files not found in {ETT_DIR}")
    return ETT_DIR


class Markers:
    """Marker frames: series ``s``, row ``r``, channel ``c`` hold ``s * STEP + r + c / 4`` (exact in float32)."""

    STEP = 10_000

    @classmethod
    def frame(cls, lengths: list[int], n_channels: int = 2, start: str = "2021-01-01") -> pd.DataFrame:
        """Long frame with columns ``series_id`` (``s0``...), hourly ``date`` and ``c0``, ``c1``..."""
        parts = []
        for series, n_rows in enumerate(lengths):
            marker = series * cls.STEP + np.arange(n_rows, dtype=np.float64)
            part = pd.DataFrame({"series_id": f"s{series}", "date": pd.date_range(start, periods=n_rows, freq="h")})
            for channel in range(n_channels):
                part[f"c{channel}"] = marker + channel / 4
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    @classmethod
    def rows(cls, values, series: int, channel: int):
        """Row positions encoded in ``values`` of channel ``channel`` of series ``series``."""
        return values - channel / 4 - series * cls.STEP


@pytest.fixture(scope="session")
def markers() -> type[Markers]:
    return Markers
