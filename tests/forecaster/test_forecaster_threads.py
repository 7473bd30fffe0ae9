"""tsbridge.threads: a fit never uses more torch threads than the cores other work leaves free."""

from __future__ import annotations

import multiprocessing
import threading

import lightning as L
import pytest
import torch

from forecaster_frames import QUIET, hourly, tiny

from tsbridge import threads
from tsbridge.threads import resolve_threads, torch_threads


@pytest.fixture
def two_cores(monkeypatch):
    """A 2-core machine on which the test sets how many cores other processes keep busy; torch starts with 2
    threads."""
    monkeypatch.setattr("tsbridge.threads.available_cores", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield lambda busy: monkeypatch.setattr("tsbridge.threads.others_busy_cores", lambda: busy)
    torch.set_num_threads(before)


@pytest.mark.parametrize(("busy", "expected"), [(0.0, 2), (0.4, 2), (1.0, 1), (2.3, 1), (7.0, 1)])
def test_auto_uses_the_free_cores_and_at_least_one(two_cores, busy, expected):
    two_cores(busy)
    assert resolve_threads("auto") == expected


@pytest.mark.parametrize(("load", "expected"), [(0.4, 2), (1.0, 1), (7.0, 1)])
def test_without_proc_stat_the_load_average_stands_in(two_cores, monkeypatch, load, expected):
    two_cores(None)
    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load))
    assert resolve_threads("auto") == expected


def spin() -> None:
    while True:
        pass


def multiply_until(stop: threading.Event) -> None:
    square = torch.ones(300, 300)
    while not stop.is_set():
        torch.mm(square, square)


def test_a_process_spinning_on_a_core_is_counted_and_this_process_s_own_work_is_not():
    if threads.others_busy_cores() is None:
        pytest.skip("no /proc/stat on this platform")
    spinner = multiprocessing.Process(target=spin, daemon=True)
    spinner.start()
    try:
        with_spinner = threads.others_busy_cores()
    finally:
        spinner.terminate()
        spinner.join()
    stop = threading.Event()
    worker = threading.Thread(target=multiply_until, args=(stop,))
    worker.start()
    try:
        with_own_work = threads.others_busy_cores()
    finally:
        stop.set()
        worker.join()
    assert with_spinner > 0.5 and with_own_work < 0.5


def test_auto_never_raises_torchs_own_count(two_cores):
    two_cores(0.0)
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 or a user's own torch.set_num_threads(1)
    assert resolve_threads("auto") == 1


def test_a_number_is_used_as_given_and_null_leaves_torch_alone(two_cores):
    two_cores(5.0)
    assert resolve_threads(3) == 3 and resolve_threads(None) is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True])
def test_bad_values_are_refused_naming_the_accepted_ones(bad):
    with pytest.raises(ValueError, match="'auto', a positive integer or null"):
        resolve_threads(bad)


def test_the_setting_holds_inside_and_is_restored_after(two_cores):
    two_cores(2.0)
    with torch_threads("auto") as count:
        assert count == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == 2


class ThreadsAtTrainStart(L.Callback):
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.threads = torch.get_num_threads()


def test_a_fit_on_a_busy_machine_trains_on_one_thread_and_restores_torchs(two_cores):
    two_cores(2.0)
    seen = ThreadsAtTrainStart()
    tiny("lstm").fit(hourly(), target="load", time_col="date", callbacks=[seen], **QUIET)
    assert seen.threads == 1 and torch.get_num_threads() == 2


def test_threads_is_a_forecaster_option_and_reaches_the_fit(two_cores):
    two_cores(0.0)
    seen = ThreadsAtTrainStart()
    forecaster = tiny("lstm", threads=1)
    assert forecaster.config.threads == 1
    forecaster.fit(hourly(), target="load", time_col="date", callbacks=[seen], **QUIET)
    assert seen.threads == 1
