"""Keep Lightning's console output to what a user can act on; importing this module changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

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
