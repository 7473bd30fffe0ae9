"""A quiet notebook (issue 12): ``progress=False`` hides bars and the model summary, turning the bar off through
``trainer_kwargs`` does not crash, and a collected Forecaster removes its temporary folder without a warning."""

from __future__ import annotations

import gc
import logging
import warnings

from forecaster_frames import QUIET, hourly, tiny

BAR = "Epoch 0"  # TQDMProgressBar's description of the first epoch
SUMMARY = "trainable parameters of"  # the last line of the model summary (tsbridge.quiet.ParameterSummary)


def fit_output(capfd, forecaster, **fit_args) -> str:
    forecaster.fit(hourly(), target="load", time_col="date", val_size=0.25, **{**QUIET, **fit_args})
    captured = capfd.readouterr()
    return captured.out + captured.err


def test_progress_false_hides_bars_and_the_model_summary(capfd):
    shown = fit_output(capfd, tiny(progress=True, enable_model_summary=True))
    assert BAR in shown and SUMMARY in shown  # what progress=False has to hide
    hidden = fit_output(capfd, tiny(progress=False, enable_model_summary=True))
    assert BAR not in hidden and SUMMARY not in hidden


def test_the_summary_lists_modules_with_parameters_only_and_no_validation_bar_is_repeated(capfd):
    shown = fit_output(capfd, tiny(progress=True, enable_model_summary=True))
    assert "net  | BridgedLSTM |" in shown  # the one module holding parameters
    assert "ModuleDict" not in shown and "Flops" not in shown and "already configured" not in shown
    # One epoch, no sanity check: one validation bar (fit's own pass over the best weights draws none).
    assert shown.count("Validation DataLoader 0:   0%") == 1


def test_a_parameter_free_baseline_gets_a_summary_with_no_rows(capfd):
    shown = fit_output(capfd, tiny("naive", progress=True, enable_model_summary=True))
    assert "0 trainable parameters of 0" in shown


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


def test_progress_false_hides_lightnings_information_lines_and_no_fit_prints_product_tips():
    """What reaches Lightning's console handler: its information lines with progress=True, warnings only with
    progress=False, and never a product tip."""

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    logger = logging.getLogger("lightning.pytorch")
    collect = Collect()
    logger.addHandler(collect)
    try:
        # With the configured CSV logger, where Lightning advertises its cloud loggers.
        tiny(progress=True).fit(hourly(), target="load", time_col="date", val_size=0.25,
                                trainer_kwargs=QUIET["trainer_kwargs"])
        shown, collect.messages = collect.messages, []
        tiny(progress=False).fit(hourly(), target="load", time_col="date", val_size=0.25, **QUIET)
        hidden = collect.messages
    finally:
        logger.removeHandler(collect)
    assert any("GPU available" in message for message in shown)  # what progress=False has to hide
    assert not any("GPU available" in message or "Trainer.fit` stopped" in message for message in hidden)
    assert not any("💡" in message for message in shown + hidden)


def test_a_baseline_fits_without_lightnings_optimizer_and_clipping_warnings():
    # naive has no parameters by design: nothing to optimise or clip, no loss to return.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny("naive", progress=False).fit(hourly(), target="load", time_col="date", val_size=0.25, **QUIET)
    messages = [str(w.message) for w in caught]
    for noise in ("configure_optimizers", "training_step", "gradient clipping"):
        assert not any(noise in m for m in messages), messages
