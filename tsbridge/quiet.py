"""Keep Lightning's console output to what a user can act on; importing this module changes nothing."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from lightning.pytorch.callbacks import ModelSummary

#: The loggers Lightning writes its console lines to.
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning", "lightning.pytorch.utilities.rank_zero")
# Lightning's log lines that advertise products rather than describe the run.
_ADVERTISING = ("💡 Tip", "litlogger", "litmodels", "lightning.ai")


class DropProductTips(logging.Filter):
    """Drops Lightning's product advertisements ("💡 Tip: ... try installing litlogger")."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(marker in message for marker in _ADVERTISING)


def drop_product_tips() -> None:
    """Filter the advertisements out of Lightning's loggers (once; later calls change nothing)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, DropProductTips) for existing in logger.filters):
            logger.addFilter(DropProductTips())


@contextmanager
def lightning_warnings_only() -> Iterator[None]:
    """While inside, Lightning logs warnings and errors only (no "GPU available" / "`Trainer.fit` stopped" lines)."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def hide_third_party_noise() -> None:
    """Install the warning filters every entry point shares (global; use inside ``warnings.catch_warnings()`` to
    keep them local).

    Third-party deprecation warnings (in code a user does not call, e.g. Lightning's use of torch's ``LeafSpec``)
    are hidden, tsbridge's own kept. Lightning's hints that do not apply to tsbridge's fits are hidden too: the
    monitored key missing before the first validation (``fit`` validates once after training) and a logging
    interval longer than a tiny epoch (every epoch's metrics are logged anyway), and for the parameter-free
    baselines: no optimizer, no gradient clipping, a training step without a loss.
    """
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=r"tsbridge(\..*)?$")
    warnings.filterwarnings("ignore", message=r".*is deprecated, use `isinstance\(treespec")
    warnings.filterwarnings("ignore", message=r"`ModelCheckpoint\(monitor=.*could not find the monitored key")
    warnings.filterwarnings("ignore", message=r"The number of training batches .* is smaller than the logging interval")
    # The parameter-free baselines (naive, seasonal_naive) have nothing to optimise or clip, by design.
    for message in (r"`parameters` is an empty generator, no gradient clipping",
                    r".*configure_optimizers.* returned `None`", r"`training_step` returned `None`"):
        warnings.filterwarnings("ignore", message=message)


@contextmanager
def quiet_fit(progress: bool = True) -> Iterator[None]:
    """The one quiet set-up of a fit, shared by the Forecaster and the benchmarks (the CLI installs the same filters
    for its whole process): no product tips, no third-party noise, and with ``progress=False`` none of
    Lightning's information lines ("GPU available", "`Trainer.fit` stopped")."""
    drop_product_tips()
    with warnings.catch_warnings():
        hide_third_party_noise()
        with nullcontext() if progress else lightning_warnings_only():
            yield


class ParameterSummary(ModelSummary):
    """Lightning's model summary, cut to what a reader can act on: the modules that hold parameters, their types and
    sizes, and the totals. A :class:`~tsbridge.module.ForecastModule` also holds its metrics and loss as modules
    (six rows of 0 parameters), and Lightning counts FLOPs only when a module has an example input, so it would
    print ``Total Flops: 0``."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int,
                  **summarize_kwargs: Any) -> None:
        from lightning.pytorch.utilities.model_summary.model_summary import get_human_readable_count

        columns = dict(summary_data)
        rows = [(name, kind, params) for name, kind, params in zip(columns["Name"], columns["Type"], columns["Params"])
                if params.strip() != "0"]
        # A parameter-free baseline (naive, seasonal_naive) has no rows: the header alone sets the widths.
        headers = ("Name", "Type", "Params")
        widths = [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)]
        lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths))
                 for row in [headers, *rows]]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"{get_human_readable_count(trainable_parameters).strip()} trainable parameters of "
                     f"{get_human_readable_count(total_parameters).strip()} ({model_size:,.3f} MB)")
        # Printed, as Lightning's default (rich) summary prints to its console: shown in terminals and notebooks
        # whatever the logging set-up; enable_model_summary=False (progress=False) leaves this callback out.
        print("\n".join(lines), flush=True)
