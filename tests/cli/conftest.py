"""Fixtures of the command-line tests: an output folder per test, a CLI runner bound to it, one trained run."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import TINY, metrics_files, run_cli

RunCli = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def output_root(tmp_path: Path) -> Path:
    """This test's ``TSBRIDGE_OUTPUT_DIR`` (and the commands' working folder)."""
    root = tmp_path / "out"
    root.mkdir()
    return root


@pytest.fixture
def cli(output_root: Path) -> RunCli:
    """``cli(program, *args, check=True, env_extra=None)``: run ``tsbridge.cli.<program>`` with this test's outputs."""

    def run(program: str, *args: str, **options) -> subprocess.CompletedProcess:
        return run_cli(program, *args, output_root=output_root, **options)

    return run


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of one tiny ``tsbridge-train`` run (blend bridge), shared by the tests that read it."""
    root = tmp_path_factory.mktemp("trained")
    run_cli("train", *TINY, output_root=root)
    (metrics,) = metrics_files(root)
    return metrics.parent
