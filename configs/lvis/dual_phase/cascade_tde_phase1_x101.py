# Dual-phase training with the TDE heads on LVIS v1.0, phase I, X101-64x4d-FPN:
# cascade_tde_phase1_r101.py with the ResNeXt backbone.
_base_ = ['./cascade_tde_phase1_r101.py', '../../_base_/models/resnext101_64x4d.py']
model = dict(backbone=_base_.x101_backbone)
