# De-confound without TDE, Cascade Mask R-CNN X101-64x4d-FPN, LVIS v1.0: cascade_deconfound_r101.py
# with the ResNeXt backbone. Trained exactly as cascade_tde_x101.py; a TDE checkpoint can be tested
# with it.
_base_ = ['./cascade_deconfound_r101.py', '../_base_/models/resnext101_64x4d.py']
model = dict(backbone=_base_.x101_backbone)
