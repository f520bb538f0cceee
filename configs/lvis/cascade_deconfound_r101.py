# De-confound without TDE (paper Table 4): trained exactly as cascade_tde_r101.py; only inference
# differs (plain softmax over the de-confounded logits). A TDE checkpoint can be tested with it.
_base_ = './cascade_tde_r101.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head, use_tde=False)))
