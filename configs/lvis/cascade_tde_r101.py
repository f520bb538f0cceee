# De-confound-TDE (paper Table 4): the baseline with the causal-norm box classifier in all three
# cascade stages, trained with the head direction tracked, tested with background-exempted TDE.
# LVIS v1.0, R101-FPN, 8 GPUs x 2 images: tools/dist_train.sh configs/lvis/cascade_tde_r101.py 8
_base_ = './cascade_baseline_r101.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
