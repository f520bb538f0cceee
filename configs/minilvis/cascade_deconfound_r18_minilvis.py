# mini-LVIS, de-confound without TDE: trained as cascade_tde_r18_minilvis.py, plain softmax at test.
_base_ = './cascade_tde_r18_minilvis.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head, use_tde=False)))
