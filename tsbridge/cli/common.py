"""Pieces shared by the command-line tools. Importing this module changes nothing; :func:`quiet_runtime` does."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from tsbridge.quiet import drop_product_tips

# Errors a user can fix by changing the command line, the config or the data: shown as one line, not a
# traceback. FloatingPointError covers a diverging loss (tsbridge.module.NonFiniteLossError says what to change).
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, FloatingPointError, HydraException, OmegaConfBaseException)
def quiet_runtime() -> None:
    """Show only warnings a user can act on; called first by the command-line entry points.

    Third-party deprecation warnings (in code a user does not call) are hidden; tsbridge's own are kept.
    """
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=r"tsbridge(\..*)?$")
    # Lightning warns (and only warns) when no validation has run yet, e.g. in a run cut short by trainer.max_steps
    # or limit_val_batches=0; fit() validates once after training, so its hint to log val/loss would mislead.
    warnings.filterwarnings("ignore", message=r"`ModelCheckpoint\(monitor=.*could not find the monitored key")


def route_lightning_logs() -> None:
    """Print each Lightning log line once, without its product tips; call it after Lightning is imported.

    Lightning gives its loggers a console handler of their own when it is imported; under Hydra, whose root
    handler prints every record too, each line then appears twice. Lightning's records go to the root only.
    """
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    drop_product_tips()


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


@contextmanager
def report_errors(program: str) -> Iterator[None]:
    """Turn configuration and input errors into one line ``<program>: error: <message>`` and exit status 2.

    Multi-line messages (OmegaConf and Hydra add ``full_key: ...`` lines) are joined with ``; ``.
    Set ``HYDRA_FULL_ERROR=1`` (as Hydra itself suggests) to see the full traceback instead.
    """
    try:
        yield
    except USER_ERRORS as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        cause = _root_cause(error)
        message = str(cause) if isinstance(cause, USER_ERRORS) else str(error)
        message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
        print(f"{program}: error: {message}", file=sys.stderr)
        print("(set HYDRA_FULL_ERROR=1 for the full traceback)", file=sys.stderr)
        sys.exit(2)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
