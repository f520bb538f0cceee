# De-confound without TDE, Cascade Mask R-CNN X101-64x4d-FPN, LVIS v0.5:
# cascade_deconfound_r101_lvis-v0.5.py with the ResNeXt backbone. Trained exactly as
# cascade_tde_x101_lvis-v0.5.py; a TDE checkpoint can be tested with it.
_base_ = ['./cascade_deconfound_r101_lvis-v0.5.py', '../_base_/models/resnext101_64x4d.py']
model = dict(backbone=_base_.x101_backbone)
