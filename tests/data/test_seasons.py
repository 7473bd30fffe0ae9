"""The season of each frequency (the README's "Seasons" table) and MASE's seasonal scale."""

import pytest
import torch

from tsbridge.data.seasons import season_length
from tsbridge.metrics import MeanAbsoluteScaledError


@pytest.mark.parametrize(("freq", "season"), [
    ("h", 24), ("30min", 48), ("15min", 96), ("D", 7), ("W-SUN", 52), ("W-MON", 52), ("ME", 12), ("MS", 12),
    ("QE-DEC", 4), ("QS-OCT", 4), ("YE-DEC", 1), ("YS-JAN", 1),
    ("10min", 144), ("2h", 12),  # any sub-daily step that divides a day: steps per day
])
def test_the_season_of_each_frequency(freq, season):
    assert season_length(freq) == season


@pytest.mark.parametrize("freq", [None, "B", "2D", "7h", "2W-SUN", "SME-15"])
def test_frequencies_without_a_season_have_none(freq):
    assert season_length(freq) is None


def test_mase_scales_by_the_in_window_seasonal_naive():
    history = torch.tensor([1.0, 5.0, 2.0, 6.0, 4.0, 8.0]).view(1, 6, 1)  # one-step changes 4,3,4,2,4; two-step 1,1,2,2
    preds, target = torch.zeros(1, 2, 1), torch.full((1, 2, 1), 3.0)  # forecast MAE 3
    for season, scale in ((1, 17 / 5), (2, 6 / 4)):
        mase = MeanAbsoluteScaledError(season)
        mase.update(preds, target, history)
        assert mase.compute().item() == pytest.approx(3 / scale)
    with pytest.raises(ValueError, match="shorter than the look-back"):
        MeanAbsoluteScaledError(6).update(preds, target, history)
