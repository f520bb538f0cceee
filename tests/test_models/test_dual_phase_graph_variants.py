"""The graph-matching loss's temperature / normalised variants and the per-box distillation
control, against float64 re-derivations written here with plain Python loops (nothing from
mmdet_tde or its test helpers)."""
import math

import numpy as np
import pytest
import torch

from mmdet_tde.models.layers import feature_distillation_loss, graph_matching_loss


def _norm(v):
    return math.sqrt(sum(x * x for x in v))


def _unit(v):
    n = _norm(v)
    return [x / n for x in v] if n > 0 else [0.0] * len(v)


def _cos(a, b):
    return sum(x * y for x, y in zip(_unit(a), _unit(b)))


def reference_graph(z_old, z_new, reduction='mean', temperature=1.0, normalize=False):
    """Eq. 6-8: a_ji = softmax over the new nodes j of cos(z_i, z_hat_j) / T, mu_i the
    a-weighted Euclidean distance (between unit vectors when normalising), summed over i."""
    z_old = [[float(x) for x in row] for row in z_old]
    z_new = [[float(x) for x in row] for row in z_new]
    n = len(z_old)
    total = 0.0
    for i in range(n):
        logits = [_cos(z_old[i], z_new[j]) / temperature for j in range(n)]
        top = max(logits)
        e = [math.exp(v - top) for v in logits]
        a = [v / sum(e) for v in e]
        old = _unit(z_old[i]) if normalize else z_old[i]
        for j in range(n):
            new = _unit(z_new[j]) if normalize else z_new[j]
            total += a[j] * math.sqrt(sum((p - q) ** 2 for p, q in zip(old, new)))
    return total if reduction == 'sum' else total / n


def reference_distill(z_old, z_new, reduction='mean'):
    """sum_i 1 - cos(z_i, z_hat_i)."""
    total = sum(1.0 - _cos([float(x) for x in a], [float(x) for x in b])
                for a, b in zip(z_old, z_new))
    return total if reduction == 'sum' else total / len(z_old)


def _pair(seed, n=6, d=5, noise=0.5):
    g = torch.Generator().manual_seed(seed)
    z_old = torch.randn(n, d, generator=g, dtype=torch.float64).relu() + 0.1
    z_new = z_old + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z_old, z_new


# Values of the loss as shipped before the options existed (computed with that code): the
# paper's form keeps them up to the last bits that torch's kernels leave to the CPU (a float64
# sum differs by 1 ulp between machines), and the defaults compute exactly the explicit form.
Z_OLD = [[0.5, -1.25, 2.0, 0.0], [1.5, 0.25, -0.75, 1.0], [-2.0, 0.5, 0.125, 0.75],
         [0.0, 1.0, 1.0, -1.5], [0.25, 0.25, -0.5, 0.5]]
Z_NEW = [[0.75, -1.0, 1.5, 0.25], [1.0, 0.5, -0.5, 1.25], [-1.5, 0.25, 0.5, 1.0],
         [0.5, 1.5, 0.75, -1.0], [0.0, 0.5, -0.25, 0.75]]
BEFORE = {(torch.float64, 'mean'): 1.814937725239102, (torch.float64, 'sum'): 9.07468862619551,
          (torch.float32, 'mean'): 1.8149378299713135, (torch.float32, 'sum'): 9.074688911437988}


@pytest.mark.parametrize('dtype,reduction', list(BEFORE))
def test_paper_form_keeps_the_numbers_it_had(dtype, reduction):
    z_old, z_new = torch.tensor(Z_OLD, dtype=dtype), torch.tensor(Z_NEW, dtype=dtype)
    default = graph_matching_loss(z_old, z_new, reduction)
    explicit = graph_matching_loss(z_old, z_new, reduction, temperature=1.0, normalize=False)
    assert default.item() == explicit.item()
    assert default.item() == pytest.approx(BEFORE[dtype, reduction],
                                           rel=4 * torch.finfo(dtype).eps, abs=0)
    assert BEFORE[dtype, reduction] == pytest.approx(reference_graph(Z_OLD, Z_NEW, reduction),
                                                     rel=1e-6 if dtype == torch.float32 else 1e-13)


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('temperature', [0.02, 0.1, 0.5, 1.0, 3.0])
@pytest.mark.parametrize('normalize', [False, True])
@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_graph_variants_match_reference(seed, temperature, normalize, reduction):
    z_old, z_new = _pair(seed)
    loss = graph_matching_loss(z_old, z_new, reduction, temperature=temperature,
                               normalize=normalize)
    ref = reference_graph(z_old.tolist(), z_new.tolist(), reduction, temperature, normalize)
    assert loss.item() == pytest.approx(ref, rel=1e-12, abs=1e-13)


def test_variants_differ_from_the_paper_form():
    z_old, z_new = _pair(7)
    paper = graph_matching_loss(z_old, z_new).item()
    assert graph_matching_loss(z_old, z_new, temperature=0.1).item() != pytest.approx(paper)
    assert graph_matching_loss(z_old, z_new, normalize=True).item() != pytest.approx(paper)


@pytest.mark.parametrize('normalize', [False, True])
def test_identical_inputs_tend_to_zero_as_the_temperature_does(normalize):
    """Post-ReLU-like features (cosines between different nodes near 1): at T = 1 the loss is
    far from 0, the mean distance to the other nodes; it falls to 0 with the temperature."""
    z_old, _ = _pair(3, n=8, d=16)
    z_old = z_old + 1.0  # all cosines high, as for the detector's features
    values = [graph_matching_loss(z_old, z_old.clone(), temperature=t, normalize=normalize).item()
              for t in (1.0, 0.1, 0.01, 1e-3, 1e-4)]
    for t, v in zip((1.0, 0.01, 1e-4), values[::2]):
        assert v == pytest.approx(reference_graph(z_old.tolist(), z_old.tolist(), 'mean', t,
                                                  normalize), rel=1e-9, abs=1e-300)
    assert values[0] > 0.05 * (1 if normalize else float(z_old.norm(dim=1).mean()))
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] < 1e-6 * values[0]


@pytest.mark.parametrize('normalize', [False, True])
def test_variant_gradient_matches_finite_difference(normalize):
    z_old, z_new = _pair(5, n=4, d=3)
    z_new.requires_grad_(True)
    graph_matching_loss(z_old, z_new, temperature=0.3, normalize=normalize).backward()
    old, x0 = z_old.tolist(), z_new.detach().numpy()
    fd = np.zeros_like(x0)
    h = 1e-6
    for idx in np.ndindex(*x0.shape):
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = (reference_graph(old, xp.tolist(), 'mean', 0.3, normalize)
                   - reference_graph(old, xm.tolist(), 'mean', 0.3, normalize)) / (2 * h)
    np.testing.assert_allclose(z_new.grad.numpy(), fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('normalize', [False, True])
def test_variant_gradient_is_finite_at_identical_inputs(normalize):
    """The start of phase II: zero distances on the diagonal give 0, not NaN."""
    z_old, _ = _pair(5, n=4, d=3)
    z_new = z_old.clone().requires_grad_(True)
    graph_matching_loss(z_old, z_new, temperature=0.05, normalize=normalize).backward()
    assert torch.isfinite(z_new.grad).all()


@pytest.mark.parametrize('kwargs,match', [
    (dict(temperature=0), 'temperature must be a finite real number > 0'),
    (dict(temperature=-1.0), 'temperature must be a finite real number > 0'),
    (dict(temperature=float('nan')), 'temperature must be a finite real number > 0'),
    (dict(temperature=float('inf')), 'temperature must be a finite real number > 0'),
    (dict(temperature='0.1'), 'temperature must be a finite real number > 0'),
    (dict(temperature=True), 'temperature must be a finite real number > 0'),
    (dict(normalize=1), 'normalize must be True or False'),
    (dict(normalize='yes'), 'normalize must be True or False'),
    (dict(normalize=None), 'normalize must be True or False'),
])
def test_graph_option_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        graph_matching_loss(torch.randn(4, 3), torch.randn(4, 3), **kwargs)


# ------------------------------------------------------------------ per-box distillation control

@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_distill_matches_reference(seed, reduction):
    z_old, z_new = _pair(seed, noise=1.0)
    loss = feature_distillation_loss(z_old, z_new, reduction)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(reference_distill(z_old.tolist(), z_new.tolist(),
                                                          reduction), rel=1e-12, abs=1e-14)
    f32 = feature_distillation_loss(z_old.float(), z_new.float(), reduction)
    assert f32.dtype == torch.float32 and f32.item() == pytest.approx(loss.item(), rel=1e-5)


def test_distill_is_per_box_not_a_graph():
    z_old, z_new = _pair(2, noise=1.0)
    # zero for identical features, even where other boxes' features differ
    assert feature_distillation_loss(z_old, z_old.clone()).item() == pytest.approx(0, abs=1e-15)
    # scale-free per box, and blind to which box is which only through its own pair
    scaled = z_new * torch.arange(1, 7, dtype=torch.float64)[:, None]
    assert feature_distillation_loss(z_old, scaled).item() == pytest.approx(
        feature_distillation_loss(z_old, z_new).item(), rel=1e-12)
    perm = torch.tensor([1, 0, 2, 3, 4, 5])
    assert feature_distillation_loss(z_old, z_new[perm]).item() != pytest.approx(
        feature_distillation_loss(z_old, z_new).item())


def test_distill_gradient_reaches_new_only_and_matches_finite_difference():
    z_old, z_new = _pair(4, n=4, d=3, noise=1.0)
    z_old.requires_grad_(True)
    z_new.requires_grad_(True)
    feature_distillation_loss(z_old, z_new).backward()
    assert z_old.grad is None
    old, x0 = z_old.detach().tolist(), z_new.detach().numpy()
    fd = np.zeros_like(x0)
    for idx in np.ndindex(*x0.shape):
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        fd[idx] = (reference_distill(old, xp.tolist()) - reference_distill(old, xm.tolist())) / 2e-6
    np.testing.assert_allclose(z_new.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_distill_empty_batch_and_errors():
    z_new = torch.zeros(0, 4, requires_grad=True)
    loss = feature_distillation_loss(torch.zeros(0, 4), z_new)
    assert loss.item() == 0 and loss.requires_grad
    with pytest.raises(ValueError, match='same shape'):
        feature_distillation_loss(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match='reduction must be one of'):
        feature_distillation_loss(torch.randn(3, 4), torch.randn(3, 4), reduction='none')
