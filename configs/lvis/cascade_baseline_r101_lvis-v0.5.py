# Baseline of the paper's Table 4: Cascade Mask R-CNN R101-FPN, stock linear softmax box heads,
# LVIS v0.5, 20 epochs, 8 GPUs x 2 images.
_base_ = [
    '../_base_/models/cascade-mask-rcnn_r101_fpn_lvis.py', '../_base_/datasets/lvis_v0.5_tde.py',
    '../_base_/schedules/schedule_lvis_20e.py', 'mmdet::_base_/default_runtime.py'
]
model = dict(
    roi_head=dict(
        bbox_head=[
            dict(head, num_classes=_base_.num_classes) for head in _base_.model.roi_head.bbox_head
        ],
        mask_head=dict(num_classes=_base_.num_classes)))
