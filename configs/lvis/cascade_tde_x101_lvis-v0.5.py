# De-confound-TDE, Cascade Mask R-CNN X101-64x4d-FPN, LVIS v0.5: cascade_tde_r101_lvis-v0.5.py
# with the ResNeXt backbone, 8 GPUs x 2 images.
_base_ = ['./cascade_tde_r101_lvis-v0.5.py', '../_base_/models/resnext101_64x4d.py']
model = dict(backbone=_base_.x101_backbone)
