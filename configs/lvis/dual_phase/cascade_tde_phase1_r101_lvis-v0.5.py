# Dual-phase training with the TDE heads on LVIS v0.5, phase I: as cascade_tde_phase1_r101.py
# (see there) with LVIS v0.5's 1230 categories and files.
_base_ = ['./cascade_phase1_r101_lvis-v0.5.py', '../../_base_/models/tde_cascade_bbox_heads.py']
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, num_classes=_base_.num_classes,
             cls_predictor_cfg=dict(head.cls_predictor_cfg, type='PhaseMaskedCausalNormPredictor',
                                    split_file=_base_.dual_phase_split))
        for head in _base_.tde_cascade_bbox_heads
    ]))
