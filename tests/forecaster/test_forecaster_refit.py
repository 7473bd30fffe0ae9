"""``refit``: once early stopping has chosen the epochs, train again on the training and validation windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from forecaster_frames import QUIET, panel, tiny

from tsbridge import Forecaster
from tsbridge.predictor import Predictor

# Series b has 24 rows: with the last quarter for validation its 18 training rows hold no window of 16 + 4.
FRAME_ARGS = {"target": "demand", "time_col": "time", "id_col": "store", "val_size": 0.25}


def windows_of(dataset, series: int) -> int:
    return int((dataset.origins()[:, 0] == series).sum())


@pytest.fixture(scope="module")
def selected_and_refitted():
    fits = []
    for refit in (False, True):
        forecaster = tiny("blend", max_epochs=3, limit_train_batches=None, refit=refit)
        with pytest.warns(UserWarning, match="1 of 2 series hold no training window"):
            fits.append(forecaster.fit(panel((140, 24)), **FRAME_ARGS, **QUIET))
    return fits


def test_refit_trains_the_best_epoch_count_on_the_validation_windows_too(selected_and_refitted):
    selected, refitted = (forecaster.result for forecaster in selected_and_refitted)
    best_epochs = torch.load(selected.best_checkpoint, weights_only=True)["epoch"] + 1
    assert selected.refit_epochs is None
    assert refitted.refit_epochs == best_epochs and refitted.trainer.current_epoch == best_epochs
    # The short series trains on all 5 windows of its 24 rows only after the refit.
    assert windows_of(selected.datamodule.train_dataset, 1) == 0
    assert windows_of(refitted.datamodule.train_dataset, 1) == 24 - 20 + 1
    assert windows_of(refitted.datamodule.train_dataset, 0) == windows_of(selected.datamodule.train_dataset, 0) + 35
    # The validation scores are the selection run's (the same seed and data), the test-free forecasts the refit's.
    # Two fits, so equal up to float summation order (a clean-clone CI run under load differed by 1e-9 relative).
    assert refitted.val == pytest.approx(selected.val, rel=1e-6)
    first, second = (forecaster.predict()["demand"].to_numpy() for forecaster in selected_and_refitted)
    assert not np.allclose(first, second)


def test_the_refitted_weights_are_saved_and_the_scaling_is_the_training_rows(selected_and_refitted):
    selected, refitted = (forecaster.result for forecaster in selected_and_refitted)
    assert refitted.best_checkpoint.endswith("checkpoints/refit.ckpt")
    saved = torch.load(refitted.best_checkpoint, weights_only=True)["state_dict"]
    for name, value in refitted.module.state_dict().items():
        torch.testing.assert_close(saved[name], value)
    # A data module rebuilt from the run's config (tsbridge-eval, tsbridge-predict) scales as the refit trained.
    for series in ("a", "b"):
        torch.testing.assert_close(refitted.datamodule.scaler.loc_scale(series, 1),
                                   selected.datamodule.scaler.loc_scale(series, 1))


def test_validation_forecasts_come_from_the_weights_validation_scored(selected_and_refitted):
    selected, refitted = (forecaster.result for forecaster in selected_and_refitted)
    forecast, actual = selected.validation_forecasts()
    assert forecast.shape == actual.shape == (len(selected.datamodule.val_dataset), 4, 1)
    # The module's own validation sMAPE (torchmetrics, a fraction) over the same windows.
    smape = (2 * (forecast - actual).abs() / (forecast.abs() + actual.abs())).mean()
    assert float(smape) == pytest.approx(selected.val["val_original/smape"], rel=1e-5)
    # With refit they are the selection run's (the same seed and data), not the refitted model's.
    assert refitted.selection_module is not None and selected.selection_module is None
    refit_forecast, refit_actual = refitted.validation_forecasts()
    torch.testing.assert_close(refit_forecast, forecast)
    torch.testing.assert_close(refit_actual, actual)
    predictor = Predictor.from_datamodule(refitted.module, refitted.datamodule)
    origins = refitted.datamodule.val_dataset.origins()
    refitted_weights = predictor.forecast(predictor.windows(predictor.history, origins)).point
    assert not torch.allclose(refitted_weights, forecast)


@pytest.mark.parametrize(("options", "words"), [
    ({"refit": True, "calibration": "conformal", "levels": [80]}, "choose one of refit and calibration"),
    ({"refit": True, "scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau"}},
     "ReduceLROnPlateau lowers the rate on val/loss"),
    ({"refit": "yes"}, "refit must be true or false, got 'yes'"),
])
def test_refit_is_refused_where_it_cannot_work(options, words):
    with pytest.raises(ValueError, match=words):
        Forecaster("lstm", lookback=16, horizon=4, **options)
