"""``fc_cls`` of the TDE box heads: the causal-norm classifier with detection inference modes."""
import logging
from typing import Optional, Tuple

from mmengine.logging import MessageHub, print_log
from torch import Tensor

from mmdet.registry import MODELS

from mmdet_tde.models.layers import CausalNormClassifier, background_exempted_log_probs
from mmdet_tde.models.layers.options import check_option

# Training-log scalar: head-direction updates skipped for non-finite features, all stages.
SKIPPED_UPDATES_KEY = 'train/tde_skipped_direction_updates'


@MODELS.register_module()
class CausalNormPredictor(CausalNormClassifier):
    """Eq. (7) logits in training; at inference the scores mmdet's post-processing expects.

    mmdet applies ``softmax`` to whatever the box head returns. With background-exempted TDE the
    head therefore returns ``log`` of the Eq. (9) probabilities: ``softmax(log p) = p``, so the
    probabilities are not squashed a second time. Cascade R-CNN averages its stages' outputs before
    that softmax; averaging log-probabilities gives the normalised geometric mean of the stages'
    probabilities, which is exactly what averaging logits means for mmdet's stock linear heads.

    Args:
        in_features, out_features: filled in by mmdet's box heads (``out_features`` = C + 1).
        use_tde: remove the head-direction effect at inference (Eq. 8).
        background_exempted: keep the background's de-confounded probability (Eq. 9).
        **kwargs: the hyper-parameters of :class:`CausalNormClassifier`.
    """

    def __init__(self, in_features: int, out_features: int, use_tde: bool = True,
                 background_exempted: bool = True, **kwargs):
        super().__init__(in_features, out_features, **kwargs)
        self.use_tde = check_option('use_tde', use_tde)
        self.background_exempted = check_option('background_exempted', background_exempted)
        self._train_features: Optional[Tensor] = None
        self._warned_no_direction = False

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, use_tde={self.use_tde}, '
                f'background_exempted={self.background_exempted}')

    def forward(self, x: Tensor) -> Tensor:
        # Kept for update_head_direction_from_targets(): mmdet's RoI heads pass the box head's
        # loss the targets but not the classification features. Eval forwards keep none.
        self._train_features = x.detach() if self.training else None
        if self.training:
            return self.deconfounded_logits(x)
        return self.inference_scores(x)

    def inference_scores(self, x: Tensor, alpha: Optional[float] = None) -> Tensor:
        """Scores whose softmax is the final class distribution for the configured mode."""
        return self.scores_from_terms(*self.inference_terms(x), alpha)

    def inference_terms(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """The alpha-free part of inference: Eq. (7) logits and the counterfactual logits.

        The counterfactual is None when the mode has no TDE (or no head direction to remove).
        """
        if not self.use_tde:
            return self.deconfounded_logits(x), None
        problem = self.head_direction_problem()
        if problem is not None:
            if not self._warned_no_direction:
                print_log(f'CausalNormPredictor: {problem}; inference runs without TDE',
                          logger='current', level=logging.WARNING)
                self._warned_no_direction = True
            return self.deconfounded_logits(x), None
        return self.logits_and_counterfactual(x)

    def scores_from_terms(self, logits: Tensor, counterfactual: Optional[Tensor],
                          alpha: Optional[float] = None) -> Tensor:
        """Eq. (8) and, if configured, Eq. (9) from the output of :meth:`inference_terms`."""
        if counterfactual is None:
            return logits
        tde_logits = logits - self.resolve_alpha(alpha) * counterfactual
        if not self.background_exempted:
            return tde_logits
        return background_exempted_log_probs(logits, tde_logits)

    def update_head_direction_from_targets(self, labels: Tensor) -> None:
        """Update the head direction from the last training forward's foreground RoIs.

        Foreground means a target label in ``[0, C)``: the background (label C, mmdet's last column)
        is excluded and class 0 is included.
        """
        features, self._train_features = self._train_features, None
        if features is None:
            raise RuntimeError('update_head_direction_from_targets() needs a training forward '
                               'first')
        if features.shape[0] != labels.shape[0]:
            raise ValueError(f'labels has {labels.shape[0]} entries but the last forward saw '
                             f'{features.shape[0]} RoIs')
        foreground = (labels >= 0) & (labels < self.num_classes - 1)
        if not self.update_head_direction(features[foreground]):
            self._log_skipped_update()

    def _log_skipped_update(self) -> None:
        """Warn, and count the skip in the training log (every rank skips the same iteration)."""
        print_log('CausalNormPredictor: non-finite foreground features on at least one rank (or '
                  'a direction that would overflow its dtype); head-direction update skipped '
                  f'(this classifier has skipped {self.skipped_updates})', logger='current',
                  level=logging.WARNING)
        hub = MessageHub.get_current_instance()
        total = (hub.log_scalars[SKIPPED_UPDATES_KEY].current()
                 if SKIPPED_UPDATES_KEY in hub.log_scalars else 0)
        hub.update_scalar(SKIPPED_UPDATES_KEY, total + 1)
