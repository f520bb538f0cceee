"""A 1x1 convolution with the de-confounded normalisation, for per-class mask logits."""
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from .causal_norm import NORMS, normalized_logits
from .options import check_option, check_positive_int


class DeconfoundConv2d(nn.Conv2d):
    """Per-pixel Eq. (7): ``tau/K * sum_k w_i^k . x^k / N(x^k, w_i^k) + b_i`` over the channels.

    The mask counterpart of the box classifier, in the spirit of mmdet's ``NormedConv2d``
    ("normed mask" seesaw configs): it de-confounds the per-class mask logits from the feature
    magnitude. The bias is kept because the sigmoid mask loss needs a learnable threshold. The
    forward pass is a per-pixel classifier, so only the geometry of a plain 1x1 convolution
    (stride 1, no padding, dilation 1, one group) is accepted: anything else would be ignored.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=1, stride=1, padding=0,
                 dilation=1, groups=1, bias: bool = True, *, num_heads: int = 2,
                 tau: float = 16.0, gamma: float = 1 / 32, norm: str = 'deconfound', **kwargs):
        check_positive_int('in_channels', in_channels)
        check_positive_int('out_channels', out_channels)
        check_positive_int('num_heads', num_heads)
        if in_channels % num_heads != 0:
            raise ValueError(f'in_channels must be a multiple of num_heads={num_heads}, '
                             f'got {in_channels}')
        if norm not in NORMS:
            raise ValueError(f'norm must be one of {NORMS}, got {norm!r}')
        for name, value in (('kernel_size', kernel_size), ('stride', stride),
                            ('dilation', dilation), ('groups', groups)):
            if _pair(value) != (1, 1):
                raise ValueError(f'{name} must be 1 (a per-pixel classifier), got {value}')
        if padding not in ('valid', 'same') and _pair(padding) != (0, 0):
            raise ValueError(f'padding must be 0 (a per-pixel classifier), got {padding}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, **kwargs)
        self.num_heads = num_heads
        self.tau = check_option('tau', tau)
        self.gamma = check_option('gamma', gamma)
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        logits = normalized_logits(
            x.movedim(1, -1), self.weight.flatten(1), self.num_heads, self.tau, self.gamma,
            self.norm).movedim(-1, 1)
        if self.bias is not None:
            logits = logits + self.bias.view(1, -1, 1, 1)
        return logits
