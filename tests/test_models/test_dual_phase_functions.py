"""Dual-phase pieces (exemplar herding, graph matching, intra margin) against float64 loops.

The references below are written straight from Eq. 2-9 of "Asynchronous Modeling: A Dual-Phase
Perspective for Long-Tailed Recognition" (ICLR 2021 submission, OpenReview u846Bqhry_) with
plain Python loops, and call nothing from the implementation.
"""

import numpy as np
import pytest
import torch

from mmdet_tde.models.layers import graph_matching_loss, intra_margin_loss, select_exemplars
from helpers.reference import ref_graph, ref_select


def ref_intra(scores, labels, margin, k):
    """Per sample: sum over the k highest non-target scores of max(0, m - s_y + s_k)."""
    out = []
    for row, y in zip(scores, labels):
        negs = sorted((float(v) for c, v in enumerate(row) if c != y), reverse=True)[:k]
        out.append(sum(max(0.0, margin - float(row[y]) + s) for s in negs))
    return out


def central_diff(f, x, h=1e-6):
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        grad[idx] = (f(xp) - f(xm)) / (2 * h)
    return grad


# ----------------------------------------------------------------------------- select_exemplars

@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('num', [1, 3, 7])
def test_select_matches_reference(seed, num):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(15, 5, generator=g, dtype=torch.float64) + 0.3
    idx = select_exemplars(feats, num)
    assert idx.dtype == torch.long and idx.shape == (num,)
    assert idx.tolist() == ref_select(feats.numpy(), num)
    assert len(set(idx.tolist())) == num
    # float32 input is ranked in float64 internally, so the order is the same.
    assert select_exemplars(feats.float(), num).tolist() == idx.tolist()


def test_select_residual_step_matters():
    """Eq. 5 is not just 'nearest to the mean': on some inputs the order differs from that."""
    differs = 0
    for seed in range(10):
        feats = torch.randn(12, 4, generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64)
        cos = torch.nn.functional.cosine_similarity(feats, feats.mean(0, keepdim=True))
        nearest = torch.argsort(cos, descending=True)[:5].tolist()
        herded = select_exemplars(feats, 5).tolist()
        assert herded[0] == nearest[0]  # Eq. 2
        differs += herded != nearest
    assert differs > 0


def test_select_uses_raw_mean_not_normalised_mean():
    # Raw mean (2.2, 1.9) points near (1, 1); the mean of unit vectors points near (1, 0).
    feats = torch.tensor([[10.0, 0.0], [1.0, 0.1], [1.0, 0.05], [0.0, 10.0], [1.0, 0.0],
                          [0.2, 1.2], [1.0, 1.0]], dtype=torch.float64)
    assert select_exemplars(feats, 1).tolist() == [6]
    assert ref_select(feats.numpy(), 1) == [6]


@pytest.mark.parametrize('n,num', [(0, 1), (1, 1), (3, 3), (3, 5)])
def test_select_small_class_returns_all(n, num):
    idx = select_exemplars(torch.randn(n, 4), num)
    assert idx.dtype == torch.long
    assert idx.tolist() == list(range(n))


def test_select_exact_ties_go_to_lowest_index():
    a, v, b = [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]
    # Mean (0.8, 0.8) is along v: the three copies of v come first, lowest index first; then
    # c + (c - z) is still along v and a, b tie at cos 1/sqrt(2): a (index 0) before b.
    feats = torch.tensor([a, v, b, v, v])
    assert select_exemplars(feats, 3).tolist() == [1, 3, 4]
    assert select_exemplars(feats, 4).tolist() == [1, 3, 4, 0]
    assert ref_select(feats.numpy(), 4) == [1, 3, 4, 0]
    # Duplicates of a random feature placed as the closest-to-mean candidates.
    g = torch.Generator().manual_seed(3)
    feats = torch.randn(10, 6, generator=g)
    feats[[2, 5, 8]] = feats.mean(0) * 3
    assert select_exemplars(feats, 3).tolist()[:1] == [2]
    assert ref_select(feats.double().numpy(), 3) == select_exemplars(feats, 3).tolist()


def test_select_does_not_touch_autograd():
    feats = torch.randn(8, 3, requires_grad=True)
    idx = select_exemplars(feats, 2)
    assert not idx.requires_grad and feats.grad is None


@pytest.mark.parametrize('feats,num,match', [
    (torch.randn(5), 2, 'features must be a 2-D'),
    (torch.randn(2, 3, 4), 2, 'features must be a 2-D'),
    ([[1.0, 2.0]], 1, 'features must be a 2-D'),
    (torch.randn(5, 3), 0, 'num must be an int >= 1'),
    (torch.randn(5, 3), -2, 'num must be an int >= 1'),
    (torch.randn(5, 3), 2.0, 'num must be an int >= 1'),
    (torch.randn(5, 3), True, 'num must be an int >= 1'),
    (torch.tensor([[1.0, float('nan')], [0.0, 1.0], [1.0, 1.0]]), 1, 'finite'),
])
def test_select_argument_errors(feats, num, match):
    with pytest.raises(ValueError, match=match):
        select_exemplars(feats, num)


# -------------------------------------------------------------------------- graph_matching_loss

def _pair(seed, n=6, d=4):
    g = torch.Generator().manual_seed(seed)
    z_old = torch.randn(n, d, generator=g, dtype=torch.float64)
    z_new = z_old + 0.7 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z_old, z_new


@pytest.mark.parametrize('seed', range(5))
@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_graph_matches_reference(seed, reduction):
    z_old, z_new = _pair(seed)
    loss = graph_matching_loss(z_old, z_new, reduction=reduction)
    ref = ref_graph(z_old.tolist(), z_new.tolist(), reduction)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_graph_roles_and_sum_equals_n_mean():
    z_old, z_new = _pair(11, n=7)
    mean = graph_matching_loss(z_old, z_new)
    total = graph_matching_loss(z_old, z_new, reduction='sum')
    assert total.item() == pytest.approx(7 * mean.item(), rel=1e-12)
    # Softmax over the new nodes per old node: swapping the graphs is a different loss.
    swapped = graph_matching_loss(z_new, z_old).item()
    assert swapped != pytest.approx(mean.item(), rel=1e-6)
    assert swapped == pytest.approx(ref_graph(z_new.tolist(), z_old.tolist(), 'mean'), rel=1e-12)


def test_graph_float32_agrees_with_float64():
    z_old, z_new = _pair(4, n=9, d=16)
    loss = graph_matching_loss(z_old.float(), z_new.float())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(ref_graph(z_old.tolist(), z_new.tolist(), 'mean'),
                                        rel=1e-5)


@pytest.mark.parametrize('reduction', ['mean', 'sum'])
@pytest.mark.parametrize('identical', [False, True])
def test_graph_gradient_reaches_new_only_and_matches_finite_difference(reduction, identical):
    z_old, z_new = _pair(2, n=5, d=3)
    if identical:  # start of phase II: z_i == z_hat_i, zero distances on the diagonal
        z_new = z_old.clone()
    z_old.requires_grad_(True)
    z_new.requires_grad_(True)
    graph_matching_loss(z_old, z_new, reduction=reduction).backward()
    assert z_old.grad is None
    old = z_old.detach().numpy()
    fd = central_diff(lambda x: ref_graph(old.tolist(), x.tolist(), reduction),
                      z_new.detach().numpy())
    assert np.isfinite(z_new.grad.numpy()).all()
    np.testing.assert_allclose(z_new.grad.numpy(), fd, rtol=1e-6, atol=1e-7)


def test_graph_gradient_flows_through_softmax_weights():
    """The paper has no stop-gradient on a_ji: detaching it would give another gradient."""
    z_old, z_new = _pair(8, n=5, d=3)
    z_new.requires_grad_(True)
    graph_matching_loss(z_old, z_new).backward()
    zn = z_new.detach().requires_grad_(True)
    a = torch.softmax(torch.nn.functional.normalize(z_old, dim=1)
                      @ torch.nn.functional.normalize(zn, dim=1).t(), dim=1).detach()
    dist = ((z_old[:, None] - zn[None]) ** 2).sum(-1).sqrt()
    ((a * dist).sum() / 5).backward()
    assert not torch.allclose(z_new.grad, zn.grad, rtol=1e-4, atol=1e-6)


def test_graph_empty_batch_is_zero_with_grad_path():
    z_new = torch.zeros(0, 8, requires_grad=True)
    for reduction in ('mean', 'sum'):
        loss = graph_matching_loss(torch.zeros(0, 8), z_new, reduction=reduction)
        assert loss.item() == 0 and loss.requires_grad
        loss.backward()
        assert z_new.grad.shape == (0, 8)


@pytest.mark.parametrize('kwargs,exc,match', [
    (dict(reduction='none'), ValueError, r"reduction must be one of \('mean', 'sum'\)"),
    (dict(reduction=None), ValueError, 'reduction must be one of'),
    (dict(z_new=torch.randn(4, 3)), ValueError, 'same shape'),
    (dict(z_new=torch.randn(5, 2)), ValueError, 'same shape'),
    (dict(z_old=torch.randn(5), z_new=torch.randn(5)), ValueError, r'\(N, D\)'),
    (dict(z_old=[[1.0]]), TypeError, 'tensors'),
])
def test_graph_argument_errors(kwargs, exc, match):
    args = dict(z_old=torch.randn(5, 3), z_new=torch.randn(5, 3))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        graph_matching_loss(**args)


# ---------------------------------------------------------------------------- intra_margin_loss

@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('margin,k', [(0.5, 2), (0.2, 1), (1.0, 3), (0.5, 10), (0.0, 2)])
def test_intra_matches_reference(seed, margin, k):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(11, 5, generator=g, dtype=torch.float64) * 2 - 1
    labels = torch.randint(0, 5, (11,), generator=g)
    per = ref_intra(scores.numpy(), labels.tolist(), margin, k)
    mean = intra_margin_loss(scores, labels, margin=margin, num_negatives=k)
    total = intra_margin_loss(scores, labels, margin=margin, num_negatives=k, reduction='sum')
    assert mean.item() == pytest.approx(sum(per) / 11, rel=1e-12, abs=1e-12)
    assert total.item() == pytest.approx(sum(per), rel=1e-12, abs=1e-12)
    assert total.item() == pytest.approx(11 * mean.item(), rel=1e-12, abs=1e-12)


def test_intra_defaults_are_lucir_margin_and_two_negatives():
    scores = torch.tensor([[0.9, 0.6, 0.5, 0.45, -1.0]], dtype=torch.float64)
    labels = torch.tensor([0])
    # Hardest two negatives 0.6, 0.5: (0.5 - 0.9 + 0.6) + (0.5 - 0.9 + 0.5) = 0.3.
    assert intra_margin_loss(scores, labels).item() == pytest.approx(0.3)
    assert intra_margin_loss(scores, labels, num_negatives=1).item() == pytest.approx(0.2)
    # 0.45 also violates a 0.5 margin; it only counts with K >= 3.
    assert intra_margin_loss(scores, labels, num_negatives=3).item() == pytest.approx(0.35)
    assert intra_margin_loss(scores, labels, margin=0.25).item() == pytest.approx(0.0)
    assert intra_margin_loss(scores, labels, margin=0.35).item() == pytest.approx(0.05)


def test_intra_zero_when_target_leads_by_margin():
    # Binary fractions, so the leads of exactly 0.5 are exact in floating point.
    scores = torch.tensor([[0.125, 0.875, 0.375], [0.75, -0.25, 0.25], [0.0, 0.5, 1.0]],
                          dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([1, 0, 2])
    for margin in (0.5, 0.3):  # leads are 0.5, 0.5, 0.5
        loss = intra_margin_loss(scores, labels, margin=margin, num_negatives=2)
        assert loss.item() == 0
    assert intra_margin_loss(scores, labels, margin=0.6).item() > 0
    loss = intra_margin_loss(scores, labels, margin=0.3)
    loss.backward()
    assert torch.count_nonzero(scores.grad) == 0


@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_intra_gradient_matches_finite_difference(reduction):
    g = torch.Generator().manual_seed(5)
    scores = (torch.rand(6, 4, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    labels = torch.tensor([0, 3, 1, 1, 2, 0])
    intra_margin_loss(scores, labels, num_negatives=2, reduction=reduction).backward()

    def f(x):
        per = ref_intra(x, labels.tolist(), 0.5, 2)
        return sum(per) if reduction == 'sum' else sum(per) / len(per)

    fd = central_diff(f, scores.detach().numpy())
    np.testing.assert_allclose(scores.grad.numpy(), fd, rtol=1e-6, atol=1e-7)


def test_intra_uses_all_negatives_when_fewer_than_k():
    scores = torch.tensor([[0.2, 0.1], [0.0, 0.3]])
    labels = torch.tensor([0, 0])
    # C - 1 = 1 negative: (0.5 - 0.2 + 0.1) + (0.5 - 0.0 + 0.3) = 1.2 over 2 samples.
    assert intra_margin_loss(scores, labels, num_negatives=5).item() == pytest.approx(0.6)
    one_class = torch.randn(3, 1, requires_grad=True)
    loss = intra_margin_loss(one_class, torch.zeros(3, dtype=torch.long))
    assert loss.item() == 0 and loss.requires_grad


def test_intra_empty_batch_is_zero_with_grad_path():
    scores = torch.zeros(0, 4, requires_grad=True)
    for reduction in ('mean', 'sum'):
        loss = intra_margin_loss(scores, torch.zeros(0, dtype=torch.long), reduction=reduction)
        assert loss.item() == 0 and loss.requires_grad
        loss.backward()
        assert scores.grad.shape == (0, 4)


@pytest.mark.parametrize('kwargs,match', [
    (dict(reduction='none'), r"reduction must be one of \('mean', 'sum'\)"),
    (dict(margin=-0.1), 'margin must be a finite real number >= 0'),
    (dict(margin=float('nan')), 'margin must be a finite real number >= 0'),
    (dict(margin=float('inf')), 'margin must be a finite real number >= 0'),
    (dict(margin='0.5'), 'margin must be a finite real number >= 0'),
    (dict(margin=True), 'margin must be a finite real number >= 0'),
    (dict(num_negatives=0), 'num_negatives must be an int >= 1'),
    (dict(num_negatives=1.5), 'num_negatives must be an int >= 1'),
    (dict(num_negatives=True), 'num_negatives must be an int >= 1'),
    (dict(scores=torch.randn(4)), r'scores must be a 2-D \(N, C\)'),
    (dict(scores=torch.ones(4, 3, dtype=torch.long)), 'scores must be a floating-point'),
    (dict(labels=torch.tensor([0.0, 1.0, 2.0, 0.0])), 'labels must be an integer tensor'),
    (dict(labels=torch.tensor([0, 1, 2])), 'labels must be a 1-D tensor of N=4'),
    (dict(labels=torch.tensor([[0, 1, 2, 0]])), 'labels must be a 1-D tensor of N=4'),
    (dict(labels=torch.tensor([0, 1, 3, 0])), r'labels must lie in \[0, 3\)'),
    (dict(labels=torch.tensor([0, -1, 2, 0])), r'labels must lie in \[0, 3\)'),
])
def test_intra_argument_errors(kwargs, match):
    args = dict(scores=torch.randn(4, 3), labels=torch.tensor([0, 1, 2, 0]))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        intra_margin_loss(**args)
