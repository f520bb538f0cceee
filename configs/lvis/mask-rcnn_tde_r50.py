# De-confound-TDE in Mask R-CNN R50-FPN (mmdet's StandardRoIHead, one box head), LVIS v1.0,
# 8 GPUs x 2 images: tools/dist_train.sh configs/lvis/mask-rcnn_tde_r50.py 8
# Box regression stays class-specific as in mmdet's Mask R-CNN: with one stage, the box refined
# for a detection's label does not depend on alpha.
_base_ = './mask-rcnn_baseline_r50.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
