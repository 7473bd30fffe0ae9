"""Fixtures of the model tests."""

from collections.abc import Callable
from typing import Any

import pytest
import torch
from model_configs import HORIZON, LOOKBACK, SEGMENT_VARIANTS, TINY_CONFIGS
from torch import nn

from tsbridge.models import build_net


@pytest.fixture
def make_net() -> Callable[..., nn.Module]:
    """``make_net(name, n_inputs=3, n_targets=3, seed=0, variant=None, **options)``: a tiny seeded net,
    with the options of ``SEGMENT_VARIANTS[variant]`` when given."""

    def make(
        name: str, n_inputs: int = 3, n_targets: int = 3, seed: int = 0, variant: str | None = None, **options: Any
    ):
        torch.manual_seed(seed)
        dims = {
            "n_inputs": n_inputs,
            "n_targets": n_targets,
            "lookback": LOOKBACK,
            "horizon": HORIZON,
        }
        variant_options = SEGMENT_VARIANTS[variant] if variant is not None else {}
        return build_net(TINY_CONFIGS[name], **dims, **{**variant_options, **options})

    return make
