# De-confound-TDE (paper Table 4): the baseline with the causal-norm box classifier in all three
# cascade stages, trained with the head direction tracked, tested with background-exempted TDE.
# LVIS v1.0, X101-64x4d-FPN, 8 GPUs x 2 images.
_base_ = ['./cascade_baseline_x101.py', '../_base_/models/tde_predictor.py']
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, type='TDEShared2FCBBoxHead', cls_predictor_cfg=_base_.tde_predictor)
        for head in _base_.model.roi_head.bbox_head
    ]))
