"""How many CPU threads torch uses while tsbridge fits: never more than the cores other work leaves free.

torch starts one intra-op thread per core. On a machine whose cores are busy with other jobs those threads spin
waiting for each other: a default fit on a 2-core machine running two other jobs took 80x longer than with one
thread (README, "Threads"). tsbridge's nets are small, so a thread that has no core of its own costs far more than
it can add; ``threads="auto"`` (the default of ``conf/train.yaml`` and of the Forecaster) therefore uses the cores
that other processes leave free when the fit starts, at least one and never more than torch would have used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

AUTO = "auto"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


SAMPLE_SECONDS = 0.1


def busy_seconds(stat: str, cpus: set[int]) -> float:
    """Busy CPU seconds since boot of ``cpus``, from the text of ``/proc/stat`` (its per-CPU ``cpuN`` lines)."""
    busy_ticks = 0
    for line in stat.splitlines():
        name, *ticks = line.split() or [""]
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            user, nice, system, idle, iowait, irq, softirq, steal = (int(t) for t in ticks[:8])
            busy_ticks += user + nice + system + irq + softirq + steal  # steal: the hypervisor gave it away
    return busy_ticks / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(cpus: set[int]) -> tuple[float, float] | None:
    """(:func:`busy_seconds` of ``cpus`` now; this process's own CPU seconds), or None where ``/proc/stat`` is
    missing or unreadable."""
    try:
        with open("/proc/stat") as stat:
            busy = busy_seconds(stat.read(), cpus)
    except (OSError, ValueError):
        return None
    own = os.times()
    return busy, own.user + own.system


def others_busy_cores() -> float | None:
    """Cores of this process's CPU set that other processes keep busy now: the busy time of those CPUs over a
    :data:`SAMPLE_SECONDS` sample, less this process's own, in cores; None where ``/proc/stat`` is missing.

    Sampled now rather than read from the load average, which trails the machine by a minute (jobs started together,
    such as a parallel sweep's, would each see the others' load too late) and counts the whole machine where a
    container is confined to a few of its CPUs."""
    cpus = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    started, before = time.monotonic(), _cpu_seconds(cpus)
    if before is None:
        return None
    time.sleep(SAMPLE_SECONDS)
    elapsed, after = time.monotonic() - started, _cpu_seconds(cpus)
    if after is None or elapsed <= 0:
        return None
    busy, own = after[0] - before[0], after[1] - before[1]
    return max(0.0, busy - own) / elapsed


def free_cores() -> int:
    """Available cores less those other processes keep busy (:func:`others_busy_cores`, rounded), at least 1. Where
    ``/proc/stat`` is missing (macOS) the 1-minute load average stands in for the busy cores; where there is neither
    (Windows) every core counts as free."""
    cores = available_cores()
    busy = others_busy_cores()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            return cores
    return max(1, min(cores, cores - round(busy)))


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
