# mini-LVIS, capsule classifier (supplement Eq. 1) with TDE inference: an ablation of the paper's
# Table 4.
_base_ = './cascade_tde_r18_minilvis.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head, norm='capsule')))
