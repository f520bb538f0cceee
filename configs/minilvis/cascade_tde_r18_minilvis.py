# mini-LVIS, de-confound-TDE: the causal-norm classifier (configs/_base_/models/tde_predictor.py,
# the paper's LVIS hyper-parameters) in all three cascade stages, trained with the head direction
# tracked, tested with background-exempted TDE (alpha: see tools/sweep_alpha.py).
_base_ = ['./cascade_baseline_r18_minilvis.py', '../_base_/models/tde_predictor.py']

model = dict(
    roi_head=dict(bbox_head=[
        dict(head, type='TDEShared2FCBBoxHead', cls_predictor_cfg=_base_.tde_predictor)
        for head in _base_.model.roi_head.bbox_head
    ]))
