"""tsbridge.threads: a fit never uses more torch threads than the cores other work leaves free."""

from __future__ import annotations

import os

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


STAT = """cpu  900 0 300 5000 100 0 0 0 0 0
cpu0 500 0 100 2000 50 10 5 3 0 0
cpu1 400 0 200 3000 50 0 0 0 0 0
intr 12345 0 0
ctxt 999
"""


def test_busy_seconds_add_the_busy_ticks_of_the_given_cpus_only():
    ticks = os.sysconf("SC_CLK_TCK")
    assert threads.busy_seconds(STAT, {0}) == pytest.approx((500 + 100 + 10 + 5 + 3) / ticks)  # idle, iowait out
    assert threads.busy_seconds(STAT, {0, 1}) == pytest.approx((618 + 600) / ticks)
    assert threads.busy_seconds(STAT, {7}) == 0.0


def test_others_busy_cores_is_the_cpus_busy_time_less_this_process_s_own_per_second(monkeypatch):
    readings = iter([(100.0, 5.0), (100.25, 5.1)])  # (busy seconds of the CPUs, this process's seconds)
    clock = iter([10.0, 10.1])
    monkeypatch.setattr(threads, "_cpu_seconds", lambda cpus: next(readings))
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(threads.time, "sleep", lambda seconds: None)
    assert threads.others_busy_cores() == pytest.approx((0.25 - 0.1) / 0.1)


def test_others_busy_cores_on_this_machine_is_a_share_of_its_cores():
    busy = threads.others_busy_cores()
    if busy is None:
        pytest.skip("no /proc/stat on this platform")
    assert 0.0 <= busy <= threads.available_cores() + 0.5  # + tick rounding over a 0.1 s sample


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
