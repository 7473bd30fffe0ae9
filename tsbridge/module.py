"""``ForecastModule``: the thin LightningModule around any tsbridge net.

It owns the loss, the metrics and the logging of the readouts that make a bridged model readable
(``blend/past_weight``, ``blend/past_share``, ``importance/past`` ...). It never builds a Trainer.
Readouts come from the forward call that made the forecast (``net(x, return_readouts=True)``):
training steps log their own pass's blend weight, and the per-epoch readouts (gate profile, norm
share, attention entropy) are means over the *clean* validation passes, never an ablated one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import warnings

import lightning as L
import torch
from hydra.utils import get_class
from lightning.pytorch.utilities import rank_zero_warn
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torchmetrics import MeanMetric

from tsbridge.metrics import (MeanAbsoluteScaledError, MeanLoss, interval_metrics, original_unit_metrics,
                              scaled_metrics)
from tsbridge.models import Readouts, build_net, model_name
from tsbridge.models._checks import check_positive_int
from tsbridge.models.ensemble import MemberEnsemble, mean_readouts
from tsbridge.models.probabilistic import DISTRIBUTION_LOSSES, LOSSES, ForecastOutput, build_output
from tsbridge.random_state import capture_random_state, restore_random_state

#: The optimizer of ``ForecastModule(net)`` (``conf/module/default.yaml`` mirrors it).
DEFAULT_OPTIMIZER = {"_target_": "torch.optim.Adam", "lr": 0.001, "weight_decay": 0.0}
# Only these namespaces may be named by optimizer/scheduler configs, so a checkpoint's hyperparameters
# cannot make loading call arbitrary code.
_OPTIMIZER_PREFIX = "torch.optim."
_SCHEDULER_PREFIX = ("torch.optim.lr_scheduler.", "tsbridge.schedulers.")  # str.startswith takes a tuple
_SCHEDULER_LIGHTNING_KEYS = ("monitor", "interval", "frequency")
# Readouts with one row per window; the rest are summaries averaged over the validation windows.
_PER_WINDOW_READOUTS = frozenset({"attention/weights"})


#: The checkpoint entry holding the global random state (dropout's draws) for an exact resume.
RANDOM_STATE_KEY = "tsbridge_random_state"

#: An epoch whose mean training loss is this many times the first step's is reported as diverging.
DIVERGENCE_FACTOR = 10.0


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss has become NaN or infinite, naming the first step it did.

    Checked every ``trainer.log_every_n_steps`` steps and at epoch end rather than every step: reading the
    flag back to the host would stall a GPU once per step.
    """


def _plain(config: Any) -> Any:
    """OmegaConf nodes to plain containers, so hyperparameters pickle-free and ``weights_only`` loadable."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return dict(config) if isinstance(config, Mapping) else config


def _resolve_class(config: Mapping[str, Any], prefix: str, what: str) -> tuple[type, dict[str, Any]]:
    kwargs = dict(config)
    target = kwargs.pop("_target_", None)
    kwargs.pop("_partial_", None)
    if not isinstance(target, str) or not target.startswith(prefix):
        raise ValueError(f"{what} `_target_` must name a class under {prefix!r}, got {target!r}")
    return get_class(target), kwargs


class ForecastModule(L.LightningModule):
    """Train, validate, test and predict any tsbridge net on windowed batches.

    Batches are the dicts of :class:`tsbridge.data.WindowDataModule`: ``x`` (B, L, n_inputs) and ``y``
    (B, H, n_targets) in scaled units, plus ``loc``/``scale`` (B, 1, n_targets) to return to original units and,
    with known-future inputs, ``x_future`` (B, H, n_future).

    With ``levels`` the model forecasts intervals: the net outputs quantiles (trained with the pinball loss) or a
    distribution (trained by its negative log-likelihood); ``val/*`` and ``test/*`` then add ``crps``,
    ``coverage-<level>`` and ``width-<level>`` (scaled units; ``*_original/crps`` and ``width`` in the data's
    units), and the point metrics score the median (or the distribution's location).

    Args:
        net: the network: a built net (e.g. ``BridgedLSTM(n_inputs, n_targets, lookback, horizon)``) or its
            plain config (``_target_`` naming a class exported by :mod:`tsbridge.models`, plus its keyword
            arguments). A tsbridge net is saved in checkpoints as its ``config``.
        loss: ``"mse"``, ``"mae"``, ``"huber"``, ``"mape"`` or ``"smape"`` (in original units) for point forecasts;
            ``"quantile"``, ``"normal"`` or ``"student_t"`` with ``levels``. None: ``"quantile"`` with levels, else
            ``"mse"``.
        optimizer: ``_target_`` under ``torch.optim`` plus keyword arguments; None: :data:`DEFAULT_OPTIMIZER`.
        scheduler: optional ``_target_`` under ``torch.optim.lr_scheduler`` plus keyword arguments; the
            Lightning keys ``monitor``, ``interval`` and ``frequency`` are taken out and passed to Lightning.
        blend_lr: learning rate of the blend logit(s) in their own parameter group; ``None`` keeps the
            optimizer's. A larger rate lets the past/future weight move instead of being compensated by
            the much larger rest of the network.
        importance: at each validation epoch end, log ``importance/past`` and ``importance/future``: the
            relative increase of validation loss when the forward (past-facing) or backward (future-facing)
            encoder states are replaced by their mean (two extra forward passes per validation batch); and with
            known-future inputs ``importance/future_features``: the increase when their values over the horizon
            are replaced by their mean (what the forecast owes to knowing them).
        levels: central interval levels in percent (e.g. ``[80, 90]``): the net is built (or must be built) with
            them; None forecasts points.
        mase_season: the seasonal period of ``val/mase`` and ``test/mase`` (their scale is the in-window seasonal
            naive's MAE), shorter than the look-back. None: the data's season, which
            :func:`tsbridge.config.build_module` fills in from the frequency (README, "Seasons"); a module built
            on its own without it scales by the one-step naive (1).
        members: how many copies of the net to train side by side (a seed ensemble in one fit,
            :class:`~tsbridge.models.ensemble.MemberEnsemble`): each starts from its own random weights and learns
            from its own loss on the same batches; validation, early stopping and every forecast use the members'
            mean. 1: the net alone. Needs the net's config (a built net is one member).

    Attributes:
        model_name: the registry name of the net (``blend_gated``, ``feedback`` ...; the class name for
            a foreign net).
        validation_readouts: the readouts of the last validation epoch, averaged over its windows (clean
            passes only): ``blend/past_weight``, ``blend/past_weight_values``, ``blend/profile`` (gated),
            ``blend/past_share``, ``attention/entropy`` ... as CPU tensors.
    """

    def __init__(
        self,
        net: nn.Module | Mapping[str, Any],
        loss: str | None = None,
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        blend_lr: float | None = 0.05,
        importance: bool = True,
        levels: list[float] | None = None,
        mase_season: int | None = None,
        members: int = 1,
    ) -> None:
        super().__init__()
        if loss is not None and loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        #: The loss and how forecasts are read from the net's outputs (a point, quantiles or a distribution).
        self.output: ForecastOutput = build_output(loss, levels)  # checks levels before list() splits a string
        levels = list(levels) if levels else None
        optimizer = DEFAULT_OPTIMIZER if optimizer is None else _plain(optimizer)
        scheduler = _plain(scheduler)
        _resolve_class(optimizer, _OPTIMIZER_PREFIX, "optimizer")  # fail at construction, not at fit
        if scheduler is not None:
            _resolve_class(scheduler, _SCHEDULER_PREFIX, "scheduler")
        self.net = self._build_net(net, loss, levels, members)
        self._check_net_output(levels)
        lookback = getattr(self.net, "lookback", None)
        if mase_season is not None and lookback is not None and mase_season >= lookback:
            raise ValueError(f"mase_season ({mase_season}) must be shorter than the look-back ({lookback}): MASE's "
                             "scale compares values one season apart inside each window")
        self.save_hyperparameters(
            {"net": getattr(self.net, "config", None), "loss": loss, "optimizer": optimizer,
             "scheduler": scheduler, "blend_lr": blend_lr, "importance": importance, "levels": levels,
             "mase_season": mase_season, "members": members}
        )
        self.model_name = model_name(self.net.members[0] if members > 1 else self.net)
        self.probabilistic = bool(levels)
        self.metrics = nn.ModuleDict(
            {stage: scaled_metrics().clone(prefix=f"{stage}/") for stage in ("val", "test")}
        )
        self.original_metrics = nn.ModuleDict(
            {stage: original_unit_metrics().clone(prefix=f"{stage}_original/") for stage in ("val", "test")}
        )
        self.mase = nn.ModuleDict({stage: MeanAbsoluteScaledError(mase_season or 1) for stage in ("val", "test")})
        self.losses = nn.ModuleDict({stage: MeanLoss() for stage in ("val", "test")})
        self.intervals = nn.ModuleDict({
            f"{stage}{units}": interval_metrics(levels).clone(prefix=f"{stage}{units}/")
            for stage in ("val", "test") for units in ("", "_original")} if levels else {})
        self.n_future = getattr(self.net, "n_future", 0)
        # Ablations of the importance readout: the two encoder directions, and the known future.
        self.ablations = [*(("past", "future") if getattr(self.net, "bidirectional", False) else ()),
                          *(("future_features",) if self.n_future else ())] if importance else []
        self.val_losses = nn.ModuleDict({k: MeanMetric() for k in ("base", *self.ablations)})
        self.validation_readouts: dict[str, Tensor] = {}
        # Batch-size-weighted sums of this validation epoch's summary readouts, on the device.
        self._readout_sums: dict[str, Tensor] = {}
        self._readout_windows = 0
        # First global step with a non-finite loss (-1: none), kept on the loss's device: see NonFiniteLossError.
        self._first_nonfinite_step: Tensor | None = None
        # This epoch's batch-size-weighted sums of the training values, kept on the device (see _log_train_step).
        self._epoch_sums: dict[str, Tensor] = {}
        self._epoch_windows = 0
        # The first training step's loss (on the device) and whether a diverging fit was already reported.
        self._first_loss: Tensor | None = None
        self._divergence_reported = False
        # The global random state of a checkpoint being resumed, applied when training starts (see on_train_start).
        self._resumed_random_state: dict[str, Any] | None = None

    def _build_net(self, net: nn.Module | Mapping[str, Any], loss: str | None, levels: list[float] | None,
                   members: int) -> nn.Module:
        """The net, or ``members`` nets of its config built one after another (distinct random starts)."""
        check_positive_int("members", members)
        if isinstance(net, nn.Module):
            if members > 1:
                raise ValueError("members > 1 builds its nets from a config; pass the net's config (net.config), "
                                 "not a built net")
            return net
        config = self._with_output(_plain(net), loss, levels)
        if members == 1:
            return build_net(config)
        return MemberEnsemble([build_net(config) for _ in range(members)])

    @staticmethod
    def _with_output(net: dict[str, Any], loss: str | None, levels: list[float] | None) -> dict[str, Any]:
        """The net config, made to output what ``loss`` and ``levels`` ask for (points need no key)."""
        if not levels:
            return net
        return {**net, "levels": levels, "distribution": loss if loss in DISTRIBUTION_LOSSES else "quantile"}

    def _check_net_output(self, levels: list[float] | None) -> None:
        net_output = getattr(self.net, "output", None)
        if net_output is None:  # a foreign net: points only
            if levels:
                raise ValueError("levels need a tsbridge net (it outputs the quantiles or distribution parameters)")
            return
        if type(net_output) is not type(self.output) and (levels or net_output.levels):
            raise ValueError(
                f"the net outputs {type(net_output).__name__} (levels={list(net_output.levels)}) but the module "
                f"trains {type(self.output).__name__} (levels={levels}); build the net with the same levels and "
                "distribution, or pass its config instead of the built net")
        if levels and list(net_output.levels) != sorted(float(level) for level in levels):
            raise ValueError(f"the net forecasts levels {list(net_output.levels)}, the module was given {levels}")

    # ----------------------------------------------------------------- forward and steps
    def forward(self, x: Tensor, x_future: Tensor | None = None) -> Tensor:
        """Scaled forecast for scaled windows ``x`` (B, L, n_inputs): (B, H, n_targets), or the output's
        parameters (B, H, n_targets, n_params) with ``levels``."""
        return self.net(x, x_future)

    def _params(self, forecast: Tensor) -> Tensor:
        """The net's forecast as output parameters (..., n_params): a point forecast gains a last axis of 1."""
        return forecast if self.probabilistic else forecast.unsqueeze(-1)

    def point(self, forecast: Tensor) -> Tensor:
        """The point forecast (B, H, n_targets) of a net's forecast: itself, the median or the location."""
        return self.output.point(self._params(forecast))

    def quantiles(self, forecast: Tensor) -> Tensor:
        """Quantiles (B, H, n_targets, Q) at ``output.quantile_levels`` of a probabilistic forecast."""
        return self.output.quantiles(self._params(forecast), self.output.quantile_levels)

    def loss_fn(self, forecast: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """The training loss of a net's forecast against ``batch``'s target (MSE/MAE/Huber/MAPE/sMAPE, pinball or
        negative log-likelihood); the batch's ``loc``/``scale`` serve a loss in original units (MAPE, sMAPE)."""
        return self.output.loss(self._params(forecast), batch["y"], batch.get("loc"), batch.get("scale"))

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.net.parameters())

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Any] | None:
        """The loss and this step's readouts (``outputs["readouts"]`` of ``on_train_batch_end``)."""
        loss, logged_loss, readouts = self._training_loss(batch)
        self._track_nonfinite(loss, batch_idx)
        if self._first_loss is None:
            self._first_loss = logged_loss.detach()
        logged, epoch_only = {}, {}
        if "blend/past_weight" in readouts:
            past = readouts["blend/past_weight"]
            logged = {"blend/past_weight": past, "blend/future_weight": 1 - past}
        if "attention/entropy" in readouts:
            epoch_only["attention/entropy"] = readouts["attention/entropy"]
        self._log_train_step({"train/loss": logged_loss, **logged}, epoch_only, batch_size=batch["x"].shape[0])
        # Parameter-free baselines (naive, seasonal naive) have nothing to optimise: skip backward.
        return {"loss": loss, "readouts": readouts} if self.trainable else None

    def _training_loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Readouts]:
        """The loss to minimise, the loss to log and the pass's readouts. An ensemble minimises the sum of its
        members' own losses, so no member's gradient depends on another's forecast and each learns as it would
        alone; it logs their mean, comparable with a single net's ``train/loss``."""
        if not isinstance(self.net, MemberEnsemble):
            y_hat, readouts = self.net(batch["x"], batch.get("x_future"), return_readouts=True)
            loss = self.loss_fn(y_hat, batch)
            return loss, loss, readouts
        outputs = self.net.member_forecasts(batch["x"], batch.get("x_future"), return_readouts=True)
        losses = torch.stack([self.loss_fn(forecast, batch) for forecast, _ in outputs])
        return losses.sum(), losses.mean(), mean_readouts([readouts for _, readouts in outputs])

    def _track_nonfinite(self, loss: Tensor, batch_idx: int) -> None:
        first = self._first_nonfinite_step
        if first is None or first.device != loss.device:
            first = torch.full((), -1, dtype=torch.long, device=loss.device)
        self._first_nonfinite_step = torch.where(~torch.isfinite(loss) & (first < 0), self.global_step, first)
        every = self.trainer.log_every_n_steps
        if every and batch_idx % every == 0:
            self._raise_if_nonfinite(f"epoch {self.current_epoch}, batch {batch_idx}")

    def _raise_if_nonfinite(self, where: str) -> None:
        first = self._first_nonfinite_step
        if first is not None and int(first) >= 0:
            raise NonFiniteLossError(
                f"training loss became NaN or infinite at global step {int(first)} (noticed at {where}); lower "
                "the learning rate, enable gradient clipping (trainer.gradient_clip_val) or check the input "
                "data for extreme values"
            )

    def _warn_if_diverging(self) -> None:
        """Warn once when an epoch's mean training loss exceeds ``DIVERGENCE_FACTOR`` times the first step's (a
        positive loss): a fit that explodes without reaching NaN (``lr=1e6``) would otherwise end quietly with
        useless forecasts. One host sync per epoch."""
        total = self._epoch_sums.get("train/loss_epoch")
        if self._divergence_reported or total is None or self._first_loss is None or not self._epoch_windows:
            return
        mean, first = float(total / self._epoch_windows), float(self._first_loss)
        if first > 0 and mean > DIVERGENCE_FACTOR * first:
            self._divergence_reported = True
            rates = sorted({group["lr"] for optimizer in self.trainer.optimizers for group in optimizer.param_groups})
            warnings.warn(
                f"training is diverging: epoch {self.current_epoch}'s mean loss {mean:.3g} is over "
                f"{DIVERGENCE_FACTOR:g}x the first step's {first:.3g}; lower the learning rate (now "
                f"{', '.join(f'{rate:g}' for rate in rates)}) or clip gradients (trainer.gradient_clip_val)",
                stacklevel=2,
            )

    def _log_train_step(self, values: dict[str, Tensor], epoch_only: dict[str, Tensor], batch_size: int) -> None:
        """Log ``values`` as ``{name}_step`` and ``{name}_epoch``, and ``epoch_only`` under their own names, as
        ``self.log(on_step=..., on_epoch=True)`` would name them.

        Step values go to Lightning at its logger cadence only, and epoch sums stay on the device until the epoch
        ends: each ``self.log`` call costs about 0.7 ms of host time (Lightning's result bookkeeping), more than a
        small model's whole training step on a GPU, and a step value is written only every ``log_every_n_steps``
        steps anyway. Epoch means are weighted by batch size, as Lightning weighs them.
        """
        for name, value in [*((f"{n}_epoch", v) for n, v in values.items()), *epoch_only.items()]:
            self._epoch_sums[name] = self._epoch_sums.get(name, 0) + value.detach() * batch_size
        self._epoch_windows += batch_size
        every = self.trainer.log_every_n_steps
        # Lightning's own test for writing step metrics (LoggerConnector.should_update_logs), read before the step.
        if every and (self.global_step + 1) % every == 0 or self.trainer.should_stop:
            for name, value in values.items():
                self.log(f"{name}_step", value, on_step=True, on_epoch=False, prog_bar=name == "train/loss",
                         batch_size=batch_size)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Saved after the epoch's validation, when nothing else will draw before the next epoch starts.
        checkpoint[RANDOM_STATE_KEY] = capture_random_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resumed_random_state = checkpoint.get(RANDOM_STATE_KEY)

    def setup(self, stage: str) -> None:
        # Before DDP wraps the module. The nets' buffers are constants fixed at construction (quantile levels, a
        # fixed blend weight), so DDP need not broadcast them before every forward pass. Without that collective
        # the ranks may run different numbers of validation batches during fit, and the data module gives each
        # rank its own share of the validation windows instead of repeating some (see _sampler there).
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            self, [name for name, _ in self.named_buffers()])

    def on_fit_start(self) -> None:
        # After Lightning restored the checkpoint and before the first training batches are drawn (the sanity
        # check keeps the random state as it found it); not at loading, where a module loaded only to forecast
        # must leave the caller's random state alone.
        if self._resumed_random_state is not None:
            restore_random_state(self._resumed_random_state)
            self._resumed_random_state = None

    def on_train_epoch_start(self) -> None:
        self._epoch_sums, self._epoch_windows = {}, 0

    def on_train_epoch_end(self) -> None:
        self._raise_if_nonfinite(f"the end of epoch {self.current_epoch}")
        self._warn_if_diverging()
        for name, total in self._epoch_sums.items():
            # Averaged over DDP ranks too; one all-reduce per epoch.
            self.log(name, total / self._epoch_windows, prog_bar=name == "train/loss_epoch", sync_dist=True)

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Readouts]:
        x, y = batch["x"], batch["y"]
        forecast, readouts = self.net(x, batch.get("x_future"), return_readouts=True)
        loss = self.loss_fn(forecast, batch)
        y_hat = self.point(forecast)
        batch_size = x.shape[0]
        # A metric, summed over DDP ranks when read (exactly: see MeanLoss): checkpointing and early stopping must
        # decide the same on every rank.
        self.losses[stage].update(loss, batch_size)
        self.log(f"{stage}/loss", self.losses[stage], on_epoch=True, prog_bar=stage == "val", batch_size=batch_size)
        metrics = self.metrics[stage]
        metrics.update(y_hat, y)
        self.log_dict(metrics, on_epoch=True, batch_size=batch_size)
        loc, scale = batch["loc"], batch["scale"]
        original = self.original_metrics[stage]
        original.update(y_hat * scale + loc, y * scale + loc)
        self.log_dict(original, on_epoch=True, batch_size=batch_size)
        history = x[..., : y.shape[-1]]  # target channels come first in the inputs (batch contract)
        origin = batch.get("origin")  # real look-back rows: fewer than L in padded windows (min_lookback)
        observed = None if origin is None else (origin + 1).clamp(max=x.shape[1])
        self.mase[stage].update(y_hat, y, history, observed)
        self.log(f"{stage}/mase", self.mase[stage], on_epoch=True, batch_size=batch_size)
        if self.probabilistic:
            quantiles = self.quantiles(forecast)  # (B, H, T, Q)
            self.intervals[stage].update(quantiles, y)
            # scale > 0: the affine map keeps the quantiles in order.
            self.intervals[f"{stage}_original"].update(quantiles * scale.unsqueeze(-1) + loc.unsqueeze(-1),
                                                       y * scale + loc)
            for units in ("", "_original"):
                self.log_dict(self.intervals[f"{stage}{units}"], on_epoch=True, batch_size=batch_size)
        return loss, readouts

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Any]:
        """Metrics of the clean pass, whose readouts (returned too) make the epoch's readouts; then the
        ablated passes of the importance readout, whose own readouts are ignored."""
        loss, readouts = self._evaluate(batch, "val")
        batch_size = batch["x"].shape[0]
        for name, value in readouts.items():
            if name not in _PER_WINDOW_READOUTS:
                self._readout_sums[name] = self._readout_sums.get(name, 0) + value.double() * batch_size
        self._readout_windows += batch_size
        if self.ablations:
            self.val_losses["base"].update(loss, weight=batch_size)
            for ablation in self.ablations:
                self.val_losses[ablation].update(self.loss_fn(self._ablated(batch, ablation), batch),
                                                 weight=batch_size)
        return {"loss": loss, "readouts": readouts}

    def _ablated(self, batch: dict[str, Tensor], ablation: str) -> Tensor:
        """The forecast with one source of information blanked: an encoder direction, or the known future (its
        values over the horizon replaced by their mean over the batch and the steps, per feature)."""
        x, x_future = batch["x"], batch.get("x_future")
        if ablation == "future_features":
            return self.net(x, x_future.mean(dim=(0, 1), keepdim=True).expand_as(x_future))
        return self.net(x, x_future, ablate=ablation)

    def on_validation_epoch_start(self) -> None:
        self._readout_sums, self._readout_windows = {}, 0

    def on_validation_epoch_end(self) -> None:
        self._log_validation_readouts()
        if self.ablations and self.val_losses["base"].update_count:
            base = self.val_losses["base"].compute()
            for ablation in self.ablations:
                # A negative log-likelihood can be negative: the increase is relative to its size.
                increase = (self.val_losses[ablation].compute() - base) / base.abs().clamp(min=1e-12)
                self.log(f"importance/{ablation}", increase, sync_dist=True)
            for metric in self.val_losses.values():
                metric.reset()

    def _log_validation_readouts(self) -> None:
        """Average the epoch's readouts over all validation windows (every DDP rank's) and log the scalars."""
        if not self._readout_sums:
            return
        reduce = self.trainer.strategy.reduce
        windows = reduce(torch.tensor(float(self._readout_windows), device=self.device), reduce_op="sum")
        means = {name: reduce(total, reduce_op="sum") / windows for name, total in self._readout_sums.items()}
        self.validation_readouts = {name: value.float().cpu() for name, value in means.items()}
        for name in ("blend/past_share", "attention/entropy"):
            if name in means:
                self.log(name, means[name].float())
        values = means.get("blend/past_weight_values")
        if values is not None and values.numel() > 1:
            # One weight per unit, or per step and unit (gated): their spread over the clean validation passes.
            self.log_dict({"blend/past_weight_min": values.min().float(), "blend/past_weight_max": values.max().float(),
                           "blend/past_weight_std": values.std().float()})
            experiment = getattr(self.logger, "experiment", None)
            if hasattr(experiment, "add_histogram"):  # TensorBoard
                experiment.add_histogram("blend/past_weight_values", values.float(), self.global_step)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._evaluate(batch, "test")[0]

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        """Point forecasts in original units (``forecast``, float64) and scaled (``forecast_scaled``), with window
        positions; with ``levels`` also ``quantiles`` (B, H, T, Q) in original units."""
        forecast = self(batch["x"], batch.get("x_future"))
        loc, scale = batch["loc"].double(), batch["scale"].double()
        y_hat = self.point(forecast)
        outputs = {"forecast": y_hat.double() * scale + loc, "forecast_scaled": y_hat, "series": batch["series"],
                   "origin": batch["origin"]}
        if self.probabilistic:
            outputs["quantiles"] = self.quantiles(forecast).double() * scale.unsqueeze(-1) + loc.unsqueeze(-1)
        return outputs

    # ----------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> Any:
        if not self.trainable:
            return None
        optimizer_cls, optimizer_kwargs = _resolve_class(self.hparams.optimizer, _OPTIMIZER_PREFIX, "optimizer")
        blend_ids = {id(p) for p in self.net.blend_parameters()}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in blend_ids]
        groups: list[dict[str, Any]] = [{"params": rest, "name": "net"}]
        if blend_ids:
            blend_group: dict[str, Any] = {"params": list(self.net.blend_parameters()), "name": "blend"}
            if self.hparams.blend_lr is not None:
                blend_group["lr"] = self.hparams.blend_lr
            groups.append(blend_group)
        optimizer = optimizer_cls(groups, **optimizer_kwargs)
        if self.hparams.scheduler is None:
            return optimizer
        scheduler_cls, scheduler_kwargs = _resolve_class(self.hparams.scheduler, _SCHEDULER_PREFIX, "scheduler")
        lightning_keys = {k: scheduler_kwargs.pop(k) for k in _SCHEDULER_LIGHTNING_KEYS if k in scheduler_kwargs}
        lightning_keys.setdefault("monitor", "val/loss")
        scheduler = scheduler_cls(optimizer, **scheduler_kwargs)
        self._warn_if_stopped_before_decay(scheduler)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, **lightning_keys}}

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Lightning's clipping, except that an ensemble clips each member's gradient norm on its own: one norm over
        all members would let one member's large gradient shrink the others' steps."""
        if not isinstance(self.net, MemberEnsemble) or not gradient_clip_val or gradient_clip_algorithm == "value":
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        for member in self.net.members:
            torch.nn.utils.clip_grad_norm_(member.parameters(), gradient_clip_val)

    def _warn_if_stopped_before_decay(self, scheduler: Any) -> None:
        """Warn when early stopping can end a run before its schedule has lowered the rate: a run whose best epoch
        is its first stops after ``1 + patience`` epochs, and a hold of ``hold_epochs`` decays from the one after."""
        hold = getattr(scheduler, "hold_epochs", None)
        stoppers = self._trainer.early_stopping_callbacks if self._trainer is not None else []
        for stopper in stoppers if hold else []:
            if stopper.patience <= hold:
                rank_zero_warn(
                    f"early stopping's patience ({stopper.patience}) does not outlast the learning-rate schedule's "
                    f"hold ({hold} epochs): a run can stop before the rate ever decays; set "
                    f"callbacks.early_stopping.patience above {hold} (SegRNN uses 10 at L=96, 5 at L=720)")
