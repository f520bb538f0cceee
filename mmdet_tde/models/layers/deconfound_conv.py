"""A 1x1 convolution with the de-confounded normalisation, for per-class mask logits."""
from torch import Tensor, nn

from .causal_norm import NORMS, normalized_logits


class DeconfoundConv2d(nn.Conv2d):
    """Per-pixel Eq. (7): ``tau/K * sum_k w_i^k . x^k / N(x^k, w_i^k) + b_i`` over the channels.

    The mask counterpart of the box classifier, in the spirit of mmdet's ``NormedConv2d``
    ("normed mask" seesaw configs): it de-confounds the per-class mask logits from the feature
    magnitude. The bias is kept because the sigmoid mask loss needs a learnable threshold.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=1, *args,
                 num_heads: int = 2, tau: float = 16.0, gamma: float = 1 / 32,
                 norm: str = 'deconfound', **kwargs):
        if kernel_size not in (1, (1, 1)):
            raise ValueError(f'kernel_size must be 1, got {kernel_size}')
        if in_channels % num_heads != 0:
            raise ValueError(f'in_channels must be a multiple of num_heads={num_heads}, '
                             f'got {in_channels}')
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        if not gamma >= 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        if norm not in NORMS:
            raise ValueError(f'norm must be one of {NORMS}, got {norm!r}')
        super().__init__(in_channels, out_channels, kernel_size, *args, **kwargs)
        self.num_heads = num_heads
        self.tau = float(tau)
        self.gamma = float(gamma)
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        logits = normalized_logits(
            x.movedim(1, -1), self.weight.flatten(1), self.num_heads, self.tau, self.gamma,
            self.norm).movedim(-1, 1)
        if self.bias is not None:
            logits = logits + self.bias.view(1, -1, 1, 1)
        return logits
