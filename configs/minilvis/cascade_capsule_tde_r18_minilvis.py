# mini-LVIS, capsule classifier (supplement Eq. 1) with TDE inference: an ablation of the paper's
# Table 4.
_base_ = './cascade_tde_r18_minilvis.py'

model = dict(
    roi_head=dict(bbox_head=[
        dict(head, cls_predictor_cfg=dict(head.cls_predictor_cfg, norm='capsule'))
        for head in _base_.model.roi_head.bbox_head
    ]))
