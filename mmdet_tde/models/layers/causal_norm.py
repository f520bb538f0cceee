"""The de-confounded multi-head normalised classifier and TDE inference (pure PyTorch).

Equation numbers refer to ``000_9f08259b63e41578.txt`` (the TDE paper); the normalisation
family follows Eq. (1) of its supplement ``002_f5e2d7e9c642274e.txt``. Nothing here imports
mmdet, so the layer can be used in any classifier.
"""
import math
import warnings
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

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


def _rescaled_heads(x: Tensor, weight: Tensor, num_heads: int, gamma: float, norm: str):
    """``x^k / f(||x^k||)`` (..., K, D/K) and ``w_i^k / g(||w_i^k||)`` (C, K, D/K)."""
    xk = _split_heads(x, num_heads)
    wk = _split_heads(weight, num_heads)
    fx, gw = norm_factors(xk.norm(dim=-1, keepdim=True), wk.norm(dim=-1, keepdim=True), norm,
                          gamma)
    # A zero feature (possible after ReLU) has no direction: clamping keeps its logits 0, not NaN.
    tiny = torch.finfo(x.dtype).tiny
    return xk / fx.clamp_min(tiny), wk / gw.clamp_min(tiny)


def normalized_logits(x: Tensor, weight: Tensor, num_heads: int, tau: float, gamma: float,
                      norm: str = 'deconfound') -> Tensor:
    """``z_i = tau/K * sum_k (w_i^k . x^k) / N(x^k, w_i^k)`` (Eq. 7 for ``norm='deconfound'``).

    Args:
        x: features of shape (..., D).
        weight: class weights of shape (C, D).
    Returns:
        logits of shape (..., C).
    """
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
    """
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
        if not isinstance(num_heads, int) or num_heads < 1:
            raise ValueError(f'num_heads must be a positive integer, got {num_heads!r}')
        if in_features <= 0 or in_features % num_heads != 0:
            raise ValueError(f'in_features must be a positive multiple of num_heads={num_heads}, '
                             f'got in_features={in_features}')
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        if not gamma >= 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        if not alpha >= 0:
            raise ValueError(f'alpha must be >= 0, got {alpha}')
        if not 0 <= momentum < 1:
            raise ValueError(f'momentum must be in [0, 1), got {momentum}')
        if norm not in NORMS:
            raise ValueError(f'norm must be one of {NORMS}, got {norm!r}')
        self.in_features = in_features
        self.num_classes = num_classes
        self.num_heads = num_heads
        self.tau = float(tau)
        self.gamma = float(gamma)
        self.alpha = float(alpha)
        self.momentum = float(momentum)
        self.norm = norm
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        # The unnormalised moving average x_bar of Assumption 1; saved in checkpoints.
        self.register_buffer('head_direction', torch.zeros(in_features))
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

    @property
    def has_head_direction(self) -> bool:
        """Whether every head's direction is defined (non-zero), i.e. TDE is possible."""
        return bool((_split_heads(self.head_direction, self.num_heads).norm(dim=-1) > 0).all())

    @torch.no_grad()
    def update_head_direction(self, x_fg: Tensor) -> None:
        """``x_bar <- momentum * x_bar + mean(x_fg)`` over the foreground features of all ranks.

        Sum and count are all-reduced when ``torch.distributed`` is initialised, so every rank ends
        with the same direction. An iteration without foreground features anywhere changes nothing.
        """
        x_fg = x_fg.detach().reshape(-1, self.in_features)
        stats = torch.cat([x_fg.sum(dim=0, dtype=torch.float64),
                           x_fg.new_tensor([x_fg.shape[0]], dtype=torch.float64)])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(stats)
        count = stats[-1]
        if count == 0:
            return
        mean = (stats[:-1] / count).to(self.head_direction.dtype)
        self.head_direction.mul_(self.momentum).add_(mean)

    def head_direction_unit(self) -> Tensor:
        """``d_hat^k = x_bar^k / ||x_bar^k||`` per head, shape (K, D/K)."""
        d = _split_heads(self.head_direction, self.num_heads)
        return d / d.norm(dim=-1, keepdim=True)

    def head_direction_cosine(self, x: Tensor) -> Tensor:
        """``cos(x^k, d_hat^k)`` per sample and head, (N, K): the size of the removed effect."""
        xk = _split_heads(x, self.num_heads)
        cos = (xk * self.head_direction_unit().to(x.dtype)).sum(dim=-1)
        return cos / xk.norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)

    def counterfactual_logits(self, x: Tensor) -> Tensor:
        """Logits of the head-direction part ``d^k = cos(x^k, d_hat^k) ||x^k|| d_hat^k`` of ``x``.

        This is Eq. (7) with the discriminative part of ``x`` set to zero while the normaliser keeps
        ``||x^k||`` (the "null input" of Sec. 4.2), for any of the three norms. Per head it is a
        rank-one term: ``(d_hat^k . x^k) / f(||x^k||)`` times ``(w_i^k . d_hat^k) / g(||w_i^k||)``.
        """
        return self.logits_and_counterfactual(x)[1]

    def logits_and_counterfactual(self, x: Tensor):
        """``(deconfounded_logits(x), counterfactual_logits(x))`` from one normalisation of x and w.

        Both TDE terms share the rescaled features and weights; a caller that tries several alphas
        computes them once and combines them per alpha (Eq. 8 is linear in alpha).
        """
        if not self.has_head_direction:
            raise RuntimeError('head_direction is zero (never trained or not in the checkpoint): '
                               'TDE is undefined; run inference without TDE')
        d_hat = self.head_direction_unit().to(x.dtype)                  # (K, Dk)
        xs, ws = _rescaled_heads(x, self.weight, self.num_heads, self.gamma, self.norm)
        x_along_d = (xs * d_hat).sum(dim=-1)                             # (N, K)
        w_along_d = (ws * d_hat).sum(dim=-1)                             # (C, K)
        counterfactual = (self.tau / self.num_heads) * F.linear(x_along_d, w_along_d)
        return _logits_of_rescaled(xs, ws, self.tau), counterfactual

    def tde(self, x: Tensor, alpha: Optional[float] = None) -> Tensor:
        """Total Direct Effect logits (Eq. 8): ``z - alpha * counterfactual_logits(x)``."""
        alpha = self.resolve_alpha(alpha)
        logits, counterfactual = self.logits_and_counterfactual(x)
        return logits - alpha * counterfactual

    def resolve_alpha(self, alpha: Optional[float]) -> float:
        """``alpha``, or the configured one when None; negative values are refused."""
        alpha = self.alpha if alpha is None else alpha
        if alpha < 0:
            raise ValueError(f'alpha must be >= 0, got {alpha}')
        return alpha

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        if prefix + 'head_direction' not in state_dict:
            warnings.warn(f'checkpoint has no "{prefix}head_direction" (e.g. a stock linear head): '
                          'the head direction stays zero and inference runs without TDE')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
