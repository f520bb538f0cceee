# De-confound-TDE (paper Table 4): the baseline with the causal-norm box classifier in all three
# cascade stages, trained with the head direction tracked, tested with background-exempted TDE.
# LVIS v0.5, R101-FPN, 8 GPUs x 2 images.
_base_ = ['./cascade_baseline_r101_lvis-v0.5.py', '../_base_/models/tde_cascade_bbox_heads.py']
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, num_classes=_base_.num_classes) for head in _base_.tde_cascade_bbox_heads
    ]))
