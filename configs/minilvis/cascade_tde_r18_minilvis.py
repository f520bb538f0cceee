# mini-LVIS, de-confound-TDE: the causal-norm classifier in all three stages, trained with the
# head direction tracked, tested with background-exempted TDE (alpha: see tools/sweep_alpha.py).
_base_ = './cascade_baseline_r18_minilvis.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
