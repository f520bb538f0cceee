"""CausalNormClassifier against a float64 re-derivation of the paper's Eq. (7), (8), (9)."""
import numpy as np
import pytest
import torch

from mmdet_tde.models.layers import (CausalNormClassifier, DeconfoundConv2d,
                                     background_exempted_probs)
from helpers.reference import ref_bg_exempted, ref_logits, ref_tde

NORMS = ['deconfound', 'cosine', 'capsule']


def make(norm, K, D=24, C=7, seed=0, **kw):
    torch.manual_seed(seed)
    layer = CausalNormClassifier(D, C, num_heads=K, norm=norm, **kw).double()
    with torch.no_grad():
        layer.head_direction.copy_(torch.randn(D, dtype=torch.float64) + 0.5)
    return layer


@pytest.mark.parametrize('norm', NORMS)
@pytest.mark.parametrize('K', [1, 2, 4])
def test_logits_and_tde_match_float64_reference(norm, K):
    layer = make(norm, K, tau=16.0, gamma=1 / 32, alpha=1.5)
    x = torch.randn(9, 24, dtype=torch.float64).relu() + 0.01
    w = layer.weight.detach().numpy()
    ref_z = ref_logits(x.numpy(), w, K, 16.0, 1 / 32, norm)
    np.testing.assert_allclose(layer(x).detach().numpy(), ref_z, rtol=1e-10, atol=1e-10)
    dbar = layer.head_direction.numpy()
    for alpha in (None, 0.0, 0.7, 3.0):
        a = 1.5 if alpha is None else alpha
        np.testing.assert_allclose(
            layer.tde(x, alpha).detach().numpy(),
            ref_tde(x.numpy(), w, dbar, K, 16.0, 1 / 32, a, norm), rtol=1e-10, atol=1e-10)


def test_float32_forward_agrees_with_float64():
    layer = make('deconfound', 2)
    x = torch.randn(5, 24, dtype=torch.float64)
    ref = ref_logits(x.numpy(), layer.weight.detach().numpy(), 2, 16.0, 1 / 32, 'deconfound')
    np.testing.assert_allclose(layer.float()(x.float()).detach().numpy(), ref, atol=1e-4)


def test_empty_batch_and_zero_feature():
    layer = make('deconfound', 2)
    assert layer(torch.zeros(0, 24, dtype=torch.float64)).shape == (0, 7)
    assert layer.tde(torch.zeros(0, 24, dtype=torch.float64)).shape == (0, 7)
    out = layer.tde(torch.zeros(3, 24, dtype=torch.float64))
    assert torch.isfinite(out).all() and (out == 0).all()


@pytest.mark.parametrize('norm', NORMS)
def test_background_exempted_probs_match_eq9(norm):
    layer = make(norm, 2)
    x = torch.randn(11, 24, dtype=torch.float64) * 3
    z, t = layer(x), layer.tde(x, 2.0)
    probs = background_exempted_probs(z, t).detach().numpy()
    ref = ref_bg_exempted(z.detach().numpy(), t.detach().numpy())
    np.testing.assert_allclose(probs, ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-12)
    # The background keeps its de-confounded probability.
    np.testing.assert_allclose(probs[:, -1], torch.softmax(z, 1)[:, -1].detach().numpy(),
                               rtol=1e-12)


def test_background_exempted_probs_other_bg_index_and_extremes():
    z = torch.tensor([[200.0, -300.0, 0.0, 5.0]], dtype=torch.float64)
    t = torch.tensor([[-500.0, 400.0, 1.0, 2.0]], dtype=torch.float64)
    p = background_exempted_probs(z, t, bg_index=0)
    assert torch.isfinite(p).all()
    assert p.sum().item() == pytest.approx(1.0)
    # bg at index 0 dominates z: p_bg ~ 1 and the fg share follows softmax(t) over the fg columns.
    assert p[0, 0].item() == pytest.approx(1.0)
    perm = [1, 2, 3, 0]
    np.testing.assert_allclose(
        background_exempted_probs(z[:, perm], t[:, perm]).numpy(), p[:, perm].numpy(), rtol=1e-12)


def test_head_direction_ema_and_empty_update():
    layer = CausalNormClassifier(8, 3, num_heads=2, momentum=0.9).double()
    batches = [torch.randn(n, 8, dtype=torch.float64) for n in (4, 0, 7, 1)]
    expected = np.zeros(8)
    for b in batches:
        layer.update_head_direction(b)
        if len(b):
            expected = 0.9 * expected + b.numpy().mean(0)
    np.testing.assert_allclose(layer.head_direction.numpy(), expected, rtol=1e-12)
    assert torch.isfinite(layer.head_direction).all()
    assert 'head_direction' in layer.state_dict()


def test_untracked_head_direction_stays_bit_identical():
    layer = CausalNormClassifier(8, 3, num_heads=2, momentum=0.9).double()
    layer.update_head_direction(torch.randn(5, 8, dtype=torch.float64))
    before = layer.head_direction.clone()
    layer.track_head_direction = False
    for batch in (torch.randn(4, 8, dtype=torch.float64), torch.full((2, 8), float('nan'))):
        assert layer.update_head_direction(batch)
    assert torch.equal(layer.head_direction, before) and layer.skipped_updates == 0
    layer.track_head_direction = True
    batch = torch.randn(3, 8, dtype=torch.float64)
    layer.update_head_direction(batch)
    np.testing.assert_allclose(layer.head_direction.numpy(),
                               0.9 * before.numpy() + batch.numpy().mean(0), rtol=1e-12)


def test_zero_head_direction_refuses_tde():
    layer = CausalNormClassifier(8, 3)
    assert not layer.has_head_direction
    with pytest.raises(RuntimeError, match='head_direction is zero'):
        layer.tde(torch.randn(2, 8))


def test_missing_head_direction_in_state_dict_warns():
    layer = CausalNormClassifier(8, 3)
    with pytest.warns(UserWarning, match='no "head_direction"'):
        result = layer.load_state_dict({'weight': torch.randn(3, 8)}, strict=False)
    assert result.missing_keys == ['head_direction']


@pytest.mark.parametrize('kwargs, field', [
    (dict(in_features=10, num_heads=4), r'in_features \(the classifier input dimension, 10\)'),
    (dict(num_heads=0), 'num_heads'),
    (dict(tau=0.0), 'tau'),
    (dict(tau=-1.0), 'tau'),
    (dict(gamma=-0.1), 'gamma'),
    (dict(alpha=-0.5), 'alpha'),
    (dict(momentum=1.0), 'momentum'),
    (dict(momentum=-0.1), 'momentum'),
    (dict(norm='l2'), 'norm'),
    (dict(num_classes=0), 'num_classes'),
])
def test_constructor_errors_name_the_argument(kwargs, field):
    args = dict(in_features=16, num_classes=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf'^{field} must'):
        CausalNormClassifier(**args)


def test_tde_rejects_negative_alpha():
    with pytest.raises(ValueError, match='alpha must be a finite number >= 0'):
        make('deconfound', 2).tde(torch.randn(2, 24, dtype=torch.float64), alpha=-1)


@pytest.mark.parametrize('norm', NORMS)
def test_deconfound_conv_is_per_pixel_eq7_plus_bias(norm):
    torch.manual_seed(0)
    conv = DeconfoundConv2d(8, 5, 1, num_heads=2, tau=10.0, gamma=0.1, norm=norm).double()
    x = torch.randn(2, 8, 3, 4, dtype=torch.float64)
    out = conv(x).detach().numpy()
    w = conv.weight.detach().numpy().reshape(5, 8)
    flat = x.permute(0, 2, 3, 1).reshape(-1, 8).numpy()
    ref = ref_logits(flat, w, 2, 10.0, 0.1, norm) + conv.bias.detach().numpy()
    np.testing.assert_allclose(out, ref.reshape(2, 3, 4, 5).transpose(0, 3, 1, 2), rtol=1e-10)


@pytest.mark.parametrize('args, kwargs, message', [
    ((8, 5, 3), {}, 'kernel_size must be 1'),
    ((9, 5, 1), dict(num_heads=2), 'in_channels must be a multiple'),
    ((8, 5, 1), dict(norm='x'), 'norm must be one of'),
    ((8, 5, 1, 2), {}, 'stride must be 1'),
    ((8, 5), dict(padding=1), 'padding must be 0'),
    ((8, 5), dict(dilation=2), 'dilation must be 1'),
    ((8, 5), dict(groups=2), 'groups must be 1'),
    ((8, 5), dict(num_heads=0), 'num_heads must be a positive integer'),
    ((8, 5), dict(num_heads=2.0), 'num_heads must be a positive integer'),
    ((0, 5), {}, 'in_channels must be a positive integer'),
    ((8, 5), dict(tau=float('inf')), 'tau must be a finite number > 0'),
    ((8, 5), dict(tau=0.0), 'tau must be a finite number > 0'),
    ((8, 5), dict(gamma=float('nan')), 'gamma must be a finite number >= 0'),
])
def test_deconfound_conv_validates_its_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=f'^{message}'):
        DeconfoundConv2d(*args, **kwargs)


def test_deconfound_conv_accepts_the_plain_1x1_geometry():
    conv = DeconfoundConv2d(8, 5, 1, stride=1, padding=0, dilation=1, groups=1, bias=False,
                            num_heads=4, tau=10.0)
    assert conv.bias is None and conv(torch.randn(1, 8, 3, 3)).shape == (1, 5, 3, 3)
