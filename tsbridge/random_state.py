"""The global random state a checkpoint carries, so a resumed run draws what the uninterrupted run would have.

Shuffling already depends only on ``(seed, epoch)`` (:class:`~tsbridge.data.datamodule.EpochShuffleSampler`), but
dropout and the data loader's worker seeds draw from the global generators, whose state a checkpoint does not
otherwise hold: without it a resumed run with dropout ends with (slightly) different weights. The state is stored
as tensors and plain Python values, so checkpoints stay loadable with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_random_state() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators (CUDA's too when it is available)."""
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    """Set the global generators to ``state`` (from :func:`capture_random_state`); a CUDA state is restored
    only where CUDA is available with the same number of devices."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(state["torch"])
    cuda = state.get("torch_cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
