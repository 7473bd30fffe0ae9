"""save/load: identical predictions, no frame needed, and tampered directories refused without running code."""

from __future__ import annotations

import json
import os
import pickle

import pandas as pd
import pytest
import torch
from forecaster_frames import QUIET, hourly, panel, tiny

from tsbridge import Forecaster
from tsbridge.errors import UnsafeConfigError
from tsbridge.persistence import CONFIG_FILE, WEIGHTS_FILE, CorruptFileError, UnsafeCheckpointError


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


def test_a_calibrated_ensemble_round_trips_and_reads_out_its_members_mean_weight(tmp_path):
    """``members=2`` through the Forecaster: one fit trains both, and intervals, calibration, the blend readout and
    save/load all see the one averaged net."""
    fitted = tiny("blend", members=2, levels=[80], calibration="conformal", seed=0).fit(
        hourly(), target="load", time_col="date", val_size=0.25, **QUIET)
    members = fitted.module.net.members
    assert len(members) == 2 and fitted.predictor.calibration is not None
    alone = [float(torch.sigmoid(member.blend_parameters()[0].detach())) for member in members]  # scalar blend: one logit
    assert alone[0] != alone[1]
    assert fitted.blend_weights["past"] == pytest.approx(sum(alone) / 2, abs=1e-6)
    loaded = Forecaster.load(fitted.save(tmp_path / "ensemble"))
    assert loaded.module.hparams.members == 2
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())
    assert list(fitted.predict().columns) == ["load-lo-80", "load", "load-hi-80"]


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
    with pytest.raises(UnsafeCheckpointError, match=r"weights.pt is not a tsbridge weights file: it holds pickled "
                                                    r"objects.*not loaded") as raised:
        Forecaster.load(tampered)
    assert "weights_only=False" not in str(raised.value)  # torch's advice to unpickle is never passed on
    assert not marker.exists()


@pytest.mark.parametrize(("section", "change", "error", "message"), [
    ("module", lambda m: m["net"].update(_target_="os.system"), UnsafeCheckpointError, "is not a tsbridge net"),
    ("module", lambda m: m["optimizer"].update(_target_="builtins.exec"), UnsafeCheckpointError,
     "under 'torch.optim.'"),
    ("extras", lambda e: e["overrides"].append("+callbacks.evil._target_=os.system"), UnsafeCheckpointError,
     "could make fit"),
    ("extras", lambda e: e["overrides"].append("trainer._target_=builtins.exec"), UnsafeConfigError,
     "trainer._target_ names 'builtins.exec', which tsbridge does not build"),
])
def test_configs_naming_foreign_classes_are_refused(saved, tmp_path, section, change, error, message):
    tampered = _copy(saved, tmp_path)
    document = json.loads((tampered / CONFIG_FILE).read_text())
    change(document[section])
    (tampered / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(error, match=message):
        Forecaster.load(tampered)


def test_missing_or_foreign_directories(tmp_path, saved):
    with pytest.raises(FileNotFoundError, match="Forecaster.save"):
        Forecaster.load(tmp_path / "nothing")
    other = _copy(saved, tmp_path)
    (other / CONFIG_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="is not a tsbridge.forecaster file"):
        Forecaster.load(other)


# ---------------------------------------------------------------- issue 12: labels JSON does not hold natively
def test_integer_column_names_through_fit_save_and_load(tmp_path):
    frame = hourly().set_index("date").rename(columns={"load": 0, "temp": 1})
    fitted = tiny().fit(frame, target=0, features=[1], val_size=0.25, **QUIET)
    forecast = fitted.predict()
    assert list(forecast.columns) == [0]
    loaded = Forecaster.load(fitted.save(tmp_path / "int-columns"))
    pd.testing.assert_frame_equal(loaded.predict(), forecast)
    pd.testing.assert_frame_equal(loaded.predict(frame.iloc[:40]), fitted.predict(frame.iloc[:40]))


def test_datetime_panel_ids_through_fit_save_and_load(tmp_path):
    ids = {"a": pd.Timestamp("2020-01-01"), "b": pd.Timestamp("2021-06-01 12:00")}
    frame = panel().assign(store=lambda f: f["store"].map(ids))
    fitted = tiny().fit(frame, target="demand", time_col="time", id_col="store", val_size=0.25, **QUIET)
    path = fitted.save(tmp_path / "timestamp-ids")  # was: "Timestamp is not JSON serializable", an empty folder
    loaded = Forecaster.load(path)
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())
    assert list(loaded.predict().index.unique("store")) == list(ids.values())


# ---------------------------------------------------------------- issue 12: damaged and mismatched files
def test_a_truncated_weights_file_is_named(saved, tmp_path):
    damaged = _copy(saved, tmp_path)
    (damaged / WEIGHTS_FILE).write_bytes((saved / WEIGHTS_FILE).read_bytes()[:500])
    with pytest.raises(CorruptFileError, match=rf"{damaged / WEIGHTS_FILE} is truncated or corrupt"):
        Forecaster.load(damaged)


def test_a_truncated_config_file_is_named(saved, tmp_path):
    damaged = _copy(saved, tmp_path)
    (damaged / CONFIG_FILE).write_text((saved / CONFIG_FILE).read_text()[:300])
    with pytest.raises(CorruptFileError, match=rf"{damaged / CONFIG_FILE} is truncated or corrupt: not valid JSON"):
        Forecaster.load(damaged)


def test_weights_of_another_model_are_named(saved, fitted_daily, tmp_path):
    mixed = _copy(saved, tmp_path)
    (mixed / WEIGHTS_FILE).write_bytes((fitted_daily.save(tmp_path / "daily") / WEIGHTS_FILE).read_bytes())
    with pytest.raises(CorruptFileError, match=rf"{WEIGHTS_FILE} does not fit the model described in {CONFIG_FILE} "
                                               r"\(weights of another model\?\)"):
        Forecaster.load(mixed)


@pytest.mark.parametrize("section", ["data", "net"])
def test_an_edited_lookback_is_refused_at_load_naming_both_values(saved, tmp_path, section):
    edited = _copy(saved, tmp_path)
    document = json.loads((edited / CONFIG_FILE).read_text())
    (document["data"] if section == "data" else document["module"]["net"])["lookback"] = 32
    (edited / CONFIG_FILE).write_text(json.dumps(document))
    data, net = (32, 16) if section == "data" else (16, 32)
    with pytest.raises(CorruptFileError, match=rf"the data settings give lookback={data} but the saved net was "
                                               rf"built with lookback={net}"):
        Forecaster.load(edited)


# ---------------------------------------------------------------- issue 21: damaged or foreign saves, named at load
@pytest.mark.parametrize(("change", "error", "words"), [
    (lambda d: d["module"].update(net={"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 1}),
     UnsafeCheckpointError, r"module.net: _target_ 'torch.nn.Linear' is not a tsbridge net"),  # not lookback=None
    (lambda d: d["module"].update(foo=1), CorruptFileError, r"module.foo is no setting of a tsbridge model"),
    (lambda d: d["data"].update(freq="xyz"), CorruptFileError, r"data.freq 'xyz' is not a pandas frequency"),
    (lambda d: d["data"]["values"][0]["values"][3].__setitem__(0, "abc"), CorruptFileError,
     r"data.values\[0\] does not hold a tensor of numbers \(must be real number, not str\)"),
    (lambda d: d["data"]["scaler"]["std"]["values"][0].__setitem__(0, 0.0), CorruptFileError,
     r"data.scaler.std holds 0, but a fitted scaler's standard deviations are positive and finite"),
], ids=["foreign-net", "unknown-module-key", "bad-freq", "string-in-history", "zero-std"])
def test_an_edited_or_foreign_config_names_the_file_and_the_key(saved, tmp_path, change, error, words):
    edited = _copy(saved, tmp_path)
    document = json.loads((edited / CONFIG_FILE).read_text())
    change(document)
    (edited / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(error, match=rf"^{edited / CONFIG_FILE}: {words};"):
        Forecaster.load(edited)


@pytest.mark.parametrize(("content", "reason"), [
    (b"hello world, not torch" * 10, r"it begins with b'hell', as no file torch.save writes"),  # was KeyError: 101
    (b"\x80\x02" + b"e" * 50, r"pop from empty list"),  # a pickle's header, damaged after it: IndexError
], ids=["other-bytes", "damaged-pickle"])
def test_weights_holding_other_bytes_are_named(saved, tmp_path, content, reason):
    damaged = _copy(saved, tmp_path)
    (damaged / WEIGHTS_FILE).write_bytes(content)
    with pytest.raises(CorruptFileError, match=rf"^{damaged / WEIGHTS_FILE} is truncated or corrupt, not a readable "
                                               rf"torch file \({reason}\)$"):
        Forecaster.load(damaged)


# ---------------------------------------------------------------- issue 12: an interrupted save
def _disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_an_interrupted_save_keeps_the_previous_save_and_leaves_no_half_folder(fitted_hourly, tmp_path, monkeypatch):
    path = fitted_hourly.save(tmp_path / "model")
    before = Forecaster.load(path).predict()
    monkeypatch.setattr(torch, "save", _disk_full)  # weights.pt fails after forecaster.json was written
    with pytest.raises(OSError, match="No space left on device"):
        fitted_hourly.save(path)
    with pytest.raises(OSError, match="No space left on device"):
        fitted_hourly.save(tmp_path / "fresh")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder, no "fresh"
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    pd.testing.assert_frame_equal(Forecaster.load(path).predict(), before)


# ---------------------------------------------------------------- issue 21: saved overrides, parsed and resolved
def _scheduler_payload(tmp_path) -> tuple[str, object]:
    """A ``module.scheduler`` override whose target unpickles a file that creates a marker when read."""
    marker = tmp_path / "code-ran"
    pickled = tmp_path / "payload.pkl"
    pickled.write_bytes(pickle.dumps(_RunsCode(str(marker))))
    return f"module.scheduler={{_target_:pandas.read_pickle,filepath_or_buffer:'{pickled}'}}", marker


def test_a_scheduler_payload_reached_from_data_runs_when_built_from_python(tmp_path):
    """What the saved-override tests below refuse is live: composed as a user's own overrides, fit() runs it while
    building the data module (before the optimizer and scheduler checks)."""
    payload, marker = _scheduler_payload(tmp_path)
    forecaster = Forecaster.from_config(["model=lstm", payload, "data.seed=${module.scheduler}"], work_dir=tmp_path)
    with pytest.raises(Exception):  # the data module then fails on what the payload returned
        forecaster.fit(hourly(), target="load", time_col="date", val_size=0.25, max_epochs=1, **QUIET)
    assert marker.exists()


@pytest.mark.parametrize(("extra", "error", "words"), [
    (["data.seed=${module.scheduler}"], UnsafeCheckpointError, "holds an interpolation"),
    (["data.seed='\\${module.scheduler}'"], UnsafeCheckpointError, "holds an interpolation"),
    (["data.seed=\"${oc.decode:'{_target_: os.system}'}\""], UnsafeCheckpointError, "holds an interpolation"),
    (["data.seed=${oc.decode:'{_target_: os.system}'}"], UnsafeCheckpointError, "does not parse"),
    (["++data.seed=1"], UnsafeCheckpointError, "adds, deletes or moves"),
    (["~data.seed"], UnsafeCheckpointError, "adds, deletes or moves"),
    (["module.optimizer.lr=0.1,0.2"], UnsafeCheckpointError, "is a sweep"),
    ([], UnsafeConfigError, r"module.scheduler._target_ names 'pandas.read_pickle'"),  # no interpolation needed
])
def test_saved_overrides_that_could_build_code_are_refused_at_load(saved, tmp_path, extra, error, words):
    payload, marker = _scheduler_payload(tmp_path)
    tampered = _copy(saved, tmp_path)
    document = json.loads((tampered / CONFIG_FILE).read_text())
    document["extras"]["overrides"] += [payload, *extra]
    (tampered / CONFIG_FILE).write_text(json.dumps(document))
    with pytest.raises(error, match=words) as raised:
        Forecaster.load(tampered)
    assert str(tampered / CONFIG_FILE) in str(raised.value)
    assert not marker.exists()


def test_saved_overrides_that_only_set_values_still_load(saved, tmp_path):
    edited = _copy(saved, tmp_path)
    document = json.loads((edited / CONFIG_FILE).read_text())
    document["extras"]["overrides"] += ["module.optimizer={_target_:torch.optim.SGD,lr:0.01}",
                                        "module.scheduler={_target_:torch.optim.lr_scheduler.StepLR,step_size:2}"]
    (edited / CONFIG_FILE).write_text(json.dumps(document))
    assert Forecaster.load(edited).config.module.optimizer._target_ == "torch.optim.SGD"


def test_save_never_replaces_a_file_or_a_foreign_folder(fitted_hourly, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(FileExistsError, match=rf"{notes} exists and is not a folder written by Forecaster.save"):
        fitted_hourly.save(notes)
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n")
    with pytest.raises(FileExistsError, match=rf"{folder} is a folder holding data.csv, not a Forecaster.save"):
        fitted_hourly.save(folder)
    assert notes.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "project"]
    path = fitted_hourly.save(tmp_path / "model")
    assert fitted_hourly.save(path) == path  # an earlier save is replaced
