"""MemberEnsemble and ForecastModule(members=K): a seed ensemble trained in one fit."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from model_configs import HORIZON, LOOKBACK, TINY_CONFIGS

from tsbridge.models import MemberEnsemble, build_net
from tsbridge.module import ForecastModule

SIZES = {"n_inputs": 2, "n_targets": 1, "lookback": LOOKBACK, "horizon": HORIZON}


def module(members: int, model: str = "blend", **options) -> ForecastModule:
    torch.manual_seed(0)
    return ForecastModule({**TINY_CONFIGS[model], **SIZES}, members=members, **options)


def batch(size: int = 8) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"x": torch.randn(size, LOOKBACK, 2, generator=generator),
            "y": torch.randn(size, HORIZON, 1, generator=generator),
            "loc": torch.zeros(size, 1, 1), "scale": torch.ones(size, 1, 1)}


@pytest.mark.parametrize("levels", [None, [80, 90]])
def test_the_forecast_and_readouts_are_the_members_mean(levels):
    ensemble = module(3, levels=levels).eval()
    net = ensemble.net
    assert isinstance(net, MemberEnsemble) and len(net.members) == 3
    x = batch()["x"]
    with torch.no_grad():
        forecast, readouts = net(x, return_readouts=True)
        alone = [member(x, return_readouts=True) for member in net.members]
    assert torch.allclose(forecast, sum(f for f, _ in alone) / 3, atol=1e-6)
    pasts = torch.stack([r["blend/past_weight"] for _, r in alone])
    assert torch.allclose(readouts["blend/past_weight"], pasts.mean(), atol=1e-6)
    assert not torch.equal(alone[0][0], alone[1][0])  # distinct random starts
    assert ensemble.model_name == "blend" and ensemble.hparams.members == 3


def test_each_member_gets_the_gradient_it_would_get_alone():
    ensemble = module(2, levels=[80]).eval()  # dropout off: the same pass twice
    data = batch()
    loss, logged, _ = ensemble._training_loss(data)
    loss.backward()
    for member in ensemble.net.members:
        twin = build_net(member.config).eval()
        twin.load_state_dict(member.state_dict())
        ensemble.loss_fn(twin(data["x"]), data).backward()
        for (name, mine), theirs in zip(member.named_parameters(), twin.parameters()):
            assert torch.allclose(mine.grad, theirs.grad, atol=1e-6), name
    single = [ensemble.loss_fn(m(data["x"]), data) for m in ensemble.net.members]
    assert torch.isclose(logged, torch.stack(single).mean())


def test_gradient_norms_are_clipped_per_member():
    ensemble = module(2)
    data = batch()
    ensemble._training_loss(data)[0].backward()
    with torch.no_grad():  # make one member's gradient much larger than the other's
        for p in ensemble.net.members[0].parameters():
            p.grad *= 1e3
    optimizer = torch.optim.SGD(ensemble.parameters(), lr=0.1)
    ensemble.configure_gradient_clipping(optimizer, gradient_clip_val=1e-3, gradient_clip_algorithm="norm")
    norms = [torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in m.parameters()]))
             for m in ensemble.net.members]
    assert all(torch.isclose(n, torch.tensor(1e-3), rtol=1e-3) for n in norms)


def test_one_member_is_the_net_alone_and_bad_counts_are_refused():
    assert not isinstance(module(1).net, MemberEnsemble)
    torch.manual_seed(0)
    plain = build_net({**TINY_CONFIGS["blend"], **SIZES})
    assert all(torch.equal(a, b) for a, b in zip(module(1).net.state_dict().values(), plain.state_dict().values()))
    for members in (0, 1.5, True):
        with pytest.raises(ValueError, match="members must be a positive integer"):
            module(members)
    with pytest.raises(ValueError, match="pass the net's config"):
        ForecastModule(plain, members=2)
    with pytest.raises(ValueError, match="at least 2 members"):
        MemberEnsemble([plain])


def test_an_ensemble_trains_checkpoints_and_restores(tmp_path):
    from tsbridge.data import WindowDataModule, make_synthetic

    ensemble = ForecastModule({**TINY_CONFIGS["lstm"], "n_inputs": 1, "n_targets": 1, "lookback": 24,
                               "horizon": 6}, members=2)
    data = WindowDataModule(make_synthetic(n_rows=300), target_cols="target", time_col="date", lookback=24,
                            horizon=6, features="S", batch_size=32)
    before = [p.detach().clone() for p in ensemble.parameters()]
    fit = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, logger=False, gradient_clip_val=1.0,
                    enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    fit.fit(ensemble, datamodule=data)
    assert all(not torch.equal(a, b) for a, b in zip(before, ensemble.parameters()))  # every member learned
    fit.save_checkpoint(tmp_path / "ensemble.ckpt")
    restored = ForecastModule.load_from_checkpoint(tmp_path / "ensemble.ckpt", map_location="cpu", weights_only=True)
    x = torch.randn(3, 24, 1)
    with torch.no_grad():
        assert torch.equal(ensemble.eval()(x), restored.eval()(x))
