# Baseline, Mask R-CNN R101-FPN, LVIS v1.0: mask-rcnn_baseline_r50.py with a deeper backbone.
_base_ = './mask-rcnn_baseline_r50.py'
model = dict(
    backbone=dict(depth=101,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
