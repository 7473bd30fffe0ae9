"""BridgedLSTM: BiLSTM encoder -> bridge -> LSTM -> direct multi-step head."""

from torch import Tensor, nn

from tsbridge.models._checks import check_dropout, check_positive_int
from tsbridge.models.base import ForecastNet, Readouts
from tsbridge.models.bridges import AttentionBridge, BlendBridge, build_bridge
from tsbridge.models.encoder import BiLSTMEncoder
from tsbridge.models.head import ForecastHead


class BridgedLSTM(ForecastNet):
    """A BiLSTM over the window whose forward and backward states, aligned step by step, are
    handed by a bridge to a second (causal) LSTM; a head maps its states to the whole horizon.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        hidden_size: Units per direction of the BiLSTM, and of the second LSTM.
        bridge: ``"concat"``, ``"blend"`` or ``"attention"`` (see :mod:`tsbridge.models.bridges`).
        num_layers: Stacked layers of the BiLSTM and of the second LSTM.
        dropout: Dropout between stacked LSTM layers, on the bridged sequence, and before the head.
        head: ``"last"`` or ``"flatten"`` (see :class:`~tsbridge.models.head.ForecastHead`).
        granularity, normalize_states, init_past_weight: Blend options (``bridge="blend"`` only;
            another bridge refuses them when set away from these defaults).
        score: Attention score (``bridge="attention"`` only).
        revin, revin_affine, channel_independent, linear_skip: See
            :class:`~tsbridge.models.base.ForecastNet`.
    """

    bidirectional = True

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        hidden_size: int = 64,
        bridge: str = "blend",
        num_layers: int = 1,
        dropout: float = 0.1,
        *,
        head: str = "last",
        granularity: str = "scalar",
        normalize_states: bool = True,
        init_past_weight: float | None = None,
        score: str = "dot",
        revin: bool = True,
        revin_affine: bool = False,
        channel_independent: bool = False,
        linear_skip: bool = True,
    ) -> None:
        super().__init__(
            n_inputs,
            n_targets,
            lookback,
            horizon,
            revin=revin,
            revin_affine=revin_affine,
            channel_independent=channel_independent,
            linear_skip=linear_skip,
        )
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        check_dropout("dropout", dropout)
        self.bridge = build_bridge(
            bridge,
            hidden_size,
            granularity=granularity,
            normalize_states=normalize_states,
            init_past_weight=init_past_weight,
            score=score,
        )
        self.encoder = BiLSTMEncoder(self._encoder_input_size(), hidden_size, num_layers, dropout)
        self.bridge_dropout = nn.Dropout(dropout)
        self.decoder = nn.LSTM(
            self.bridge.output_size,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = ForecastHead(
            head, lookback, self.bridge.readout_size, horizon, self.core_targets, dropout
        )

    def _encoder_input_size(self) -> int:
        return self.core_inputs

    @property
    def blend(self) -> BlendBridge | None:
        """The BlendBridge, or None for other bridges."""
        return self.bridge if isinstance(self.bridge, BlendBridge) else None

    @property
    def attention(self) -> AttentionBridge | None:
        """The AttentionBridge, or None for other bridges."""
        return self.bridge if isinstance(self.bridge, AttentionBridge) else None

    def core(self, x: Tensor, ablate: str | None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_targets), with the bridge's readouts of this pass."""
        h_fwd, h_bwd, bridged, readouts = self.encode(x, ablate)
        y, head_readouts = self.decode(bridged, h_fwd, h_bwd)
        return y, {**readouts, **head_readouts}

    def encode(self, x: Tensor, ablate: str | None) -> tuple[Tensor, Tensor, Tensor, Readouts]:
        """Return the encoder states ``h_fwd, h_bwd`` (B, L, N), the bridged sequence
        (B, L, bridge.output_size) and the bridge's readouts."""
        h_fwd, h_bwd = self.encoder(x, ablate)
        bridged, readouts = self.bridge(h_fwd, h_bwd)
        return h_fwd, h_bwd, bridged, readouts

    def decode(self, bridged: Tensor, h_fwd: Tensor, h_bwd: Tensor) -> tuple[Tensor, Readouts]:
        """Run the second LSTM over the bridged sequence and the head over its last states."""
        # B: batch, L: look-back, P: positions the head reads, N: hidden units, H: horizon
        states, _ = self.decoder(self.bridge_dropout(bridged))  # (B, L, N)
        queries = states[:, -self.head.positions :]  # (B, P, N)
        features, readouts = self.bridge.readout(queries, h_fwd, h_bwd)  # (B, P, readout_size)
        return self.head(features), readouts  # (B, H, T')
