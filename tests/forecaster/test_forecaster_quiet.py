"""A quiet notebook (issue 12): ``progress=False`` hides bars and the model summary, turning the bar off through
``trainer_kwargs`` does not crash, and a collected Forecaster removes its temporary folder without a warning."""

from __future__ import annotations

import gc
import warnings

from forecaster_frames import QUIET, hourly, tiny

BAR = "Epoch 0"  # TQDMProgressBar's description of the first epoch
SUMMARY = "Total params"  # the last table of Lightning's model summary


def fit_output(capfd, forecaster, **fit_args) -> str:
    forecaster.fit(hourly(), target="load", time_col="date", val_size=0.25, **{**QUIET, **fit_args})
    captured = capfd.readouterr()
    return captured.out + captured.err


def test_progress_false_hides_bars_and_the_model_summary(capfd):
    shown = fit_output(capfd, tiny(progress=True, enable_model_summary=True))
    assert BAR in shown and SUMMARY in shown  # what progress=False has to hide
    hidden = fit_output(capfd, tiny(progress=False, enable_model_summary=True))
    assert BAR not in hidden and SUMMARY not in hidden


def test_disabling_the_bar_through_trainer_kwargs_fits(capfd):
    forecaster = tiny(progress=True)
    output = fit_output(capfd, forecaster, trainer_kwargs={"enable_progress_bar": False, "num_sanity_val_steps": 0})
    assert BAR not in output and forecaster.predict().shape == (4, 1)


def test_a_collected_forecaster_removes_its_temporary_folder_without_a_resource_warning():
    forecaster = tiny(progress=False).fit(hourly(), target="load", time_col="date", val_size=0.25, **QUIET)
    work_dir = forecaster.work_dir
    assert any(work_dir.rglob("*.ckpt"))  # checkpoints and logs were written there
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del forecaster
        gc.collect()
    assert not work_dir.exists()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]
