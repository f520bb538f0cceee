"""Post-hoc logit adjustment of a trained softmax classifier with a background column (PyTorch).

"Long-tail learning via logit adjustment" (Menon et al., ICLR 2021, arXiv:2007.07314): a
classifier trained on a long-tailed set favours the frequent classes by about their log prior;
subtracting ``tau * log(pi_i)`` from the logits after training removes that, with no retraining.
Detection adds the background (mmdet's last column, which has no training prior comparable to
the classes'): it either stays an ordinary column (``background_exempted=False``), or keeps its
probability while the foreground share is re-divided (``True``), as TDE's background-exempted
inference does. Nothing here imports mmdet.
"""
import numbers

import torch
from torch import Tensor

from .causal_norm import _upcast, autocast_off
from .options import check_number, check_option


def log_class_prior(class_counts) -> Tensor:
    """``log(pi)``, ``pi = class_counts / sum(class_counts)``, in float64, one entry per class.

    ``class_counts``: training instances per foreground class, in label order (a sequence of
    numbers or a tensor). Every count must be finite and > 0: a class never seen in training has
    ``log 0 = -inf``, which would make its adjusted logit infinite.
    """
    if isinstance(class_counts, Tensor):
        if class_counts.dtype == torch.bool or class_counts.is_complex():
            raise TypeError(f'class_counts must hold real numbers, got dtype {class_counts.dtype}')
        counts = class_counts.detach().to(torch.float64)
    else:
        values = list(class_counts)
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Real)]
        if bad:
            raise TypeError(f'class_counts must hold numbers (training instances per class), '
                            f'got {bad[0]!r}')
        counts = torch.tensor(values, dtype=torch.float64)
    if counts.ndim != 1 or counts.numel() == 0:
        raise ValueError('class_counts must be a non-empty 1-D sequence (one count per '
                         f'foreground class), got shape {tuple(counts.shape)}')
    bad = (~torch.isfinite(counts) | (counts <= 0)).nonzero().flatten().tolist()
    if bad:
        shown = ', '.join(f'class {i}: {counts[i].item():g}' for i in bad[:10])
        raise ValueError(f'class_counts must be finite numbers > 0 (log 0 = -inf has no prior); '
                         f'{len(bad)} are not ({shown}{", ..." if len(bad) > 10 else ""})')
    return counts.log() - counts.sum().log()


def _adjusted(cls_score: Tensor, log_prior: Tensor, tau, background_exempted) -> Tensor:
    """Checked arguments, then logits (float32 or float64) whose softmax is the adjusted
    distribution; ``cls_score`` itself (upcast) when ``tau`` is 0."""
    tau = check_number('tau', tau, 0)
    check_option('background_exempted', background_exempted)
    if cls_score.ndim < 1 or cls_score.shape[-1] != log_prior.numel() + 1:
        columns = cls_score.shape[-1] if cls_score.ndim else 0
        raise ValueError(f'class_counts has {log_prior.numel()} entries but cls_score has '
                         f'{columns} columns: expected columns - 1 = {columns - 1} (one count '
                         'per foreground class, the background last)')
    z = _upcast(cls_score)
    if tau == 0:
        # Exactly the unadjusted model, not softmax(z) up to rounding.
        return z
    with autocast_off(z):
        z_fg = z[..., :-1]
        adjusted = z_fg - (tau * log_prior).to(z)
        if background_exempted:
            # Shifting all foreground logits by LSE(z_fg) - LSE(adjusted) gives the foreground
            # the total mass it had, so the background keeps softmax(z)'s probability.
            adjusted = adjusted + (z_fg.logsumexp(dim=-1, keepdim=True)
                                   - adjusted.logsumexp(dim=-1, keepdim=True))
        return torch.cat([adjusted, z[..., -1:]], dim=-1)


def logit_adjusted_scores(cls_score: Tensor, log_prior: Tensor, tau: float = 1.0,
                          background_exempted: bool = True) -> Tensor:
    """Scores whose softmax is :func:`posthoc_logit_adjustment`, for callers that apply softmax.

    mmdet's box post-processing applies softmax to what the head gives it: handing it these
    (not probabilities) keeps the probabilities from being squashed a second time. ``log_prior``
    comes from :func:`log_class_prior`. Computed in float32 (float64 stays); returned in the
    dtype of ``cls_score``. ``tau`` = 0 returns ``cls_score``'s values unchanged.
    """
    return _adjusted(cls_score, log_prior, tau, background_exempted).to(cls_score.dtype)


def posthoc_logit_adjustment(cls_score: Tensor, class_counts, tau: float = 1.0,
                             background_exempted: bool = True) -> Tensor:
    """Class probabilities (..., C + 1) of a softmax classifier after post-hoc logit adjustment.

    The foreground logits become ``z_i - tau * log(pi_i)``, ``pi = class_counts / sum``; the
    background is the last column. ``background_exempted=True``: the background keeps
    ``softmax(z)``'s probability ``p_bg`` and the foreground classes share ``1 - p_bg`` in the
    proportions of the softmax over their adjusted logits. ``False``: softmax over the adjusted
    foreground logits and the unchanged background logit. ``tau`` = 0 is ``softmax(z)`` exactly.
    Computed in float32 (float64 stays) whatever the input dtype or autocast; returned in the
    dtype of ``cls_score``.

    Args:
        cls_score: logits (..., C + 1), the background last (mmdet's layout).
        class_counts: C training instance counts (finite, > 0), in label order.
        tau: strength of the adjustment, finite and >= 0 (the paper's default is 1).
        background_exempted: keep the background's probability (see above).
    """
    scores = _adjusted(cls_score, log_class_prior(class_counts), tau, background_exempted)
    with autocast_off(scores):
        return scores.softmax(dim=-1).to(cls_score.dtype)
