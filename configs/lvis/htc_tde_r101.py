# De-confound-TDE in all three box stages of HTC R101-FPN (no semantic branch), LVIS v1.0, the
# detector the authors' LVIS code trained. HTC calls the box heads as Cascade R-CNN does: the
# head direction is tracked in loss_and_target and TDE acts in every stage's scores.
_base_ = ['./htc_baseline_r101.py', '../_base_/models/tde_cascade_bbox_heads.py']
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, num_classes=_base_.num_classes) for head in _base_.tde_cascade_bbox_heads
    ]))
