"""load_dataset: synthetic data, ETT file lookup (never online), CSV/Parquet files and DataFrames."""

import numpy as np
import pandas as pd
import pytest

from tsbridge.data import DatasetNotFoundError, UnknownDatasetError, cache_dir, datasets, load_dataset

ETT_HEADER = "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n"
ETT_ROWS = "2016-07-01 00:00:00,1,2,3,4,5,6,7\n2016-07-01 01:00:00,1,2,3,4,5,6,8\n"


def test_synthetic_default():
    frame = load_dataset("synthetic")
    assert list(frame.columns) == ["date", "temperature", "load", "wind", "solar", "target"]
    assert len(frame) == 17_520 and (frame["date"].diff().iloc[1:] == pd.Timedelta("1h")).all()
    assert np.isfinite(frame.drop(columns="date").to_numpy()).all()


def test_synthetic_is_seeded_and_forecastable():
    first, again, other = (load_dataset("synthetic", n_rows=2000, seed=s) for s in (3, 3, 4))
    pd.testing.assert_frame_equal(first, again)
    assert not first["target"].equals(other["target"])
    target = first["target"].to_numpy()
    daily = np.corrcoef(target[24:], target[:-24])[0, 1]
    assert 0.3 < daily < 0.99  # seasonal but not trivially periodic


def test_synthetic_panel():
    frame = load_dataset("synthetic", n_rows=500, n_series=3, seed=1)
    assert frame.columns[0] == "series_id" and list(frame["series_id"].unique()) == ["s0", "s1", "s2"]
    assert len(frame) == 1500
    per_series = frame.groupby("series_id")["target"].mean()
    assert per_series.nunique() == 3


def write_ett(folder, name="ETTh1.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(ETT_HEADER + ETT_ROWS)
    return folder / name


def test_ett_lookup_order(tmp_path, monkeypatch):
    env_dir, explicit = tmp_path / "env", tmp_path / "explicit"
    write_ett(cache_dir(), "ETTh1.csv")
    assert load_dataset("etth1")["OT"].tolist() == [7, 8]  # cache dir
    write_ett(env_dir, "etth1.CSV")  # published names matched case-insensitively
    monkeypatch.setenv("TSBRIDGE_DATA_DIR", str(env_dir))
    assert datasets.ett_path("etth1") == env_dir / "etth1.CSV"  # the data dir wins over the cache
    path = write_ett(explicit, "custom.csv")
    assert datasets.ett_path("etth1", path=path) == path  # an explicit path wins over everything
    frame = load_dataset("ETTh1", path=explicit.parent / "env")  # a folder holding the file
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])


def test_ett_download_into_cache(monkeypatch):
    calls = []

    def fake_download(url, destination, timeout):
        calls.append(url)
        write_ett(destination.parent, destination.name)

    monkeypatch.setattr(datasets, "_download", fake_download)
    assert len(load_dataset("ettm2")) == 2
    assert calls == ["https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/ETTm2.csv"]
    load_dataset("ettm2")
    assert len(calls) == 1  # served from the cache afterwards


def test_ett_offline_error_says_where_to_put_the_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"network disabled.*put ETTh2\.csv.*TSBRIDGE_DATA_DIR"):
        load_dataset("etth2")
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        load_dataset("etth2", download=False)
    with pytest.raises(DatasetNotFoundError, match="missing"):
        load_dataset("etth2", path=tmp_path / "missing.csv")
    assert issubclass(DatasetNotFoundError, FileNotFoundError)


def test_files_and_frames(tmp_path):
    frame = load_dataset("synthetic", n_rows=50)
    frame.to_csv(tmp_path / "data.csv", index=False)
    frame.to_csv(tmp_path / "data.csv.gz", index=False)
    for loaded in (
        load_dataset(tmp_path / "data.csv", parse_dates=["date"]),
        load_dataset("csv", path=tmp_path / "data.csv.gz", parse_dates=["date"]),
        load_dataset(str(tmp_path / "data.csv"), parse_dates=["date"]),
    ):
        pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    assert load_dataset(frame) is frame
    with pytest.raises(UnknownDatasetError, match="path"):
        load_dataset("csv")
    with pytest.raises(UnknownDatasetError, match="generates its rows and reads no file"):
        load_dataset("synthetic", path=tmp_path / "data.csv")  # never silently ignored
    with pytest.raises(DatasetNotFoundError):
        load_dataset(tmp_path / "absent.csv")


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    frame = load_dataset("synthetic", n_rows=20)
    frame.to_parquet(tmp_path / "data.parquet")
    pd.testing.assert_frame_equal(load_dataset("parquet", path=tmp_path / "data.parquet"), frame)
