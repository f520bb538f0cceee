# Baseline, Cascade Mask R-CNN X101-64x4d-FPN, LVIS v1.0.
_base_ = ['./cascade_baseline_r101.py', '../_base_/models/resnext101_64x4d.py']
model = dict(backbone=_base_.x101_backbone)
