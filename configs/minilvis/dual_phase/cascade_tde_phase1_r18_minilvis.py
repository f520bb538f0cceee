# mini-LVIS, dual-phase training with the TDE heads, phase I: cascade_phase1_r18_minilvis.py with
# the causal-norm classifier (phase-II columns masked) in every stage; the head direction is
# tracked from the phase-I foreground.
_base_ = './cascade_phase1_r18_minilvis.py'
from mmdet_tde.engine import tde_bbox_heads  # noqa: E402

model = dict(
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head,
                                           type='PhaseMaskedCausalNormPredictor',
                                           split_file=_base_.dual_phase_split)))
