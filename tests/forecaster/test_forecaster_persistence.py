"""save/load: identical predictions, no frame needed, and tampered directories refused without running code."""

from __future__ import annotations

import json
import os
import pickle

import pandas as pd
import pytest
import torch
from forecaster_frames import hourly, panel

from tsbridge import Forecaster
from tsbridge.persistence import CONFIG_FILE, WEIGHTS_FILE, UnsafeCheckpointError


@pytest.fixture(scope="module")
def saved(fitted_hourly, tmp_path_factory):
    return fitted_hourly.save(tmp_path_factory.mktemp("saved") / "model")


def test_round_trip_predicts_identically(fitted_hourly, saved):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    loaded = Forecaster.load(saved)
    assert loaded.overrides == fitted_hourly.overrides and loaded.trainer is None
    frame = hourly()
    pd.testing.assert_frame_equal(loaded.predict(), fitted_hourly.predict())  # no frame: the saved tail
    pd.testing.assert_frame_equal(loaded.predict(frame.iloc[:50]), fitted_hourly.predict(frame.iloc[:50]))
    pd.testing.assert_frame_equal(loaded.backtest(frame, stride=30).forecasts,
                                  fitted_hourly.backtest(frame, stride=30).forecasts)
    assert loaded.blend_weights == fitted_hourly.blend_weights
    pd.testing.assert_frame_equal(loaded.blend_history, fitted_hourly.blend_history)
    assert loaded.metrics == fitted_hourly.metrics
    loaded.plot()  # the saved tail is enough history to draw


def test_round_trip_of_a_panel(fitted_panel, tmp_path):
    loaded = Forecaster.load(fitted_panel.save(tmp_path / "panel"))
    pd.testing.assert_frame_equal(loaded.predict(), fitted_panel.predict())
    pd.testing.assert_frame_equal(loaded.attention_weights(panel()), fitted_panel.attention_weights(panel()))


class _RunsCode:
    """Unpickling this object would create a marker file (a stand-in for arbitrary code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _copy(saved, tmp_path):
    target = tmp_path / "copy"
    target.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        (target / name).write_bytes((saved / name).read_bytes())
    return target


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_weights_with_a_pickled_payload_are_refused_and_not_executed(saved, tmp_path, writer):
    tampered = _copy(saved, tmp_path)
    marker = tmp_path / "code-ran"
    payload = {"net.head.weight": _RunsCode(str(marker))}
    with open(tampered / WEIGHTS_FILE, "wb") as file:
        torch.save(payload, file) if writer == "torch.save" else pickle.dump(payload, file)
    with pytest.raises(UnsafeCheckpointError, match=r"not a plain tensor state_dict.*weights_only=True"):
        Forecaster.load(tampered)
    assert not marker.exists()


@pytest.mark.parametrize(("section", "change", "message"), [
    ("module", lambda m: m["net"].update(_target_="os.system"), "is not a tsbridge net"),
    ("module", lambda m: m["optimizer"].update(_target_="builtins.exec"), "under 'torch.optim.'"),
    ("extras", lambda e: e["overrides"].append("+callbacks.evil._target_=os.system"), "could make fit"),
    ("extras", lambda e: e["overrides"].append("trainer._target_=builtins.exec"), "could make fit"),
])
def test_configs_naming_foreign_classes_are_refused(saved, tmp_path, section, change, message):
    tampered = _copy(saved, tmp_path)
    document = json.loads((tampered / CONFIG_FILE).read_text())
    change(document[section])
    (tampered / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(UnsafeCheckpointError, match=message):
        Forecaster.load(tampered)


def test_missing_or_foreign_directories(tmp_path, saved):
    with pytest.raises(FileNotFoundError, match="Forecaster.save"):
        Forecaster.load(tmp_path / "nothing")
    other = _copy(saved, tmp_path)
    (other / CONFIG_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="is not a tsbridge.forecaster file"):
        Forecaster.load(other)
