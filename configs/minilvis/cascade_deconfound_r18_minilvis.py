# mini-LVIS, de-confound without TDE: trained as cascade_tde_r18_minilvis.py, plain softmax over the
# de-confounded logits at test.
_base_ = './cascade_tde_r18_minilvis.py'

model = dict(
    roi_head=dict(bbox_head=[
        dict(head, cls_predictor_cfg=dict(head.cls_predictor_cfg, use_tde=False))
        for head in _base_.model.roi_head.bbox_head
    ]))
