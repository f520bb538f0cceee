"""Exemplar selection and phase-II losses of asynchronous dual-phase modeling (pure PyTorch).

Equation numbers refer to "Asynchronous Modeling: A Dual-Phase Perspective for Long-Tailed
Recognition" (ICLR 2021 submission, OpenReview u846Bqhry_). Nothing here imports mmdet, mmcv or
mmengine, so the pieces can be checked and reused outside a detector.
"""
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor

REDUCTIONS = ('mean', 'sum')


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_count(name, value):
    # bool is an int subclass; True as a count is almost certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _cosine(a: Tensor, b: Tensor) -> Tensor:
    """(P, D) x (Q, D) -> (P, Q) cosine similarities; a zero vector is 0-similar to everything."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()


@torch.no_grad()
def select_exemplars(features: Tensor, num: int) -> Tensor:
    """Herd ``num`` exemplars of one class by Eq. 2-5, with cosine similarity as ``s``.

    From "Asynchronous Modeling: A Dual-Phase Perspective for Long-Tailed Recognition" (ICLR 2021
    submission, OpenReview u846Bqhry_). ``c`` is the mean of the raw (unnormalised) features, as
    the paper's "average feature from all examples in class j". ``m_1`` is the feature closest to
    ``c`` (Eq. 2); after ``k`` picks ``p = softmax_i s(c, m_i)`` (Eq. 3), ``z = p M`` (Eq. 4) and
    the next pick is the unpicked feature closest to ``c + (c - z)`` (Eq. 5): the residual pushes
    the query to the side of ``c`` the memory does not cover yet. Eq. 5 takes its argmax over all
    of ``X_1``; picks are made without replacement here so that ``num`` samples are distinct.

    Scores are computed in float64 so near-equal candidates are ranked stably; exact ties (such
    as duplicate features) go to the lowest index.

    Args:
        features: (N, D) features of the samples of one class.
        num: how many exemplars to keep (>= 1).
    Returns:
        LongTensor of indices into ``features`` in selection order; ``arange(N)`` when N <= num.
    """
    if not isinstance(features, Tensor) or features.dim() != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be a 2-D (N, D) tensor, got {shape}")
    _check_count('num', num)
    n = features.shape[0]
    if n <= num:
        return torch.arange(n, device=features.device)
    x = features.detach().to(torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError("features must be finite (no NaN or inf)")
    c = x.mean(dim=0, keepdim=True)
    cand = F.normalize(x, dim=1)
    picked = torch.zeros(n, dtype=torch.bool, device=x.device)
    order = []
    query = c
    for _ in range(num):
        # Row-wise products: identical rows score bit-identically, so argmax's first-hit rule
        # settles exact ties on the lowest index.
        score = (cand * F.normalize(query, dim=1)).sum(dim=1).masked_fill(picked, -float('inf'))
        idx = int(torch.argmax(score))
        picked[idx] = True
        order.append(idx)
        mem = x[order]
        p = torch.softmax(_cosine(c, mem), dim=1)  # (1, k), Eq. 3
        z = p @ mem  # Eq. 4
        query = c + (c - z)  # Eq. 5
    return torch.tensor(order, dtype=torch.long, device=features.device)


def check_graph_options(temperature, normalize) -> None:
    """Refuse a ``temperature`` that is not a finite real > 0, a ``normalize`` that is not bool."""
    if (isinstance(temperature, bool) or not isinstance(temperature, numbers.Real)
            or not 0 < temperature < float('inf')):
        raise ValueError(f"temperature must be a finite real number > 0, got {temperature!r}")
    if not isinstance(normalize, bool):
        raise ValueError(f"normalize must be True or False, got {normalize!r}")


def _check_pair(z_old, z_new):
    if not isinstance(z_old, Tensor) or not isinstance(z_new, Tensor):
        raise TypeError("z_old and z_new must be tensors")
    if z_new.dim() != 2 or z_old.shape != z_new.shape:
        raise ValueError(f"z_old and z_new must both be (N, D) of the same shape, got "
                         f"{tuple(z_old.shape)} and {tuple(z_new.shape)}")


def graph_matching_loss(z_old: Tensor, z_new: Tensor, reduction: str = 'mean',
                        temperature: float = 1.0, normalize: bool = False) -> Tensor:
    """Memory-retentive graph-matching loss of Eq. 6-8, with cosine similarity as ``s``.

    From "Asynchronous Modeling: A Dual-Phase Perspective for Long-Tailed Recognition" (ICLR 2021
    submission, OpenReview u846Bqhry_). Row ``i`` of ``z_old`` is node ``z_i`` of G_old (the
    frozen phase-I model) and row ``j`` of ``z_new`` is node ``z_hat_j`` of G_new (the model being
    trained), both computed on the same N samples. For each old node
    ``a_ji = softmax_j s(z_i, z_hat_j) / temperature`` (Eq. 6) and
    ``mu_i = sum_j a_ji ||z_i - z_hat_j||_2`` (Eq. 7, whose printed ``sum_i`` can only be
    ``sum_j``: ``a_ji`` is normalised over ``j``): a soft distance from ``z_i`` to its nearest
    new nodes.

    ``temperature=1, normalize=False`` is the paper's literal form. Its cosines in [-1, 1] give
    nearly uniform weights, so ``mu_i`` is about the mean distance to all new nodes and is not 0
    when ``z_new == z_old``. A small ``temperature`` peaks ``a_ji`` on the closest node (the
    paper's wording: "the difference between z_i and its closest neighbor"), and
    ``normalize=True`` measures ``||z_i/|z_i| - z_hat_j/|z_hat_j|||`` (in [0, 2], the scale of the
    cosines, whatever the features' norms). At ``z_new == z_old`` the loss tends to 0 as the
    temperature does (for features of distinct directions), with either distance.

    ``'sum'`` is Eq. 8 literally (``sum_i mu_i``); ``'mean'`` divides by N so the term does not
    grow with the batch. The old features are detached (the phase-I model is the fixed target);
    the paper puts no stop-gradient on ``a_ji``, so the gradient reaches ``z_new`` through both
    the weights and the distances.

    Args:
        z_old: (N, D) features of the phase-I model.
        z_new: (N, D) features of the phase-II model for the same samples.
        reduction: ``'mean'`` or ``'sum'``.
        temperature: divides the cosines inside the softmax (> 0).
        normalize: measure the distances between unit-length features.
    Returns:
        A scalar; 0 (still connected to ``z_new``) when N = 0.
    """
    _check_reduction(reduction)
    check_graph_options(temperature, normalize)
    _check_pair(z_old, z_new)
    n = z_new.shape[0]
    if n == 0:
        return z_new.sum() * 0
    z_old = z_old.detach().to(z_new.dtype)
    a = torch.softmax(_cosine(z_old, z_new) / temperature, dim=1)  # row i: a_ji over j, Eq. 6
    if normalize:
        z_old, z_new = F.normalize(z_old, dim=1), F.normalize(z_new, dim=1)
    # Exact pairwise differences (no ||a||^2 + ||b||^2 - 2ab cancellation); its backward gives 0,
    # not NaN, where z_i == z_hat_j, as at the start of phase II.
    dist = torch.cdist(z_old, z_new, p=2.0, compute_mode='donot_use_mm_for_euclid_dist')
    mu = (a * dist).sum(dim=1)  # Eq. 7
    loss = mu.sum()  # Eq. 8
    return loss / n if reduction == 'mean' else loss


def feature_distillation_loss(z_old: Tensor, z_new: Tensor, reduction: str = 'mean') -> Tensor:
    """Plain per-sample distillation ``sum_i 1 - cos(z_i, z_hat_i)``: the control any graph form
    of :func:`graph_matching_loss` must beat (it keeps each new feature's direction at its old
    one, with no graph). Not in the paper. ``'mean'`` divides by N; 0 at ``z_new == z_old``.

    Args:
        z_old: (N, D) features of the phase-I model (detached).
        z_new: (N, D) features of the phase-II model for the same samples.
        reduction: ``'mean'`` or ``'sum'``.
    Returns:
        A scalar; 0 (still connected to ``z_new``) when N = 0.
    """
    _check_reduction(reduction)
    _check_pair(z_old, z_new)
    n = z_new.shape[0]
    if n == 0:
        return z_new.sum() * 0
    z_old = z_old.detach().to(z_new.dtype)
    per_sample = 1 - (F.normalize(z_old, dim=1) * F.normalize(z_new, dim=1)).sum(dim=1)
    loss = per_sample.sum()
    return loss / n if reduction == 'mean' else loss


def intra_margin_loss(scores: Tensor, labels: Tensor, margin: float = 0.5, num_negatives: int = 2,
                      reduction: str = 'mean') -> Tensor:
    """Intra-classification margin loss ``L_intra`` of Eq. 9 (LUCIR's margin ranking loss).

    From "Asynchronous Modeling: A Dual-Phase Perspective for Long-Tailed Recognition" (ICLR 2021
    submission, OpenReview u846Bqhry_): per sample,
    ``sum_{k=1}^{K} max(0, margin - s_y + s_k)`` over the K highest non-target scores, so the
    target keeps a margin over its hardest competitors and memory samples of phase-I classes are
    not swamped by the new classes. The paper uses cosine-classifier scores; any (N, C) scores
    work. With fewer than K non-target classes all of them are used.

    Args:
        scores: (N, C) class scores.
        labels: (N,) integer labels in [0, C).
        margin: the margin m (>= 0).
        num_negatives: K, how many of the highest non-target scores to rank against (>= 1).
        reduction: ``'mean'`` over samples (Eq. 9's ``1/|D|``) or ``'sum'``.
    Returns:
        A scalar; 0 (still connected to ``scores``) when N = 0.
    """
    _check_reduction(reduction)
    _check_count('num_negatives', num_negatives)
    if (isinstance(margin, bool) or not isinstance(margin, numbers.Real)
            or not margin >= 0 or margin == float('inf')):
        raise ValueError(f"margin must be a finite real number >= 0, got {margin!r}")
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a 2-D (N, C) tensor, got {shape}")
    if not scores.dtype.is_floating_point:
        raise ValueError(f"scores must be a floating-point tensor, got {scores.dtype}")
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.shape[0] != scores.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a 1-D tensor of N={scores.shape[0]} entries, got {shape}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got {labels.dtype}")
    n, num_classes = scores.shape
    if n == 0:
        return scores.sum() * 0
    if bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    labels = labels.long()
    k = min(num_negatives, num_classes - 1)
    if k == 0:
        return scores.sum() * 0
    pos = scores.gather(1, labels[:, None])  # (N, 1)
    others = scores.scatter(1, labels[:, None], -float('inf'))
    neg = others.topk(k, dim=1).values  # (N, k); never the -inf target since k <= C - 1
    per_sample = (margin - pos + neg).clamp_min(0).sum(dim=1)
    return per_sample.mean() if reduction == 'mean' else per_sample.sum()
