"""Box heads with the causal-norm classifier: drop-in replacements for mmdet's ConvFC heads."""
from mmdet.models.roi_heads.bbox_heads import (ConvFCBBoxHead, Shared2FCBBoxHead,
                                               Shared4Conv1FCBBoxHead)
from mmdet.registry import MODELS

from .causal_norm_predictor import CausalNormPredictor


class TDEBBoxHeadMixin:
    """Makes a ConvFC box head train the head direction and infer with TDE.

    Works inside mmdet's RoI heads that compute the box loss with :meth:`loss` on the RoIs of the
    head's last forward: ``StandardRoIHead``, ``CascadeRoIHead``, ``HybridTaskCascadeRoIHead``
    (through ``loss_and_target``) and ``PISARoIHead`` (which calls ``loss`` directly). The head
    direction is updated from the targets they pass, in training mode only. The predictor's
    hyper-parameters default to its signature's, the paper's LVIS values.
    """

    def __init__(self, *args, cls_predictor_cfg=dict(type='CausalNormPredictor'), init_cfg=None,
                 **kwargs):
        # mmdet's BBoxHead first builds fc_cls for the flattened RoI feature and ConvFCBBoxHead
        # rebuilds it for the last cls layer: building the predictor only once the real input
        # size is known keeps num_heads from being checked against the first.
        super().__init__(*args, cls_predictor_cfg=dict(type='Linear'), init_cfg=init_cfg,
                         **kwargs)
        self._check_loss_cls()
        placeholder = getattr(self, 'fc_cls', None)
        if placeholder is None:
            raise ValueError(f'{type(self).__name__} needs with_cls=True')
        self.cls_predictor_cfg = cls_predictor_cfg
        self.fc_cls = self._build_predictor(cls_predictor_cfg, placeholder.in_features,
                                            placeholder.out_features)
        if init_cfg is None:
            # The classifier keeps its own initialisation (uniform in +-1/sqrt(D), as the authors
            # did) instead of mmdet's Normal(std=0.01) for linear classifiers.
            self.init_cfg = [cfg for cfg in self.init_cfg
                             if cfg.get('override') != dict(name='fc_cls')]

    def _check_loss_cls(self) -> None:
        """Eq. (7)-(9) are a softmax over C + 1 columns, background last: refuse other losses."""
        name = type(self.loss_cls).__name__
        if self.custom_cls_channels or self.custom_activation:
            raise ValueError(f'{type(self).__name__}: loss_cls {name} brings its own classifier '
                             'channels or activation (e.g. SeesawLoss: C + 2 columns); the TDE '
                             'classifier needs a softmax cross-entropy over C + 1 columns')
        if getattr(self.loss_cls, 'use_sigmoid', False):
            raise ValueError(f'{type(self).__name__}: loss_cls {name} uses sigmoid scores '
                             '(use_sigmoid=True, e.g. EQLV2Loss); the TDE classifier and its '
                             'background-exempted inference (Eq. 9) need softmax over C + 1 '
                             'columns')

    def _build_predictor(self, cfg, in_features: int, out_features: int):
        cfg = dict(cfg, in_features=in_features, out_features=out_features)
        try:
            predictor = MODELS.build(cfg)
        except ValueError as err:
            raise ValueError(f'{type(self).__name__}.cls_predictor_cfg: {err} (fc_cls takes the '
                             f'output of the last shared/cls layer: {in_features} '
                             'channels)') from err
        if not isinstance(predictor, CausalNormPredictor):
            raise TypeError(f'{type(self).__name__} needs cls_predictor_cfg.type='
                            f"'CausalNormPredictor', got {cfg.get('type')!r}")
        return predictor

    def loss(self, cls_score, bbox_pred, rois, labels, *args, **kwargs) -> dict:
        losses = super().loss(cls_score, bbox_pred, rois, labels, *args, **kwargs)
        # Neither a loss in eval mode (validation-loss hooks) nor one without RoIs moves the
        # direction: PISA's ScoreHLRSampler scores negative RoIs with loss(..., rois=None), on some
        # ranks only, which would also unbalance the all-reduce of the update.
        if self.fc_cls.training and rois is not None:
            self.fc_cls.update_head_direction_from_targets(labels)
        return losses


@MODELS.register_module()
class TDEConvFCBBoxHead(TDEBBoxHeadMixin, ConvFCBBoxHead):
    """:class:`ConvFCBBoxHead` with the causal-norm classifier."""


@MODELS.register_module()
class TDEShared2FCBBoxHead(TDEBBoxHeadMixin, Shared2FCBBoxHead):
    """:class:`Shared2FCBBoxHead` with the causal-norm classifier (the paper's LVIS head)."""


@MODELS.register_module()
class TDEShared4Conv1FCBBoxHead(TDEBBoxHeadMixin, Shared4Conv1FCBBoxHead):
    """:class:`Shared4Conv1FCBBoxHead` with the causal-norm classifier."""
