"""``hydra/launcher=slurm`` without a cluster: the sbatch file a sweep would submit, and a sweep run through submitit's
job runner on this machine (``hydra/launcher=submitit_local``, the same plugin with submitit's local executor)."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import TINY, metrics_files
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

submitit = pytest.importorskip("submitit")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

SITE = ["hydra.launcher.partition=gpu", "hydra.launcher.account=proj", "hydra.launcher.timeout_min=30"]


class NotSubmitted(Exception):
    """Raised where submitit would call sbatch."""


def test_slurm_preset_with_site_options_composes_into_the_sbatch_file_of_a_two_job_array(tmp_path, monkeypatch):
    from submitit.slurm.slurm import SlurmExecutor

    submitted: list[str] = []

    def write_instead_of_submitting(executor: SlurmExecutor, command: str) -> None:
        submitted.append(executor._make_submission_file_text(command, "dry-run"))
        raise NotSubmitted

    # submitit builds a SLURM executor only where `srun` is on the PATH, and submits in _submit_command: everything
    # before that runs as on a cluster (Hydra composes, the plugin's launch() hands the options to submitit, submitit
    # pickles the jobs and writes the sbatch file), and the test takes the file there.
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    monkeypatch.setattr(SlurmExecutor, "_submit_command", write_instead_of_submitting)
    overrides = ["hydra/launcher=slurm", *SITE, "hydra.launcher.gpus_per_node=2", "hydra.launcher.tasks_per_node=2",
                 "trainer=ddp", "trainer.devices=2", f"hydra.sweep.dir={tmp_path}", "hydra.job.name=train"]
    with initialize_config_module(config_module="tsbridge.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=None, config=cfg)
    with pytest.raises(NotSubmitted):
        launcher.launch([["seed=1"], ["seed=2"]], initial_job_idx=0)

    (sbatch,) = submitted
    options = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", sbatch, flags=re.MULTILINE))
    assert {key: options[key] for key in ("partition", "account", "time", "job-name", "array")} == {
        "partition": "gpu", "account": "proj", "time": "30", "job-name": "train", "array": "0-1%2"}
    # One task per GPU, as trainer=ddp with trainer.devices=2 expects from SLURM.
    assert options["gpus-per-node"] == options["ntasks-per-node"] == "2"
    assert options["output"].startswith(f"{tmp_path}/.submitit/") and "-m submitit.core._submit" in sbatch
    assert len(list((tmp_path / ".submitit").glob("*.pkl"))) == 2  # the two jobs, pickled for the nodes


@pytest.mark.slow
def test_a_sweep_runs_through_submitit_on_this_machine(cli, output_root):
    cli("train", "-m", *TINY, "hydra/launcher=submitit_local", "seed=1,2", "forecast=false", timeout=300)
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    runs = {p.parent.name: json.loads(p.read_text()) for p in metrics_files(sweep_dir)}
    assert sorted(runs) == ["0", "1"] and {run["config"]["seed"] for run in runs.values()} == {1, 2}
    assert all(run["config"]["paths"]["output_dir"] == str(sweep_dir / name) for name, run in runs.items())
    # Each job ran in a process of its own under submitit's job runner, which kept its pickle, result and logs.
    job_folders = [folder for folder in (sweep_dir / ".submitit").iterdir() if list(folder.glob("*_result.pkl"))]
    assert len(job_folders) == 2 and len({run["pid"] for run in runs.values()}) == 2
    for folder in job_folders:
        assert (folder / f"{folder.name}_submitted.pkl").is_file()
        log = (folder / f"{folder.name}_0_log.out").read_text()
        assert "Starting with JobEnvironment" in log and "tsbridge-train: blend trained" in log
