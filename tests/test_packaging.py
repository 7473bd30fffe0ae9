"""The wheel must carry every subpackage and the Hydra configs (conf/ ships as tsbridge.conf)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {"tsbridge", *(f"tsbridge.{p}" for p in find_packages(ROOT / "tsbridge"))}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["tsbridge.conf"] == "conf"


def test_configs_are_importable_as_a_package():
    import tsbridge.conf

    assert (Path(tsbridge.conf.__file__).parent / "train.yaml").is_file()
