"""Mixed precision: norms, the direction and Eq. (7)-(9) are computed in float32 under any AMP.

Stated tolerance: given the same (already rounded) fp16 / bf16 inputs, the classifier's logits and
TDE logits (tau = 16) are within 1e-4 of a float64 re-derivation and the Eq. (9) probabilities
within 1e-5, as in float32 (measured: 6e-7 and 2e-7). Computing them in bf16 / fp16 instead is
off by 1e-2 / 1e-3 in the logits, and a .half() direction with a norm above 65504 removed nothing.
"""
import numpy as np
import pytest
import torch

from mmdet.registry import MODELS

from mmdet_tde.models.layers import CausalNormClassifier, background_exempted_probs
from helpers.reference import ref_bg_exempted, ref_logits, ref_tde, softmax

LOGIT_TOL, PROB_TOL = 1e-4, 1e-5
D, C, K, TAU, GAMMA, ALPHA = 256, 12, 2, 16.0, 1 / 32, 1.5


def _layer(seed=0):
    torch.manual_seed(seed)
    layer = CausalNormClassifier(D, C, num_heads=K, tau=TAU, gamma=GAMMA, alpha=ALPHA)
    layer.update_head_direction(torch.randn(64, D).relu())
    return layer


def _references(layer, x):
    """Float64 Eq. (7), (8), (9) for the classifier's weights and the given (rounded) inputs."""
    x, w = x.double().numpy(), layer.weight.detach().double().numpy()
    d = layer.head_direction.double().numpy()
    z, t = ref_logits(x, w, K, TAU, GAMMA), ref_tde(x, w, d, K, TAU, GAMMA, ALPHA)
    return z, t, ref_bg_exempted(z, t)


def _check(layer, x, z, t):
    z_ref, t_ref, p_ref = _references(layer, x)
    for got, ref, tol in ((z, z_ref, LOGIT_TOL), (t, t_ref, LOGIT_TOL),
                          (background_exempted_probs(z, t), p_ref, PROB_TOL)):
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.detach().double().numpy(), ref, atol=tol, rtol=0)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_cpu_autocast_gives_the_float32_result(dtype):
    layer = _layer()
    x = (torch.randn(16, D).relu() * 3).to(dtype)  # what the fc before it returns under AMP
    with torch.autocast('cpu', dtype=dtype):
        z, t = layer(x), layer.tde(x)
    _check(layer, x, z, t)


def test_half_model_gives_the_float32_result():
    layer = _layer().half()
    x = (torch.randn(16, D).relu() * 3).half()
    _check(layer, x, layer(x), layer.tde(x))


def test_half_model_with_a_direction_norm_above_fp16_max_still_removes_it():
    layer = _layer().half()
    with torch.no_grad():
        layer.head_direction.mul_(3e4 / layer.head_direction.abs().max())
    assert layer.head_direction.double().norm() > 65504 and layer.has_head_direction
    x = (torch.randn(16, D).relu() * 3).half()
    z, t = layer(x), layer.tde(x)
    _check(layer, x, z, t)
    assert (t - z).abs().max() > 0.1  # TDE changed the logits


def test_tiny_fp16_features_are_still_normalised():
    layer = _layer().half()
    x = torch.rand(4, D) + 0.1
    tiny = (x * 1e-6).half()  # norms about 1e-5: their squares underflow in fp16
    z_ref = ref_logits(tiny.double().numpy(), layer.weight.double().detach().numpy(), K, TAU,
                       GAMMA)
    assert np.abs(z_ref).max() > 1
    np.testing.assert_allclose(layer(tiny).double().detach().numpy(), z_ref, atol=LOGIT_TOL)


def _roi_batch(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, C, (n, ), generator=g)  # num_classes = C - 1: label C - 1 is bg
    labels[:3] = torch.tensor([0, C - 1, C - 1])
    xy = torch.rand(n, 2, generator=g) * 40
    rois = torch.cat([torch.zeros(n, 1), xy, xy + 8], dim=1)
    return (torch.randn(n, 8, 4, 4, generator=g), rois, labels, torch.ones(n),
            torch.randn(n, 4, generator=g) * 0.1, torch.ones(n, 4))


def test_bf16_autocast_training_step_and_tde_inference():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=C - 1, in_channels=8,
                             roi_feat_size=4, fc_out_channels=D))
    head.init_weights()
    seen = []
    head.fc_cls.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    optimizer = torch.optim.SGD(head.parameters(), lr=0.01)
    feats, rois, labels, *targets = _roi_batch()
    head.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cls_score, bbox_pred = head(feats)
        losses = head.loss(cls_score, bbox_pred, rois, labels, *targets)
    assert seen[0].dtype == torch.bfloat16 and cls_score.dtype == torch.float32
    z_ref = ref_logits(seen[0].double().numpy(), head.fc_cls.weight.detach().double().numpy(),
                       K, TAU, GAMMA)
    np.testing.assert_allclose(cls_score.detach().double().numpy(), z_ref, atol=LOGIT_TOL)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert head.fc_cls.weight.grad.abs().sum() > 0
    optimizer.step()
    foreground = seen[0][labels < C - 1].double().mean(0).numpy()
    np.testing.assert_allclose(head.fc_cls.head_direction.double().numpy(), foreground,
                               rtol=1e-6, atol=1e-7)

    head.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        scores, _ = head(_roi_batch(seed=1)[0])
    x = seen[1].double().numpy()
    w = head.fc_cls.weight.detach().double().numpy()
    t = ref_tde(x, w, head.fc_cls.head_direction.double().numpy(), K, TAU, GAMMA, ALPHA)
    expected = ref_bg_exempted(ref_logits(x, w, K, TAU, GAMMA), t)
    # what mmdet's post-processing computes from the head output
    probs = torch.softmax(scores, dim=-1).double().numpy()
    np.testing.assert_allclose(probs, expected, atol=PROB_TOL, rtol=0)
    assert not np.allclose(expected, softmax(ref_logits(x, w, K, TAU, GAMMA)), atol=1e-3)
