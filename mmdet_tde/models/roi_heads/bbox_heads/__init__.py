from .causal_norm_predictor import CausalNormPredictor
from .tde_convfc_bbox_head import (TDEBBoxHeadMixin, TDEConvFCBBoxHead, TDEShared2FCBBoxHead,
                                   TDEShared4Conv1FCBBoxHead)

__all__ = [
    'CausalNormPredictor', 'TDEBBoxHeadMixin', 'TDEConvFCBBoxHead', 'TDEShared2FCBBoxHead',
    'TDEShared4Conv1FCBBoxHead'
]
