# De-confound-TDE in Mask R-CNN R50-FPN (mmdet's StandardRoIHead, one box head), LVIS v1.0,
# 8 GPUs x 2 images: tools/dist_train.sh configs/lvis/mask-rcnn_tde_r50.py 8
_base_ = ['./mask-rcnn_baseline_r50.py', '../_base_/models/tde_mask-rcnn_bbox_head.py']
model = dict(
    roi_head=dict(bbox_head=dict(
        _base_.tde_mask_rcnn_bbox_head, _delete_=True, num_classes=_base_.num_classes)))
