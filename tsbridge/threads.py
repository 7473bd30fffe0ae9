"""How many CPU threads torch uses while tsbridge fits: never more than the cores other work leaves free.

torch starts one intra-op thread per core. On a machine whose cores are busy with other jobs those threads spin
waiting for each other: a default fit on a 2-core machine running two other jobs took 80x longer than with one
thread (README, "Threads"). tsbridge's nets are small, so a thread that has no core of its own costs far more than
it can add; ``threads="auto"`` (the default of ``conf/train.yaml`` and of the Forecaster) therefore uses the cores
that the load average says are free, at least one and never more than torch would have used.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

AUTO = "auto"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def own_load() -> float:
    """This process's part of the 1-minute load average, which counts it too: its mean CPU use over its life, in
    cores, times the share of that life the 1-minute average has taken in (``1 - exp(-age / 60 s)``). Without it a
    process that has just finished a fit (a benchmark, back-to-back fits) reads its own work as another job's, and
    an otherwise idle 2-core machine looks half busy. 0 where ``/proc`` is missing."""
    try:
        with open("/proc/self/stat") as stat:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22, counted after the name
        with open("/proc/uptime") as uptime:
            age = float(uptime.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
    if age <= 0:
        return 0.0
    times = os.times()
    share = min(available_cores(), (times.user + times.system) / age)
    return share * (1 - math.exp(-age / 60))


def free_cores() -> int:
    """Available cores minus the 1-minute load average of the other processes (the load average less
    :func:`own_load`, rounded), at least 1; all of them where there is no load average (Windows)."""
    cores = available_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, min(cores, cores - round(load - own_load())))


def resolve_threads(threads: int | str | None) -> int | None:
    """The torch thread count a fit uses for the ``threads`` setting.

    Args:
        threads: ``"auto"``: the free cores (:func:`free_cores`), at most torch's current count (so
            ``OMP_NUM_THREADS`` or an earlier ``torch.set_num_threads`` still caps it); a positive integer: exactly
            that many; None: torch's current setting, untouched.

    Raises:
        ValueError: anything else, naming the accepted values.
    """
    if threads is None:
        return None
    if threads == AUTO:
        return max(1, min(torch.get_num_threads(), free_cores()))
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be 'auto', a positive integer or null (torch's setting), got {threads!r}")
    return threads


@contextmanager
def torch_threads(threads: int | str | None) -> Iterator[int]:
    """Run the body with torch's intra-op thread count set by :func:`resolve_threads`, then restore it."""
    before = torch.get_num_threads()
    count = resolve_threads(threads)
    if count is not None and count != before:
        torch.set_num_threads(count)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
