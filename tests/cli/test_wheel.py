"""The wheel carries the configs: the commands work from an installed package, outside the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cli_helpers import cli_env

import tsbridge.conf

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONF = Path(tsbridge.conf.__file__).parent
SOURCES = ("pyproject.toml", "README.md", "tsbridge", "conf")


def test_wheel_contains_every_config_file_and_runs_outside_the_repository(tmp_path):
    # Built from a copy, so the build leaves no build/ or egg-info folder in the checkout; offline, no isolation.
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("tsbridge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {f"tsbridge/conf/{p.relative_to(CONF).as_posix()}" for p in CONF.rglob("*.yaml")}
    assert "tsbridge/conf/train.yaml" in configs and "tsbridge/conf/eval.yaml" in configs
    assert configs <= names, f"missing from the wheel: {sorted(configs - names)}"
    for module in ("train", "evaluate", "predict", "report"):
        assert f"tsbridge/cli/{module}.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("tsbridge-train = tsbridge.cli.train:main", "tsbridge-eval = tsbridge.cli.evaluate:main",
                   "tsbridge-predict = tsbridge.cli.predict:main", "tsbridge-report = tsbridge.cli.report:main"):
        assert script in scripts

    # Unpacked on PYTHONPATH (ahead of the editable install), run from a folder outside the checkout.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**cli_env(elsewhere), "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-m", "tsbridge.cli.train", "experiment=smoke", "model=attention", "--cfg", "job"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    assert "bridge: attention" in result.stdout and "n_rows: 600" in result.stdout
    origin = subprocess.run([sys.executable, "-c", "import tsbridge.conf; print(tsbridge.conf.__file__)"],
                            cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(origin.strip()).is_relative_to(site)
