# Baseline for the TDE Mask R-CNN: mmdet's Mask R-CNN R50-FPN, stock linear softmax box head,
# trained with this project's LVIS v1.0 recipe (plain sampling, single scale, 20 epochs, 8 GPUs x
# 2 images) so that only the box classifier differs from mask-rcnn_tde_r50.py.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_lvis.py', '../_base_/datasets/lvis_v1_tde.py',
    '../_base_/schedules/schedule_lvis_20e.py', 'mmdet::_base_/default_runtime.py'
]
model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=_base_.num_classes),
        mask_head=dict(num_classes=_base_.num_classes)))
