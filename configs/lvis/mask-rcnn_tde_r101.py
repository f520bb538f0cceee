# De-confound-TDE, Mask R-CNN R101-FPN, LVIS v1.0: mask-rcnn_tde_r50.py with a deeper backbone.
_base_ = './mask-rcnn_tde_r50.py'
model = dict(
    backbone=dict(depth=101,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
