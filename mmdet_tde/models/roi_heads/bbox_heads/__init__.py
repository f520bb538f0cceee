from .causal_norm_predictor import CausalNormPredictor
from .logit_adjusted_bbox_head import (LOGIT_ADJUSTED_HEAD_OF, LogitAdjustedBBoxHeadMixin,
                                       LogitAdjustedConvFCBBoxHead,
                                       LogitAdjustedShared2FCBBoxHead,
                                       LogitAdjustedShared4Conv1FCBBoxHead,
                                       LogitAdjustedTDEConvFCBBoxHead,
                                       LogitAdjustedTDEShared2FCBBoxHead,
                                       LogitAdjustedTDEShared4Conv1FCBBoxHead)
from .phase_masked_predictors import PhaseMaskedCausalNormPredictor, PhaseMaskedLinear
from .tde_convfc_bbox_head import (TDEBBoxHeadMixin, TDEConvFCBBoxHead, TDEShared2FCBBoxHead,
                                   TDEShared4Conv1FCBBoxHead)

__all__ = [
    'CausalNormPredictor', 'LOGIT_ADJUSTED_HEAD_OF', 'LogitAdjustedBBoxHeadMixin',
    'LogitAdjustedConvFCBBoxHead', 'LogitAdjustedShared2FCBBoxHead',
    'LogitAdjustedShared4Conv1FCBBoxHead', 'LogitAdjustedTDEConvFCBBoxHead',
    'LogitAdjustedTDEShared2FCBBoxHead', 'LogitAdjustedTDEShared4Conv1FCBBoxHead',
    'PhaseMaskedCausalNormPredictor', 'PhaseMaskedLinear', 'TDEBBoxHeadMixin',
    'TDEConvFCBBoxHead', 'TDEShared2FCBBoxHead', 'TDEShared4Conv1FCBBoxHead'
]
