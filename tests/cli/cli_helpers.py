"""Helpers of the command-line tests (imported by name: pytest keeps one ``conftest`` module per folder).

The commands run as real subprocesses (``python -m tsbridge.cli.<name>``), as a user would run them, with
``TSBRIDGE_OUTPUT_DIR`` pointing at a temporary folder so nothing lands in the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# A few batches of tiny windows: every run takes seconds (conf/experiment/smoke.yaml); the hidden size is for the
# recurrent models, which all the subprocess tests use.
TINY = ["experiment=smoke", "model.hidden_size=8"]
# CI keeps the ETT-small files next to the repository (../shared/data/ett); $TSBRIDGE_DATA_DIR overrides.
ETT_DIR = Path(os.environ.get("TSBRIDGE_DATA_DIR") or HERE.parents[2] / "shared" / "data" / "ett")


def cli_env(output_root: Path) -> dict[str, str]:
    """The environment of a CLI subprocess: outputs under ``output_root``, one thread per process (the tests
    share two cores), ``tests/cli`` importable (for test-only callbacks), tracebacks folded as for users."""
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    env.update(
        TSBRIDGE_OUTPUT_DIR=str(output_root),
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
    )
    return env


def run_cli(program: str, *args: str, output_root: Path, check: bool = True, timeout: float = 180,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m tsbridge.cli.<program> *args`` in ``output_root``; with ``check`` fail the test (showing
    stderr) on a non-zero exit. ``env_extra`` adds environment variables."""
    result = subprocess.run(
        [sys.executable, "-m", f"tsbridge.cli.{program}", *args], cwd=output_root,
        env={**cli_env(output_root), **(env_extra or {})}, capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{program} {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def metrics_files(root: Path) -> list[Path]:
    """Every ``metrics.json`` under ``root``, sorted."""
    return sorted(root.rglob("metrics.json"))
