# Dual-phase training with the TDE heads on LVIS v0.5, phase I: as cascade_tde_phase1_r101.py
# (see there) with LVIS v0.5's 1230 categories and files.
_base_ = './cascade_phase1_r101_lvis-v0.5.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

model = dict(
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head,
                                           type='PhaseMaskedCausalNormPredictor',
                                           split_file=_base_.dual_phase_split)))
