# Baseline, Cascade Mask R-CNN X101-64x4d-FPN, LVIS v0.5.
_base_ = ['./cascade_baseline_r101_lvis-v0.5.py', '../_base_/models/resnext101_64x4d.py']
model = dict(backbone=_base_.x101_backbone)
