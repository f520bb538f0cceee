# De-confound-TDE in all three box stages of HTC R101-FPN (no semantic branch), LVIS v1.0, the
# detector the authors' LVIS code trained. HTC calls the box heads as Cascade R-CNN does: the
# head direction is tracked in loss_and_target and TDE acts in every stage's scores.
_base_ = './htc_baseline_r101.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
