# De-confound without TDE (paper Table 4): trained exactly as cascade_tde_r101_lvis-v0.5.py; only
# inference differs (plain softmax over the de-confounded logits). A TDE checkpoint can be tested
# with it.
_base_ = './cascade_tde_r101_lvis-v0.5.py'
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, cls_predictor_cfg=dict(head.cls_predictor_cfg, use_tde=False))
        for head in _base_.model.roi_head.bbox_head
    ]))
