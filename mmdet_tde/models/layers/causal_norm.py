"""The de-confounded multi-head normalised classifier and TDE inference (pure PyTorch).

Equation numbers refer to "Long-Tailed Classification by Keeping the Good and Removing the Bad
Momentum Causal Effect" (Tang, Huang, Zhang, NeurIPS 2020, arXiv:2009.12991); the normalisation
family follows Eq. (1) of its supplementary material. Nothing here imports mmdet, so the layer can
be used in any classifier.
"""
import math
import warnings
from contextlib import nullcontext
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from .options import check_option, check_positive_int

NORMS = ('deconfound', 'cosine', 'capsule')


def _split_heads(t: Tensor, num_heads: int) -> Tensor:
    """(..., D) -> (..., K, D/K): the K contiguous channel groups of the multi-head strategy."""
    return t.reshape(*t.shape[:-1], num_heads, t.shape[-1] // num_heads)


def norm_factors(x_norm: Tensor, w_norm: Tensor, norm: str, gamma: float):
    """The two factors ``f(||x^k||)`` and ``g(||w_i^k||)`` of the normaliser of supplement Eq. (1).

    Every supported normaliser is such a product, so the logits reduce to one matrix product of
    per-head rescaled features and weights: the classifier costs what ``nn.Linear`` does.
    """
    if norm == 'deconfound':
        return x_norm, w_norm + gamma
    if norm == 'cosine':
        return x_norm, w_norm
    if norm == 'capsule':
        return x_norm + 1, w_norm
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def _upcast(t: Tensor) -> Tensor:
    """``t`` in float32 (float64 stays): fp16 norms overflow above 65504, underflow below 6e-5."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def autocast_off(t: Tensor):
    """A region where autocast does not lower the precision of the ops on ``t``'s device again."""
    if torch.amp.is_autocast_available(t.device.type):
        return torch.autocast(t.device.type, enabled=False)
    return nullcontext()


def _rescaled_heads(x: Tensor, weight: Tensor, num_heads: int, gamma: float, norm: str):
    """``x^k / f(||x^k||)`` (..., K, D/K) and ``w_i^k / g(||w_i^k||)`` (C, K, D/K), in float32+.

    Call it under :func:`autocast_off`: with AMP the matrix products would run in fp16 / bf16.
    """
    xk = _split_heads(_upcast(x), num_heads)
    wk = _split_heads(_upcast(weight), num_heads)
    fx, gw = norm_factors(xk.norm(dim=-1, keepdim=True), wk.norm(dim=-1, keepdim=True), norm,
                          gamma)
    # A zero feature (possible after ReLU) has no direction: clamping keeps its logits 0, not NaN.
    tiny = torch.finfo(xk.dtype).tiny
    return xk / fx.clamp_min(tiny), wk / gw.clamp_min(tiny)


def normalized_logits(x: Tensor, weight: Tensor, num_heads: int, tau: float, gamma: float,
                      norm: str = 'deconfound') -> Tensor:
    """``z_i = tau/K * sum_k (w_i^k . x^k) / N(x^k, w_i^k)`` (Eq. 7 for ``norm='deconfound'``).

    Computed in float32 (float64 inputs stay float64) whatever the input dtype or autocast.

    Args:
        x: features of shape (..., D).
        weight: class weights of shape (C, D).
    Returns:
        logits of shape (..., C).
    """
    with autocast_off(x):
        xs, ws = _rescaled_heads(x, weight, num_heads, gamma, norm)
        return _logits_of_rescaled(xs, ws, tau)


def _logits_of_rescaled(xs: Tensor, ws: Tensor, tau: float) -> Tensor:
    """``tau/K * sum_k xs^k . ws_i^k`` for the per-head rescaled features and weights."""
    return (tau / xs.shape[-2]) * F.linear(xs.flatten(-2), ws.flatten(-2))


def background_exempted_log_probs(logits: Tensor, tde_logits: Tensor, bg_index: int = -1) -> Tensor:
    """Log of Eq. (9), computed in log space so that no probability under- or overflows.

    ``log final_i = LSE(z_fg) - LSE(z) + TDE_i - LSE(TDE_fg)`` for foreground ``i`` and
    ``log final_bg = z_bg - LSE(z)``: the background keeps the de-confounded probability ``p_bg``
    and the foreground share ``1 - p_bg`` is divided in the proportions of the TDE probabilities.
    Computed in float32 (float64 stays) whatever the input dtype or autocast.
    """
    with autocast_off(logits):
        return _background_exempted_log_probs(_upcast(logits), _upcast(tde_logits), bg_index)


def _background_exempted_log_probs(logits: Tensor, tde_logits: Tensor, bg_index: int) -> Tensor:
    num_cols = logits.shape[-1]
    bg = bg_index % num_cols
    fg = torch.ones(num_cols, dtype=torch.bool, device=logits.device)
    fg[bg] = False
    log_p = logits.log_softmax(dim=-1)
    log_fg_share = (logits[..., fg].logsumexp(dim=-1, keepdim=True)
                    - logits.logsumexp(dim=-1, keepdim=True))
    tde_fg = tde_logits[..., fg]
    log_fg = log_fg_share + tde_fg - tde_fg.logsumexp(dim=-1, keepdim=True)
    out = torch.empty_like(log_p)
    out[..., fg] = log_fg
    out[..., bg] = log_p[..., bg]
    return out


def background_exempted_probs(z: Tensor, tde_logits: Tensor, bg_index: int = -1) -> Tensor:
    """Eq. (9): background-exempted class probabilities (they sum to 1 over all columns)."""
    return background_exempted_log_probs(z, tde_logits, bg_index).exp()


class CausalNormClassifier(nn.Module):
    """Multi-head normalised classifier with a tracked head direction (paper Sec. 4.1-4.2).

    Training uses :meth:`forward` (Eq. 7) with an ordinary cross-entropy and calls
    :meth:`update_head_direction` once per iteration; inference may subtract the head-direction
    effect with :meth:`tde` (Eq. 8). ``alpha`` is used only at inference, so changing it needs no
    retraining.

    Args:
        in_features: feature dimension D, divisible by ``num_heads``.
        num_classes: number of output columns (C + 1 in detection, background last).
        num_heads: K, the number of channel groups.
        tau: logit scale.
        gamma: class-agnostic baseline energy of the de-confound normaliser.
        alpha: default strength of the removed head-direction effect in :meth:`tde`.
        momentum: decay of the head-direction moving average (Assumption 1).
        norm: ``'deconfound'``, ``'cosine'`` or ``'capsule'`` (supplement Eq. 1).
    """

    def __init__(self, in_features: int, num_classes: int, num_heads: int = 2, tau: float = 16.0,
                 gamma: float = 1 / 32, alpha: float = 1.5, momentum: float = 0.9,
                 norm: str = 'deconfound'):
        super().__init__()
        check_positive_int('num_heads', num_heads)
        check_positive_int('in_features', in_features)
        if in_features % num_heads != 0:
            raise ValueError(f'in_features (the classifier input dimension, {in_features}) must be '
                             f'a multiple of num_heads={num_heads}')
        check_positive_int('num_classes', num_classes)
        if norm not in NORMS:
            raise ValueError(f'norm must be one of {NORMS}, got {norm!r}')
        self.in_features = in_features
        self.num_classes = num_classes
        self.num_heads = num_heads
        self.tau = check_option('tau', tau)
        self.gamma = check_option('gamma', gamma)
        self.alpha = check_option('alpha', alpha)
        self.momentum = check_option('momentum', momentum)
        self.norm = norm
        # Iterations skipped for non-finite foreground features (on some rank) or direction.
        self.skipped_updates = 0
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        # The unnormalised moving average x_bar of Assumption 1; saved in checkpoints.
        self.register_buffer('head_direction', torch.zeros(in_features))
        # False freezes x_bar (as batch norm's track_running_stats=False freezes its statistics),
        # e.g. at the phase-I direction through phase II of dual-phase training.
        self.track_head_direction = True
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, num_classes={self.num_classes}, '
                f'num_heads={self.num_heads}, tau={self.tau}, gamma={self.gamma}, '
                f'alpha={self.alpha}, momentum={self.momentum}, norm={self.norm!r}')

    def deconfounded_logits(self, x: Tensor) -> Tensor:
        """De-confounded logits ``z`` (Eq. 7), shape (N, num_classes)."""
        return normalized_logits(x, self.weight, self.num_heads, self.tau, self.gamma, self.norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.deconfounded_logits(x)

    def _direction_heads(self) -> Tensor:
        """``x_bar`` per head in float64: its norm cannot overflow, whatever the buffer's dtype."""
        return _split_heads(self.head_direction.double(), self.num_heads)

    def head_direction_problem(self) -> Optional[str]:
        """Why TDE is impossible with the current ``head_direction``; None when it is possible."""
        d = self._direction_heads()
        if not torch.isfinite(d).all():
            return 'head_direction is not finite (NaN or inf)'
        if (d.norm(dim=-1) == 0).any():
            return 'head_direction is zero (never trained or not in the checkpoint)'
        return None

    @property
    def has_head_direction(self) -> bool:
        """Whether every head's direction is defined (finite, non-zero), i.e. TDE is possible."""
        return self.head_direction_problem() is None

    @torch.no_grad()
    def update_head_direction(self, x_fg: Tensor) -> bool:
        """``x_bar <- momentum * x_bar + mean(x_fg)`` over the foreground features of all ranks.

        Sum, count and a "not finite" flag are all-reduced together when ``torch.distributed`` is
        initialised, so every rank makes the same decision and ends with the same direction. An
        iteration without foreground features anywhere changes nothing. One whose features (or
        resulting direction) are not finite on any rank is skipped, since a single NaN would stay
        in the moving average for good; it is counted in ``skipped_updates``.

        Nothing changes (and nothing is all-reduced) while ``track_head_direction`` is False.

        Returns:
            False when the iteration was skipped for non-finite values, else True.
        """
        if not self.track_head_direction:
            return True
        x_fg = x_fg.detach().reshape(-1, self.in_features)
        local_sum = x_fg.sum(dim=0, dtype=torch.float64)
        not_finite = ~torch.isfinite(local_sum).all()
        stats = torch.cat([torch.where(not_finite, 0.0, local_sum),
                           local_sum.new_tensor([x_fg.shape[0]]), not_finite.double()[None]])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(stats)
        count, ranks_not_finite = stats[-2], stats[-1]
        if ranks_not_finite == 0 and count == 0:
            return True
        if ranks_not_finite == 0:
            updated = (self.head_direction.double() * self.momentum + stats[:-2] / count)
            updated = updated.to(self.head_direction.dtype)
            if torch.isfinite(updated).all():
                self.head_direction.copy_(updated)
                return True
        self.skipped_updates += 1
        return False

    def head_direction_unit(self) -> Tensor:
        """``d_hat^k = x_bar^k / ||x_bar^k||`` per head, shape (K, D/K), in float32 or float64."""
        d = self._direction_heads()
        unit = d / d.norm(dim=-1, keepdim=True)
        return unit.to(torch.promote_types(self.head_direction.dtype, torch.float32))

    def head_direction_cosine(self, x: Tensor) -> Tensor:
        """``cos(x^k, d_hat^k)`` per sample and head, (N, K): the size of the removed effect."""
        with autocast_off(x):
            xk = _split_heads(_upcast(x), self.num_heads)
            cos = (xk * self.head_direction_unit().to(xk.dtype)).sum(dim=-1)
            return cos / xk.norm(dim=-1).clamp_min(torch.finfo(xk.dtype).tiny)

    def logits_and_counterfactual(self, x: Tensor):
        """Eq. (7) logits and the counterfactual logits, from one normalisation of x and w.

        The counterfactual logits are those of the head-direction part
        ``d^k = cos(x^k, d_hat^k) ||x^k|| d_hat^k`` of ``x``: Eq. (7) with the discriminative part
        set to zero while the normaliser keeps ``||x^k||`` (the "null input" of Sec. 4.2), for any
        of the three norms. Per head it is a rank-one term: ``(d_hat^k . x^k) / f(||x^k||)`` times
        ``(w_i^k . d_hat^k) / g(||w_i^k||)``. Both terms share the rescaled features and weights;
        a caller that tries several alphas computes them once and combines them per alpha (Eq. 8
        is linear in alpha). Computed in float32 (float64 stays) whatever the input dtype or
        autocast.
        """
        problem = self.head_direction_problem()
        if problem is not None:
            raise RuntimeError(f'{problem}: TDE is undefined; run inference without TDE')
        with autocast_off(x):
            xs, ws = _rescaled_heads(x, self.weight, self.num_heads, self.gamma, self.norm)
            d_hat = self.head_direction_unit().to(xs.dtype)              # (K, Dk)
            x_along_d = (xs * d_hat).sum(dim=-1)                         # (N, K)
            w_along_d = (ws * d_hat).sum(dim=-1)                         # (C, K)
            counterfactual = (self.tau / self.num_heads) * F.linear(x_along_d, w_along_d)
            return _logits_of_rescaled(xs, ws, self.tau), counterfactual

    def tde(self, x: Tensor, alpha: Optional[float] = None) -> Tensor:
        """Total Direct Effect logits (Eq. 8): ``z - alpha * counterfactual``."""
        alpha = self.resolve_alpha(alpha)
        logits, counterfactual = self.logits_and_counterfactual(x)
        return logits - alpha * counterfactual

    def resolve_alpha(self, alpha: Optional[float]) -> float:
        """``alpha``, or the configured one when None; negative or non-finite values are refused."""
        return check_option('alpha', self.alpha if alpha is None else alpha)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + 'head_direction'
        if key not in state_dict:
            warnings.warn(f'checkpoint has no "{key}" (e.g. a stock linear head): '
                          'the head direction stays zero and inference runs without TDE')
        elif not torch.isfinite(state_dict[key]).all():
            raise ValueError(f'checkpoint entry "{key}" is not finite (NaN or inf): TDE with it '
                             'would give NaN or all-zero scores; the checkpoint is refused')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
