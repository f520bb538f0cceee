# Cascade Mask R-CNN R101-FPN with the stock linear box heads (class-agnostic regression), keeping
# up to 300 detections per image as LVIS allows. The number of classes is set by each config.
_base_ = 'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py'
model = dict(
    backbone=dict(depth=101,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
