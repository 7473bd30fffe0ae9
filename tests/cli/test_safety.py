"""Issue 12 on the command line: a run folder cannot make ``tsbridge-eval`` run code, and damaged, foreign or pickled
checkpoints (for ``tsbridge-eval`` and for resuming) end with one line naming the file, never a traceback.

Each payload creates a marker file when it runs; the tests first show that it does when Hydra instantiates it
(Hydra's own block list does not stop unpickling loaders), then that the command refuses it and no marker appears.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from cli_helpers import TINY, metrics_files
from hydra.utils import instantiate
from omegaconf import OmegaConf

pytestmark = pytest.mark.slow


class RunsCode:
    """Unpickling this object runs ``touch <marker>`` (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run folder (checkpoints, .hydra/config.yaml, metrics.json)."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def payloads(folder: Path, marker: Path) -> dict[str, dict]:
    """``data.frame`` configs that each run ``touch <marker>`` when instantiated; Hydra's own block list (which
    refuses ``os.system`` and the like) lets every one of them through."""
    pickled = folder / "payload.pkl"
    pickled.write_bytes(pickle.dumps(RunsCode(marker)))
    torch_file = folder / "payload.pt"
    torch.save(RunsCode(marker), torch_file)
    read_pickle = {"_target_": "pandas.read_pickle", "filepath_or_buffer": str(pickled)}
    return {
        "pandas.read_pickle": read_pickle,
        "torch.load": {"_target_": "torch.load", "f": str(torch_file), "weights_only": False},
        "joblib.load": {"_target_": "joblib.load", "filename": str(pickled)},
        # Hydra instantiates nested configs too: an allowed loader with a payload as an argument.
        "nested": {"_target_": "tsbridge.data.load_dataset", "name": "synthetic", "n_rows": read_pickle},
    }


def live(config: dict, marker: Path) -> None:
    """Show that ``config`` runs its payload when Hydra instantiates it, then clear the marker."""
    try:
        instantiate(OmegaConf.create(config))
    except Exception:  # the loader may fail on what the payload returned, after the code ran
        pass
    assert marker.exists(), "the payload did not run: the test would prove nothing"
    marker.unlink()


def refused(result, marker: Path, output_root: Path, source: Path, key: str, target: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"tsbridge-eval: error: {source}: {key} names '{target}', which tsbridge does not build" in result.stderr
    assert "Nothing was built" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()  # nothing ran
    assert not list(output_root.rglob("eval_metrics.json"))


@pytest.mark.parametrize("payload", ["pandas.read_pickle", "torch.load", "joblib.load", "nested"])
def test_eval_refuses_a_run_config_that_names_foreign_code(cli, output_root, run_copy, tmp_path, payload):
    marker = tmp_path / "code-ran"
    frame = payloads(tmp_path, marker)[payload]
    live(frame, marker)

    config_file = run_copy / ".hydra" / "config.yaml"
    config = OmegaConf.load(config_file)
    config.data.frame = frame
    OmegaConf.save(config, config_file)
    result = cli("evaluate", f"ckpt_path={run_copy / 'checkpoints' / 'last.ckpt'}", check=False)
    key, target = (("data.frame.n_rows._target_", "pandas.read_pickle") if payload == "nested"
                   else ("data.frame._target_", payload))
    refused(result, marker, output_root, config_file, key, target)


def test_eval_refuses_a_data_node_naming_foreign_code_in_metrics_json(cli, output_root, run_copy, tmp_path):
    marker = tmp_path / "code-ran"
    (run_copy / ".hydra" / "config.yaml").unlink()  # eval falls back on the config stored in metrics.json
    summary = json.loads((run_copy / "metrics.json").read_text())
    summary["config"]["data"] = payloads(tmp_path, marker)["pandas.read_pickle"]  # the whole data node
    live(summary["config"]["data"], marker)
    (run_copy / "metrics.json").write_text(json.dumps(summary))
    result = cli("evaluate", f"ckpt_path={run_copy / 'checkpoints' / 'last.ckpt'}", check=False)
    refused(result, marker, output_root, run_copy / "metrics.json", "data._target_", "pandas.read_pickle")


def test_eval_refuses_a_run_config_file_given_by_hand(cli, output_root, trained_run, tmp_path):
    marker = tmp_path / "code-ran"
    config = OmegaConf.load(trained_run / ".hydra" / "config.yaml")
    config.data.frame = payloads(tmp_path, marker)["joblib.load"]
    OmegaConf.save(config, tmp_path / "moved.yaml")
    result = cli("evaluate", f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}",
                 f"run_config={tmp_path / 'moved.yaml'}", check=False)
    refused(result, marker, output_root, tmp_path / "moved.yaml", "data.frame._target_", "joblib.load")


# ---------------------------------------------------------------- damaged and foreign checkpoints
def damage(checkpoint: Path, kind: str, marker: Path) -> None:
    """Replace ``checkpoint`` by a truncated, empty, pickled, foreign or edited one."""
    good = checkpoint.read_bytes()
    if kind == "truncated":
        checkpoint.write_bytes(good[: len(good) // 2])
    elif kind == "empty":
        checkpoint.write_bytes(b"")
    elif kind == "pickled":
        torch.save({"state_dict": {"net.head.weight": RunsCode(marker)}, "hyper_parameters": {}}, checkpoint)
    elif kind == "foreign":
        torch.save({"weights": torch.zeros(3)}, checkpoint)
    elif kind == "edited":
        content = torch.load(checkpoint, weights_only=True)
        content["hyper_parameters"]["net"]["hidden_size"] = 16  # the weights were trained with 8
        torch.save(content, checkpoint)


EVAL_DAMAGE = {
    "truncated": "is truncated or corrupt, not a readable torch file",
    "empty": "is truncated or corrupt, not a readable torch file",
    "pickled": "is not a tsbridge checkpoint: it holds pickled objects, not only tensors, so it was not loaded",
    "foreign": "is not a tsbridge-train checkpoint (no state_dict and hyper_parameters)",
    "edited": "its weights do not fit the model its hyper_parameters describe",
}


@pytest.mark.parametrize("kind", list(EVAL_DAMAGE))
def test_eval_names_a_damaged_or_foreign_checkpoint_in_one_line(cli, output_root, run_copy, tmp_path, kind):
    marker = tmp_path / "code-ran"
    checkpoint = run_copy / "checkpoints" / "last.ckpt"
    damage(checkpoint, kind, marker)
    result = cli("evaluate", f"ckpt_path={checkpoint}", check=False)
    assert result.returncode == 2
    assert f"tsbridge-eval: error: {checkpoint}" in result.stderr and EVAL_DAMAGE[kind] in result.stderr
    assert "Traceback" not in result.stderr and "weights_only=False" not in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize(("kind", "words"), [
    ("truncated", "is truncated or corrupt, not a readable torch file"),
    ("pickled", "is not a tsbridge checkpoint: it holds pickled objects"),
])
def test_resuming_from_a_damaged_checkpoint_is_one_line_naming_it(cli, output_root, run_copy, tmp_path, kind, words):
    marker = tmp_path / "code-ran"
    checkpoint = run_copy / "checkpoints" / "last.ckpt"
    damage(checkpoint, kind, marker)
    result = cli("train", *TINY, f"ckpt_path={checkpoint}", check=False)
    assert result.returncode == 2
    assert f"tsbridge-train: error: {checkpoint} {words}" in result.stderr
    assert "Traceback" not in result.stderr and "OSError" not in result.stderr
    assert "weights_only=False" not in result.stderr and not marker.exists()
    assert not metrics_files(output_root)


# ---------------------------------------------------------------- issue 21: interpolations pull unchecked nodes in
def interpolated(config, payload: dict, how: str) -> tuple[str, str]:
    """Put ``payload`` at an unchecked root node and reach it from ``data`` through an interpolation; return the
    key the refusal names and the target it names (or the interpolation it refuses)."""
    config.evil = payload
    if how == "seed":  # the data module's own argument
        config.data.seed = "${evil}"
        return "data.seed._target_", payload["_target_"]
    if how == "frame.name":  # an argument of an allowed loader, one level deeper
        config.data.frame.name = "${evil}"
        return "data.frame.name._target_", payload["_target_"]
    if how == "decode":  # a resolver that turns a string into a node (live once the node is resolved to build it)
        del config["evil"]
        flow = ", ".join(f"{name}: {value}" for name, value in payload.items())
        config.data.seed = "${oc.decode:'{" + flow + "}'}"
        return "data.seed._target_", payload["_target_"]
    config.data.seed = "\\${evil}"  # escaped: a string after one resolution, the payload after Hydra's second
    return "data.seed", "${evil}"


@pytest.mark.parametrize(("payload", "how"), [("pandas.read_pickle", "seed"), ("torch.load", "frame.name"),
                                              ("pandas.read_pickle", "decode"), ("pandas.read_pickle", "escaped")])
def test_eval_refuses_payloads_reached_through_interpolations(cli, output_root, run_copy, tmp_path, payload, how):
    marker = tmp_path / "code-ran"
    config_file = run_copy / ".hydra" / "config.yaml"
    config = OmegaConf.load(config_file)
    key, named = interpolated(config, payloads(tmp_path, marker)[payload], how)
    if how in ("seed", "frame.name"):  # Hydra, building the data node as written, runs the payload
        with pytest.raises(Exception):  # the data module then fails on what the payload returned
            instantiate(config.data)
        assert marker.exists(), "the payload did not run: the test would prove nothing"
        marker.unlink()
    OmegaConf.save(config, config_file)
    result = cli("evaluate", f"ckpt_path={run_copy / 'checkpoints' / 'last.ckpt'}", check=False)
    if how == "escaped":
        assert result.returncode == 2 and f"{config_file}: {key} holds the interpolation {named!r}" in result.stderr
        assert not marker.exists() and not list(output_root.rglob("eval_metrics.json"))
    else:
        refused(result, marker, output_root, config_file, key, named)


def test_eval_refuses_an_interpolated_payload_in_metrics_json(cli, output_root, run_copy, tmp_path):
    marker = tmp_path / "code-ran"
    (run_copy / ".hydra" / "config.yaml").unlink()
    summary = json.loads((run_copy / "metrics.json").read_text())
    config = OmegaConf.create(summary["config"])
    key, named = interpolated(config, payloads(tmp_path, marker)["pandas.read_pickle"], "seed")
    summary["config"] = OmegaConf.to_container(config)
    (run_copy / "metrics.json").write_text(json.dumps(summary))
    result = cli("evaluate", f"ckpt_path={run_copy / 'checkpoints' / 'last.ckpt'}", check=False)
    refused(result, marker, output_root, run_copy / "metrics.json", key, named)
