"""Pieces shared by the command-line tools. Importing this module changes nothing; :func:`quiet_runtime` does."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from tsbridge.quiet import drop_product_tips, hide_third_party_noise

# Errors a user can fix by changing the command line, the config or the data: shown as one line, not a
# traceback. FloatingPointError covers a diverging loss (tsbridge.module.NonFiniteLossError says what to change).
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, FloatingPointError, HydraException, OmegaConfBaseException)
def quiet_runtime() -> None:
    """Show only warnings a user can act on (:func:`tsbridge.quiet.hide_third_party_noise`); called first by the
    command-line entry points."""
    hide_third_party_noise()


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


FAILED_FILE = "failed.json"


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def report_errors(program: str) -> Iterator[None]:
    """Turn configuration and input errors into one line ``<program>: error: <message>`` and exit status 2.

    Multi-line messages (OmegaConf and Hydra add ``full_key: ...`` lines) are joined with ``; ``.
    Set ``HYDRA_FULL_ERROR=1`` (as Hydra itself suggests) to see the full traceback instead.

    In a sweep (``-m``) a failing job does not end the sweep: its error (any error, with the traceback for those
    that are not the user's to fix) is printed and written to ``failed.json`` in its folder, the block is left
    without raising, and :class:`SweepSummary` names the failed jobs when the sweep ends.
    """
    try:
        yield
    except Exception as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" and not _in_sweep():
            raise
        cause = _root_cause(error)
        user_error = isinstance(error, USER_ERRORS)
        message = str(cause) if isinstance(cause, USER_ERRORS) else str(error)
        message = "; ".join(line.strip() for line in message.splitlines() if line.strip())
        if not user_error:
            if not _in_sweep():
                raise
            traceback.print_exc()
            message = f"{type(error).__name__}: {message}"
        print(f"{program}: error: {message}", file=sys.stderr)
        if _in_sweep():
            from hydra.core.hydra_config import HydraConfig

            hydra = HydraConfig.get()
            write_json(Path(hydra.runtime.output_dir) / FAILED_FILE,
                       {"job": hydra.job.num, "overrides": list(hydra.overrides.task), "error": message})
            return
        print("(set HYDRA_FULL_ERROR=1 for the full traceback)", file=sys.stderr)
        sys.exit(2)


class SweepSummary(Callback):
    """Hydra callback: when a sweep ends, name the jobs that failed (their ``failed.json``) and exit with status 1."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        failed = sorted(sweep_dir.rglob(FAILED_FILE))
        if not failed:
            return
        jobs = {path.parent for path in sweep_dir.rglob("*.json") if path.name in (FAILED_FILE, "metrics.json")}
        lines = [f"tsbridge-{config.task_name}: {len(failed)} of {len(jobs)} sweep jobs failed (the others ran):"]
        for path in failed:
            record = json.loads(path.read_text())
            lines.append(f"  {path.parent}: {record['error']}")
        print("\n".join(lines), file=sys.stderr)
        sys.exit(1)


def check_override_syntax(program: str, arguments: Sequence[str]) -> None:
    """Exit with one line naming the override when a command-line override does not parse.

    Hydra's own message (``no viable alternative at input '['``) names neither the key nor the argument.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for argument in arguments:
        if argument.startswith("-") or "=" not in argument:
            continue  # Hydra's flags (-m, --cfg job, -sc ...) and their values
        try:
            parser.parse_overrides([argument])
        except HydraException as error:
            reason = str(error).splitlines()[0].split(": ", 1)[-1]
            key = argument.split("=", 1)[0]
            print(f"{program}: error: cannot read the override {argument!r} for {key}: {reason}; quote values "
                  "with brackets, commas or spaces (see https://hydra.cc/docs/advanced/override_grammar/basic)",
                  file=sys.stderr)
            sys.exit(2)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def hydra_command(program: str, config_name: str, run: Callable[[DictConfig], Any],
                  sweep_value: Callable[[DictConfig, Any], float] | None = None) -> Callable[[], Any]:
    """The entry point of ``program``: quiet third-party noise, check the override syntax, then run ``run`` as the
    Hydra app of ``conf/<config_name>.yaml`` with its errors reported by :func:`report_errors`. ``sweep_value``
    turns the run's result (None for a sweep job that failed) into the value the app returns to sweepers."""

    @hydra.main(version_base="1.3", config_path="pkg://tsbridge.conf", config_name=config_name)
    def hydra_app(cfg: DictConfig) -> Any:
        quiet_runtime()  # again: a launcher's worker processes (joblib, SLURM) start here
        result = None
        with report_errors(program):
            result = run(cfg)
        return sweep_value(cfg, result) if sweep_value is not None else None

    def main() -> Any:
        quiet_runtime()
        check_override_syntax(program, sys.argv[1:])
        return hydra_app()

    main.__doc__ = f"Entry point of ``{program}``: quiet third-party noise, then run the Hydra app."
    return main
