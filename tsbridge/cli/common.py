"""Pieces shared by the command-line tools."""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

# conf/hydra/launcher/{joblib,submitit_slurm}.yaml share the launcher plugins' names on purpose, so that
# `hydra/launcher=joblib` picks tsbridge's documented preset; Hydra then validates them against the plugins'
# schemas (wanted) and warns that this matching is deprecated. The presets list every field, so they keep working
# once Hydra stops matching.
warnings.filterwarnings("ignore", message=r"\n'hydra/launcher/.*' is validated against ConfigStore schema")

# Errors a user can fix by changing the command line, the config or the data: shown as one line, not a
# traceback. FloatingPointError covers a diverging loss (tsbridge.module.NonFiniteLossError says what to change).
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, FloatingPointError, HydraException, OmegaConfBaseException)


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
