# mmdet's Mask R-CNN R50-FPN with the stock linear box head, keeping up to 300 detections per
# image as LVIS allows (as mmdet's LVIS configs do). The number of classes is set by each config.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
