"""``fc_cls`` for phase I of dual-phase training: all C + 1 columns, the phase-II ones masked.

Phase I keeps the full classifier so that its checkpoint loads into phase II without key surgery
(the same ``fc_cls`` keys as the phase-II head), and so that the phase-I model can be evaluated
on its own categories. The masked columns get a large negative logit in training and testing:
they never win and add nothing to the loss.
"""
import torch
from torch import Tensor, nn

from mmdet.registry import MODELS

from mmdet_tde.fileio import load_split, phase2_labels

from .causal_norm_predictor import CausalNormPredictor

# Added to the masked columns' scores: exp(-1e4) is 0 in a float32 or bfloat16 softmax, and the
# sum stays far inside float16's range (65504) for any score a detector produces.
MASKED_LOGIT = -1e4


class PhaseMaskMixin:
    """Adds :data:`MASKED_LOGIT` to the phase-II columns of the classifier's scores."""

    def _init_phase_mask(self, split_file: str, out_features: int) -> None:
        split = load_split(split_file)
        num_classes = len(split['phase1_category_ids']) + len(split['phase2_category_ids'])
        if out_features != num_classes + 1:
            raise ValueError(f'{split_file} splits {num_classes} categories but the box head '
                             f'has out_features={out_features}; expected num_classes + 1 = '
                             f'{num_classes + 1} (a softmax head with the background column)')
        self.split_digest = split['digest']
        mask = torch.zeros(out_features)
        mask[phase2_labels(split)] = MASKED_LOGIT
        self.register_buffer('logit_mask', mask, persistent=False)

    def extra_repr(self) -> str:
        masked = int((self.logit_mask != 0).sum())
        return f'{super().extra_repr()}, masked_classes={masked}, split={self.split_digest}'

    def _masked(self, scores: Tensor) -> Tensor:
        return scores + self.logit_mask.to(scores.dtype)


@MODELS.register_module()
class PhaseMaskedLinear(PhaseMaskMixin, nn.Linear):
    """mmdet's linear classifier that cannot predict the phase-II categories.

    Args:
        in_features, out_features: filled in by mmdet's box heads (``out_features`` = C + 1).
        split_file: the split made by ``tools/dual_phase_split.py``.
    """

    def __init__(self, in_features: int, out_features: int, split_file: str, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self._init_phase_mask(split_file, out_features)

    def forward(self, x: Tensor) -> Tensor:
        return self._masked(super().forward(x))


@MODELS.register_module()
class PhaseMaskedCausalNormPredictor(PhaseMaskMixin, CausalNormPredictor):
    """The TDE heads' classifier that cannot predict the phase-II categories.

    In training the mask is added to the Eq. 7 logits; at inference to the log of the Eq. 9
    probabilities, so mmdet's softmax gives the masked columns 0 and renormalises the others.
    The head direction is tracked as usual (it depends on the features, not on the logits).
    """

    def __init__(self, in_features: int, out_features: int, split_file: str, **kwargs):
        super().__init__(in_features, out_features, **kwargs)
        self._init_phase_mask(split_file, out_features)

    def forward(self, x: Tensor) -> Tensor:
        # inference goes through scores_from_terms, masked there (also for the alpha sweep)
        scores = super().forward(x)
        return self._masked(scores) if self.training else scores

    def scores_from_terms(self, logits, counterfactual, alpha=None) -> Tensor:
        return self._masked(super().scores_from_terms(logits, counterfactual, alpha))
