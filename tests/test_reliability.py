"""Issue 12 outside the data layer's own checks: where the ETT files go, said in the words a user types."""

from __future__ import annotations

import pytest

from tsbridge.data.datasets import DATA_DIR_ENV, ett_path
from tsbridge.data.errors import DatasetNotFoundError


def test_the_missing_ett_file_message_names_the_python_and_command_line_keys(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError) as raised:
        ett_path("etth1", download=False)
    message = str(raised.value)
    assert "data.frame.path=" in message and "load_dataset('etth1', path=...)" in message
    assert f"${DATA_DIR_ENV}" in message and str(tmp_path / "cache" / "tsbridge") in message
