"""Box heads with the causal-norm classifier: drop-in replacements for mmdet's ConvFC heads."""
import torch

from mmdet.models.roi_heads.bbox_heads import (ConvFCBBoxHead, Shared2FCBBoxHead,
                                               Shared4Conv1FCBBoxHead)
from mmdet.registry import MODELS

from .causal_norm_predictor import CausalNormPredictor

DEFAULT_PREDICTOR = dict(
    type='CausalNormPredictor',
    num_heads=2,
    tau=16.0,
    gamma=1 / 32,
    alpha=1.5,
    momentum=0.9,
    norm='deconfound',
    use_tde=True,
    background_exempted=True)


class TDEBBoxHeadMixin:
    """Makes a ConvFC box head train the head direction and infer with TDE.

    Works inside mmdet's stock ``StandardRoIHead`` and ``CascadeRoIHead``: the head direction is
    updated from the targets the RoI head already passes to :meth:`loss_and_target`.
    """

    def __init__(self, *args, cls_predictor_cfg=DEFAULT_PREDICTOR, init_cfg=None, **kwargs):
        super().__init__(*args, cls_predictor_cfg=cls_predictor_cfg, init_cfg=init_cfg, **kwargs)
        if not isinstance(getattr(self, 'fc_cls', None), CausalNormPredictor):
            raise TypeError(f'{type(self).__name__} needs cls_predictor_cfg.type='
                            f"'CausalNormPredictor', got {cls_predictor_cfg.get('type')!r}")
        if init_cfg is None:
            # The classifier keeps its own initialisation (uniform in +-1/sqrt(D), as the authors
            # did) instead of mmdet's Normal(std=0.01) for linear classifiers.
            self.init_cfg = [cfg for cfg in self.init_cfg
                             if cfg.get('override') != dict(name='fc_cls')]

    def loss_and_target(self, cls_score, bbox_pred, rois, sampling_results, rcnn_train_cfg,
                        concat=True, reduction_override=None) -> dict:
        results = super().loss_and_target(cls_score, bbox_pred, rois, sampling_results,
                                          rcnn_train_cfg, concat, reduction_override)
        labels = results['bbox_targets'][0]
        if not concat:
            labels = torch.cat(labels)
        self.fc_cls.update_head_direction_from_targets(labels)
        return results


@MODELS.register_module()
class TDEConvFCBBoxHead(TDEBBoxHeadMixin, ConvFCBBoxHead):
    """:class:`ConvFCBBoxHead` with the causal-norm classifier."""


@MODELS.register_module()
class TDEShared2FCBBoxHead(TDEBBoxHeadMixin, Shared2FCBBoxHead):
    """:class:`Shared2FCBBoxHead` with the causal-norm classifier (the paper's LVIS head)."""


@MODELS.register_module()
class TDEShared4Conv1FCBBoxHead(TDEBBoxHeadMixin, Shared4Conv1FCBBoxHead):
    """:class:`Shared4Conv1FCBBoxHead` with the causal-norm classifier."""
