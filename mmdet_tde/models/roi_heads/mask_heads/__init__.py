from mmdet.registry import MODELS

from mmdet_tde.models.layers import DeconfoundConv2d

# Registered so that a mask head takes it as ``predictor_cfg=dict(type='DeconfoundConv2d', ...)``.
MODELS.register_module(module=DeconfoundConv2d)

__all__ = ['DeconfoundConv2d']
