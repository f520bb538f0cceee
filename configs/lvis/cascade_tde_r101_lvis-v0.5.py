# De-confound-TDE (paper Table 4): the baseline with the causal-norm box classifier in all three
# cascade stages, trained with the head direction tracked, tested with background-exempted TDE.
# LVIS v0.5, R101-FPN, 8 GPUs x 2 images.
_base_ = './cascade_baseline_r101_lvis-v0.5.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
