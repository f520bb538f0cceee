# De-confound-TDE (paper Table 4): the baseline with the causal-norm box classifier in all three
# cascade stages, trained with the head direction tracked, tested with background-exempted TDE.
# LVIS v1.0, R101-FPN, 8 GPUs x 2 images: tools/dist_train.sh configs/lvis/cascade_tde_r101.py 8
_base_ = ['./cascade_baseline_r101.py', '../_base_/models/tde_cascade_bbox_heads.py']
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, num_classes=_base_.num_classes) for head in _base_.tde_cascade_bbox_heads
    ]))
