from .causal_norm_predictor import CausalNormPredictor
from .phase_masked_predictors import PhaseMaskedCausalNormPredictor, PhaseMaskedLinear
from .tde_convfc_bbox_head import (TDEBBoxHeadMixin, TDEConvFCBBoxHead, TDEShared2FCBBoxHead,
                                   TDEShared4Conv1FCBBoxHead)

__all__ = [
    'CausalNormPredictor', 'PhaseMaskedCausalNormPredictor', 'PhaseMaskedLinear',
    'TDEBBoxHeadMixin', 'TDEConvFCBBoxHead', 'TDEShared2FCBBoxHead', 'TDEShared4Conv1FCBBoxHead'
]
