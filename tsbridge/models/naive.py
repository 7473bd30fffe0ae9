"""Parameter-free baselines: last value and seasonal naive (points only, no known-future inputs)."""

from typing import Any

from torch import Tensor

from tsbridge.models._checks import check_positive_int
from tsbridge.models.base import ForecastNet, Readouts


class Naive(ForecastNet):
    """Repeat each target channel's last observed value over the horizon.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        **options: ``ForecastNet``'s; ``n_future`` and ``levels`` are refused (nothing is learned).
    """

    reads_future = False
    learns_intervals = False

    def __init__(self, n_inputs: int, n_targets: int, lookback: int, horizon: int, **options: Any) -> None:
        super().__init__(n_inputs, n_targets, lookback, horizon, **options)  # none of the learned options

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, n_inputs) -> (B, H, n_targets); no readouts."""
        last = x[:, -1:, : self.n_targets]  # (B, 1, T)
        return last.expand(-1, self.horizon, -1).clone(), {}  # (B, H, T), its own memory


class SeasonalNaive(ForecastNet):
    """Forecast step h with the value one season earlier, repeating the last season if H > season.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        season_length: Steps per season (e.g. 7 for the weekly season of daily data); at most ``lookback``, so the
            last season is inside the window. None: the season of the data's frequency (README, "Seasons"), which
            only the data knows: :func:`tsbridge.config.net_config` fills it in when ``tsbridge-train`` or the
            Forecaster builds the net for a frame. A net built on its own needs the number.
    """

    reads_future = False
    learns_intervals = False

    def __init__(
        self, n_inputs: int, n_targets: int, lookback: int, horizon: int, season_length: int | None = None,
        **options: Any
    ) -> None:
        super().__init__(n_inputs, n_targets, lookback, horizon, **options)
        if season_length is None:
            raise ValueError(
                "season_length=None stands for the season of the data's frequency, known only when tsbridge builds "
                "the net for a frame (tsbridge-train, Forecaster); built on its own, SeasonalNaive needs "
                "season_length (e.g. 24 for hourly data, 7 for daily)"
            )
        check_positive_int("season_length", season_length)
        if season_length > lookback:
            raise ValueError(
                f"season_length ({season_length}) must not exceed lookback ({lookback})"
            )
        self.season_length = season_length

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, n_inputs) -> (B, H, n_targets); no readouts."""
        season = x[:, -self.season_length :, : self.n_targets]  # (B, S, T): the last season
        repeats = -(-self.horizon // self.season_length)  # ceil(H / S)
        return season.repeat(1, repeats, 1)[:, : self.horizon].contiguous(), {}  # (B, H, T)
