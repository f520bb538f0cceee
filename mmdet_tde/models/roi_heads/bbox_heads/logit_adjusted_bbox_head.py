"""Softmax box heads with post-hoc logit adjustment at test time: same layers, same checkpoints.

"Long-tail learning via logit adjustment" (Menon et al., ICLR 2021, arXiv:2007.07314), applied
to the box classification of a trained detector, e.g. one of mmdet's released LVIS models.
"""
from typing import List, Optional, Sequence

from mmengine.config import ConfigDict
from torch import Tensor

from mmdet.models.roi_heads.bbox_heads import (ConvFCBBoxHead, Shared2FCBBoxHead,
                                               Shared4Conv1FCBBoxHead)
from mmdet.registry import MODELS
from mmdet.utils import InstanceList

from mmdet_tde.fileio import load_class_counts
from mmdet_tde.models.layers import log_class_prior, logit_adjusted_scores
from mmdet_tde.models.layers.options import check_number, check_option

from .tde_convfc_bbox_head import (TDEConvFCBBoxHead, TDEShared2FCBBoxHead,
                                   TDEShared4Conv1FCBBoxHead)

LOGIT_ADJUSTMENT_KEYS = ('tau', 'background_exempted', 'class_counts')


class LogitAdjustedBBoxHeadMixin:
    """Adjusts a softmax box head's test scores: ``z_i - tau * log(pi_i)`` for the foreground.

    Only the post-processing changes. Layers, training and so the state dict are the head's
    own: a checkpoint of the plain head loads unchanged and nothing is retrained. mmdet's RoI
    heads give ``predict_by_feat`` of one box head the classification scores of their
    detections: the single head's in ``StandardRoIHead``, the average over the stages in the
    last stage of ``CascadeRoIHead`` and HTC (the earlier stages only refine boxes, with scores
    that stay unadjusted). mmdet applies softmax there, so it is handed
    :func:`logit_adjusted_scores`, whose softmax is the adjusted distribution: adjusted once,
    squashed once.

    Args:
        logit_adjustment: ``tau`` (finite, >= 0; default 1), ``background_exempted`` (default
            True: the background keeps its probability, see :func:`posthoc_logit_adjustment`)
            and ``class_counts``: training instances per class in label order, or
            ``dict(ann_file=..., source='instance_count' | 'annotations', classes=None)`` for
            :func:`~mmdet_tde.fileio.load_class_counts`.
    """

    def __init__(self, *args, logit_adjustment: dict, **kwargs):
        super().__init__(*args, **kwargs)
        name = f'{type(self).__name__}.logit_adjustment'
        unknown = sorted(set(logit_adjustment) - set(LOGIT_ADJUSTMENT_KEYS))
        if unknown or 'class_counts' not in logit_adjustment:
            raise ValueError(f'{name} takes {LOGIT_ADJUSTMENT_KEYS}, class_counts required; got '
                             f'{sorted(logit_adjustment)}')
        self.adjustment_tau = check_number(f'{name}.tau', logit_adjustment.get('tau', 1.0), 0)
        self.adjustment_background_exempted = check_option(
            'background_exempted', logit_adjustment.get('background_exempted', True))
        self._check_softmax_scores()
        counts = logit_adjustment['class_counts']
        if isinstance(counts, dict):
            counts = load_class_counts(**counts)
        if len(counts) != self.num_classes:
            raise ValueError(f'{name}.class_counts has {len(counts)} entries but the head has '
                             f'num_classes={self.num_classes}: one count per class is needed')
        # Not in the state dict, so that checkpoints of the plain head load unchanged.
        self.register_buffer('log_class_prior', log_class_prior(counts), persistent=False)

    def _check_softmax_scores(self) -> None:
        """The adjustment shifts logits under mmdet's softmax over C + 1 columns: refuse heads
        whose scores are something else."""
        name = type(self).__name__
        loss = type(self.loss_cls).__name__
        if not self.with_cls:
            raise ValueError(f'{name} needs with_cls=True: there are no class scores to adjust')
        if self.custom_cls_channels or self.custom_activation:
            raise ValueError(f'{name}: loss_cls {loss} brings its own classifier channels or '
                             'activation (e.g. SeesawLoss: C + 2 columns); logit adjustment '
                             'needs a softmax over C + 1 columns')
        if getattr(self.loss_cls, 'use_sigmoid', False):
            raise ValueError(f'{name}: loss_cls {loss} uses sigmoid scores (use_sigmoid=True); '
                             'logit adjustment needs a softmax over C + 1 columns')
        if getattr(self.fc_cls, 'use_tde', False):
            raise ValueError(f'{name}: its classifier infers with TDE (cls_predictor_cfg.'
                             'use_tde=True), whose scores already remove the head bias; adjusting '
                             'them as well would mix two corrections. Set use_tde=False '
                             '(tools/test.py --tde off) to adjust the de-confounded logits')

    def extra_repr(self) -> str:
        return (f'logit_adjustment: tau={self.adjustment_tau}, '
                f'background_exempted={self.adjustment_background_exempted}')

    def predict_by_feat(self, rois: Sequence[Tensor], cls_scores: Sequence[Tensor],
                        bbox_preds: Sequence[Tensor], batch_img_metas: List[dict],
                        rcnn_test_cfg: Optional[ConfigDict] = None,
                        rescale: bool = False) -> InstanceList:
        """mmdet's post-processing of the scores adjusted with the configured tau."""
        return self.predict_adjusted(self.adjustment_tau, rois, cls_scores, bbox_preds,
                                     batch_img_metas, rcnn_test_cfg, rescale)

    def predict_adjusted(self, tau: float, rois: Sequence[Tensor], cls_scores: Sequence[Tensor],
                         bbox_preds: Sequence[Tensor], batch_img_metas: List[dict],
                         rcnn_test_cfg: Optional[ConfigDict] = None,
                         rescale: bool = False) -> InstanceList:
        """:meth:`predict_by_feat` at another ``tau``: a sweep tries several on one forward."""
        scores = tuple(logit_adjusted_scores(s, self.log_class_prior, tau,
                                             self.adjustment_background_exempted)
                       for s in cls_scores)
        return super().predict_by_feat(rois=rois, cls_scores=scores, bbox_preds=bbox_preds,
                                       batch_img_metas=batch_img_metas,
                                       rcnn_test_cfg=rcnn_test_cfg, rescale=rescale)


@MODELS.register_module()
class LogitAdjustedConvFCBBoxHead(LogitAdjustedBBoxHeadMixin, ConvFCBBoxHead):
    """:class:`ConvFCBBoxHead` with post-hoc logit adjustment at test time."""


@MODELS.register_module()
class LogitAdjustedShared2FCBBoxHead(LogitAdjustedBBoxHeadMixin, Shared2FCBBoxHead):
    """:class:`Shared2FCBBoxHead` (mmdet's Faster / Mask / Cascade R-CNN head) with post-hoc
    logit adjustment at test time."""


@MODELS.register_module()
class LogitAdjustedShared4Conv1FCBBoxHead(LogitAdjustedBBoxHeadMixin, Shared4Conv1FCBBoxHead):
    """:class:`Shared4Conv1FCBBoxHead` with post-hoc logit adjustment at test time."""


@MODELS.register_module()
class LogitAdjustedTDEConvFCBBoxHead(LogitAdjustedBBoxHeadMixin, TDEConvFCBBoxHead):
    """:class:`TDEConvFCBBoxHead` inferring without TDE, its de-confounded logits adjusted."""


@MODELS.register_module()
class LogitAdjustedTDEShared2FCBBoxHead(LogitAdjustedBBoxHeadMixin, TDEShared2FCBBoxHead):
    """:class:`TDEShared2FCBBoxHead` inferring without TDE, its de-confounded logits adjusted:
    logit adjustment against TDE on the same checkpoint."""


@MODELS.register_module()
class LogitAdjustedTDEShared4Conv1FCBBoxHead(LogitAdjustedBBoxHeadMixin,
                                             TDEShared4Conv1FCBBoxHead):
    """:class:`TDEShared4Conv1FCBBoxHead` inferring without TDE, its de-confounded logits
    adjusted."""


# Box head type -> its logit-adjusted version.
LOGIT_ADJUSTED_HEAD_OF = {
    base.__name__: adjusted.__name__
    for adjusted in (LogitAdjustedConvFCBBoxHead, LogitAdjustedShared2FCBBoxHead,
                     LogitAdjustedShared4Conv1FCBBoxHead, LogitAdjustedTDEConvFCBBoxHead,
                     LogitAdjustedTDEShared2FCBBoxHead, LogitAdjustedTDEShared4Conv1FCBBoxHead)
    for base in adjusted.__bases__[1:]
}
